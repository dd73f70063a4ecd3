"""Small text renderings shared by the status views: times, durations, money, bars, lists.

No click here, and not `typing` either: :mod:`mzt.cli.fast` prints `mzt status` with
these before either is imported.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

from mzt.api import parse_moment
from mzt.cli import console

TYPE_CHECKING = False  # not `typing`: `mzt status` with no jobs imports no typing
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

LISTED_NUMS = 12  # sheet numbers named in one compact line before "+N more"
STATUS_COLORS = {
    "completed": "green",
    "failed": "red",
    "corrupt": "red",
    "running": "blue",
    "in_progress": "blue",
    "paused": "yellow",
    "cancelled": "yellow",
    "interrupted": "yellow",
}


def clean(text: str | None, limit: int | None = None) -> str:
    """Captured text made safe for a terminal, on one line, cut to ``limit`` characters."""
    from mzt.api import sanitize_terminal

    if not text:
        return ""
    line = " ".join(sanitize_terminal(text).split())
    if limit is not None and len(line) > limit:
        line = line[: limit - 1] + "…"
    return line


def stamp(text: str | None) -> str:
    """``2026-05-01 10:00:00Z`` from an ISO time (``-`` when unknown)."""
    moment = parse_moment(text)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ") if moment else "-"


def age(text: str | None, now: datetime | None = None) -> str:
    """``12s ago``, ``3h ago``, ``2d ago``."""
    moment = parse_moment(text)
    if moment is None:
        return "-"
    return duration(max(0.0, ((now or datetime.now(UTC)) - moment).total_seconds())) + " ago"


def duration(seconds: float | None) -> str:
    """``0.4s``, ``12s``, ``3m04s``, ``2h05m``, ``3d04h``."""
    if seconds is None:
        return "-"
    if seconds < 10:
        return f"{seconds:.1f}s"
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    if whole < 86400:
        return f"{whole // 3600}h{whole % 3600 // 60:02d}m"
    return f"{whole // 86400}d{whole % 86400 // 3600:02d}h"


def money(usd: float | None) -> str:
    if not usd:
        return "$0"
    return f"${usd:.4f}" if usd < 1 else f"${usd:.2f}"


def bar(done: int, total: int, width: int = 30) -> str:
    encoding = (getattr(sys.stdout, "encoding", None) or "").lower()
    full, empty = ("█", "░") if encoding.startswith("utf") else ("#", "-")
    filled = round(width * done / total) if total else 0
    return "[" + full * filled + empty * (width - filled) + "]"


def num_ranges(nums: list[int], limit: int = LISTED_NUMS) -> str:
    """``1-3,7`` for a sorted list, cut after ``limit`` items."""
    if not nums:
        return ""
    parts: list[str] = []
    start = prev = nums[0]
    for n in [*nums[1:], None]:
        if n is not None and n == prev + 1:
            prev = n
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if n is not None:
            start = prev = n
    shown = ",".join(parts[:limit])
    return shown + (f" (+{len(parts) - limit} more)" if len(parts) > limit else "")


def colored(status: str) -> str:
    color = STATUS_COLORS.get(status)
    return console.style(status, color) if color else status


def alive_text(alive: bool | None, verdict: str | None = None) -> str:
    if alive is None:
        return "?"
    if alive:
        return "live"
    return "dead" if verdict == "dead" else "-"


def pressure_text(reading: dict[str, Any]) -> str:
    """``critical: processes 45/50``; at a calm level, what was measured."""
    level = str(reading["level"])
    causes = [clean(str(cause), 120) for cause in reading["causes"]] or [
        f"memory {reading['memory_mb'] / 1024:.1f}/{reading['max_memory_mb'] / 1024:.1f} GB",
        f"processes {reading['processes']}/{reading['max_processes']}",
    ]
    colour = {"critical": "red", "high": "yellow", "medium": "yellow"}.get(level)
    return f"{console.style(level, colour) if colour else level}: {', '.join(causes)}"


def slurm_place(item: Mapping[str, Any]) -> str:
    """``job 812 RUNNING on node07``: a Slurm job as Slurm last told of it."""
    state = clean(item.get("state") or "no longer listed by Slurm", 40)
    node = f" on {clean(item['node'], 60)}" if item.get("node") else ""
    return f"job {clean(item['job_id'], 40)} {state}{node}"
