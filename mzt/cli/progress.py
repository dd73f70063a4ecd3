"""How a run's progress reaches a terminal or a log: one timestamped line per event.

On a terminal a live status line (`mzt.cli.liveline`) stays below the lines. Text that
comes from outside mzt (sheet output in details and reasons, messages, names, paths) is
sanitised piece by piece before mzt styles it, so no escape sequence of a child reaches
the terminal while mzt's own colours do.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

from mzt.api import Tally, sanitize_terminal
from mzt.cli import console
from mzt.cli.liveline import LiveLine, duration

_STATUS_COLOR = {"completed": "green", "failed": "red", "skipped": "yellow", "cancelled": "yellow"}


class LineReporter:
    """One line per event, with a timestamp; colour only on a terminal.

    A reader that goes away (`mzt run score.yaml | head -1`) changes nothing about the
    run: the lines stop, the job goes on to its own end and its exit code.
    """

    def __init__(self, stream: TextIO | None = None, *, live: bool = False) -> None:
        self.stream = stream or sys.stdout
        self.lock = threading.Lock()
        self.tally = Tally()
        self.live = LiveLine(self.stream, self.tally.snapshot) if live else None

    def _line(self, text: str) -> None:
        line = f"{time.strftime('%H:%M:%S')} {text}\n"
        with self.lock:
            self._write(self.live.around(line) if self.live else line)

    def _write(self, text: str) -> None:
        if not text:
            return
        try:
            self.stream.write(text)
            self.stream.flush()
        except BrokenPipeError:
            console.silence(self.stream)

    def _style(self, text: str, name: str) -> str:
        return console.style(text, name, self.stream)

    def tick(self) -> None:
        if self.live:
            with self.lock:
                self._write(self.live.due())

    def close(self) -> None:
        """Erase the live line (safe to call more than once)."""
        if self.live:
            with self.lock:
                self._write(self.live.close())

    def spent(self, usd: float) -> None:
        self.tally.spent(usd)

    def run_started(
        self, job_id: str, total: int, workspace: str, how: str, done: int, concurrency: int
    ) -> None:
        self.tally.run_started(total, done, concurrency)
        sheets = console.counted(total, "sheet")
        name = self._style(_safe(job_id), "bold")
        self._line(f"{name}: {_safe(how)}, {sheets}, workspace {_safe(workspace)}")

    def sheet_started(self, num: int, attempt: int, instrument: str, mode: str) -> None:
        self.tally.sheet_started(num)
        extra = f", {_safe(mode)}" if mode != "normal" else ""
        self._line(f"sheet {num}: attempt {attempt} on {_safe(instrument)}{extra}")

    def sheet_finished(self, num: int, status: str, detail: str) -> None:
        self.tally.sheet_finished(num, status)
        shown = self._style(_safe(status), _STATUS_COLOR.get(status, "blue"))
        self._line(f"sheet {num}: {shown}" + (f" ({_safe(detail)})" if detail else ""))

    def sheet_waiting(self, num: int, kind: str, seconds: float, reason: str) -> None:
        self.tally.sheet_waiting(num, kind, seconds, reason)
        if kind in ("slot", "pressure"):  # the reason says it all: "waiting for a cli slot: …"
            self._line(f"sheet {num}: {_safe(reason)}")
            return
        what = {
            "retry": "retry",
            "completion": "completion attempt",
            "rate_limited": "rate limited; next try",
            "circuit_open": "circuit open; next try",
        }.get(kind, kind)
        when = f"in {duration(seconds)}" if seconds > 0 else "at once"
        self._line(f"sheet {num}: {_safe(what)} {when} ({_safe(reason)})")

    def note(self, message: str) -> None:
        self._line(_safe(message))

    def run_finished(self, status: str, completed: int, total: int, seconds: float) -> None:
        self.close()  # the summary is the last word: no status line under it
        shown = self._style(_safe(status), _STATUS_COLOR.get(status, "blue"))
        self._line(f"job {shown}: {completed}/{total} sheets completed in {duration(seconds)}")


def _safe(text: str) -> str:
    return sanitize_terminal(text)
