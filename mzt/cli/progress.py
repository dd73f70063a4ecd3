"""How a run's progress reaches a terminal or a log: one timestamped line per event."""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

from mzt.api import sanitize_terminal
from mzt.cli import console

_STATUS_COLOR = {"completed": "green", "failed": "red", "skipped": "yellow", "cancelled": "yellow"}


class LineReporter:
    """One line per event, with a timestamp; colour only on a terminal.

    A reader that goes away (`mzt run score.yaml | head -1`) changes nothing about the
    run: the lines stop, the job goes on to its own end and its exit code.
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.lock = threading.Lock()

    def _line(self, text: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        with self.lock:
            try:
                self.stream.write(f"{stamp} {sanitize_terminal(text)}\n")
                self.stream.flush()
            except BrokenPipeError:
                console.silence(self.stream)

    def _style(self, text: str, name: str) -> str:
        return console.style(text, name, self.stream)

    def run_started(self, job_id: str, total: int, workspace: str, how: str) -> None:
        sheets = console.counted(total, "sheet")
        self._line(f"{self._style(job_id, 'bold')}: {how}, {sheets}, workspace {workspace}")

    def sheet_started(self, num: int, attempt: int, instrument: str, mode: str) -> None:
        extra = f", {mode}" if mode != "normal" else ""
        self._line(f"sheet {num}: attempt {attempt} on {instrument}{extra}")

    def sheet_finished(self, num: int, status: str, detail: str) -> None:
        shown = self._style(status, _STATUS_COLOR.get(status, "blue"))
        self._line(f"sheet {num}: {shown}" + (f" ({detail})" if detail else ""))

    def sheet_waiting(self, num: int, kind: str, seconds: float, reason: str) -> None:
        what = {
            "retry": "retry",
            "completion": "completion attempt",
            "rate_limited": "rate limited; next try",
        }.get(kind, kind)
        self._line(f"sheet {num}: {what} in {_duration(seconds)} ({reason})")

    def note(self, message: str) -> None:
        self._line(message)

    def run_finished(self, status: str, completed: int, total: int, seconds: float) -> None:
        shown = self._style(status, _STATUS_COLOR.get(status, "blue"))
        self._line(f"job {shown}: {completed}/{total} sheets completed in {_duration(seconds)}")


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
