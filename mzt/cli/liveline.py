"""The live status line of `mzt run` on a terminal: one line kept below the timestamped ones.

Every timestamped line is written as: clear the status line, the line, the status line
again, in one write, so the status line is always the last line on the screen and never
mixes with the others. It is redrawn at most once a second between events and cleared for
good when the run ends.
"""

from __future__ import annotations

import math
import os
import shutil
import time
import unicodedata
from typing import TYPE_CHECKING, TextIO

from mzt.api import sanitize_terminal
from mzt.cli import console

if TYPE_CHECKING:
    from collections.abc import Callable

    from mzt.api import Progress

CLEAR = "\r\x1b[K"
REDRAW_EVERY = 1.0
FRESH_FOR = 0.1  # a status line rendered this recently is good enough to draw again
_REASON_WIDTH = 40


def wanted(stream: TextIO) -> bool:
    """A live line only on a terminal that can move its cursor back, and not with NO_COLOR.

    NO_COLOR asks for plain output: a line redrawn with cursor controls every second is
    as much in the way of a screen reader or a terminal recorder as colour is.
    """
    isatty = getattr(stream, "isatty", None)
    if "NO_COLOR" in os.environ or os.environ.get("TERM", "") == "dumb":
        return False
    return bool(isatty and isatty())


def duration(seconds: float) -> str:
    """``4.2s``, ``3m07s``, ``2h05m``."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    return _whole(seconds)


def _whole(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    if minutes == 0:
        return f"{secs}s"
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def render(progress: Progress, *, width: int, color: bool, fancy: bool = True) -> str:
    """The status line, at most ``width - 1`` columns wide (the last column would wrap).

    ``fancy`` allows a middle dot and an em dash; without it the line is plain ASCII.
    """
    dot, dash, cut = (" \u00b7 ", "\u2014", "\u2026") if fancy else (" | ", "-", "~")
    parts = _parts(progress, dash, cut, why=True)
    if sum(_columns(text) for text, _ in parts) + _columns(dot) * (len(parts) - 1) >= width:
        # The wait's reason is the first thing to go: the counts and times matter more.
        parts = _parts(progress, dash, cut, why=False)
    room = max(0, width - 1)
    shown: list[str] = []
    for i, (text, name) in enumerate(parts):
        if i:
            if room < _columns(dot) + 1:
                break
            shown.append(dot)
            room -= _columns(dot)
        fitted = _fit(text, room, cut)
        room -= _columns(fitted)
        shown.append(console.paint(fitted, name) if color and name and fitted else fitted)
        if fitted != text:
            break
    return "".join(shown)


def _parts(progress: Progress, dash: str, cut: str, *, why: bool) -> list[tuple[str, str | None]]:
    """The line's pieces, each with its style."""
    parts: list[tuple[str, str | None]] = [(f"{progress.done}/{progress.total} done", "bold")]
    if progress.failed:
        parts.append((f"{progress.failed} failed", "red"))
    parts.append((f"{progress.running} running", "blue" if progress.running else None))
    if progress.waiting:
        parts.append((f"{progress.waiting} waiting{_why(progress, cut, why)}", "yellow"))
    if progress.retries:
        parts.append((f"{progress.retries} retr{'y' if progress.retries == 1 else 'ies'}", None))
    parts.append((f"elapsed {_whole(progress.elapsed)}", "dim"))
    if progress.done < progress.total:
        parts.append((f"ETA {_eta(progress.eta, dash)}", "dim"))
    if progress.cost > 0:
        parts.append((f"${progress.cost:.2f}", None))
    return parts


def _eta(seconds: float | None, dash: str) -> str:
    if seconds is None:
        return dash
    return "<1s" if seconds < 1 else _whole(seconds)


_WAIT_KINDS = {
    "rate_limited": "rate limited",
    "completion": "completion",
    "circuit_open": "circuit open",
}


def _why(progress: Progress, cut: str, reason: bool) -> str:
    wait = progress.next_wait
    if wait is None:
        return ""
    what = _WAIT_KINDS.get(wait.kind, wait.kind)
    text = f": sheet {wait.sheet} {what} in {_whole(math.ceil(wait.seconds_left))}"
    if not reason or not wait.reason:
        return text
    return f"{text} ({_fit(' '.join(sanitize_terminal(wait.reason).split()), _REASON_WIDTH, cut)})"


def _columns(text: str) -> int:
    if text.isascii():
        return len(text)
    return sum(_char_columns(c) for c in text)


def _char_columns(char: str) -> int:
    if unicodedata.combining(char):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def _fit(text: str, room: int, cut: str) -> str:
    """``text`` cut to ``room`` columns, ending in ``cut`` (one column) when cut."""
    if _columns(text) <= room:
        return text
    out, used = [], 0
    for char in text:
        if used + _char_columns(char) > room - 1:
            break
        out.append(char)
        used += _char_columns(char)
    return "".join(out) + cut if room else ""


class LiveLine:
    """Keeps the status line under the stream's other lines (the caller holds a lock)."""

    def __init__(self, stream: TextIO, snapshot: Callable[[], Progress]) -> None:
        self.stream = stream
        self.snapshot = snapshot
        self.color = console.color_enabled(stream)
        self.fancy = _can_encode(stream, "\u00b7\u2014\u2026")
        self.shown = False
        self.closed = False
        self.drawn_at = 0.0
        self.text = ""
        self.rendered_at = -FRESH_FOR
        self.stale = False  # drawn again without a new render since the last one

    def status(self) -> str:
        width = shutil.get_terminal_size().columns
        return render(self.snapshot(), width=width, color=self.color, fancy=self.fancy)

    def around(self, line: str) -> str:
        """What to write for one more line above the status line."""
        if self.closed:
            return line
        now = time.monotonic()
        if now - self.rendered_at >= FRESH_FOR:
            self.text, self.rendered_at, self.stale = self.status(), now, False
        else:
            # A burst of lines shares one render; the next tick catches up.
            self.stale = True
        self.drawn_at = now
        self.shown = True
        return f"{CLEAR}{line}{self.text}"

    def due(self) -> str:
        """The redraw a tick asks for, or "" when the line shown is recent enough."""
        now = time.monotonic()
        behind = self.stale and now - self.rendered_at >= FRESH_FOR
        if self.closed or not (behind or now - self.drawn_at >= REDRAW_EVERY):
            return ""
        return self.around("")

    def close(self) -> str:
        """What erases the status line for good."""
        was_shown, self.shown, self.closed = self.shown, False, True
        return CLEAR if was_shown else ""


def _can_encode(stream: TextIO, text: str) -> bool:
    try:
        text.encode(getattr(stream, "encoding", None) or "ascii")
    except (UnicodeEncodeError, LookupError):
        return False
    return True
