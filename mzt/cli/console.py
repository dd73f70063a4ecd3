"""Terminal output: the one place that decides colour, streams and JSON formatting."""

from __future__ import annotations

import os
import sys

# Not `typing`: importing it is a visible share of `mzt status`'s whole answer.
TYPE_CHECKING = False

if TYPE_CHECKING:
    from typing import Any, TextIO

_STYLES = {"red": "31", "green": "32", "yellow": "33", "blue": "34", "dim": "2", "bold": "1"}


def counted(count: int, noun: str) -> str:
    """``1 sheet``, ``3 sheets``: a count with its noun in the number it needs."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def color_enabled(stream: TextIO) -> bool:
    """Colour only on a terminal that can show it, never when NO_COLOR is set (to anything)."""
    if "NO_COLOR" in os.environ or os.environ.get("TERM") == "dumb":
        return False
    return hasattr(stream, "isatty") and stream.isatty()


def style(text: str, name: str, stream: TextIO | None = None) -> str:
    return paint(text, name) if color_enabled(stream or sys.stdout) else text


def paint(text: str, name: str) -> str:
    """``text`` in a style, whatever the stream (the caller has decided colour is wanted)."""
    return f"\033[{_STYLES[name]}m{text}\033[0m"


def out(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def err(text: str) -> None:
    sys.stderr.write(text + "\n")


def emit_json(document: dict[str, Any]) -> None:
    """One JSON value on stdout."""
    import json  # here: text answers never need it

    sys.stdout.write(json.dumps(document, ensure_ascii=False, default=str) + "\n")


def silence(stream: TextIO) -> None:
    """Send whatever is still written to ``stream`` to /dev/null (its reader went away).

    Pending buffered text then flushes without an error at exit, and nothing more
    reaches the closed pipe.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, stream.fileno())
    finally:
        os.close(devnull)


def table(rows: list[list[str]], headers: list[str]) -> list[str]:
    """Rows as aligned text columns (the last column is not padded)."""
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    lines = []
    for row in [headers, *rows]:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])] + [row[-1]]
        lines.append("  ".join(cells).rstrip())
    return lines
