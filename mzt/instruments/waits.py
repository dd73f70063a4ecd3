"""How long the output of a limited attempt says to wait before trying again."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from mzt.support.lazyre import LazyPattern

if TYPE_CHECKING:
    from datetime import datetime

_UNITS = r"(ms|milliseconds?|s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?)\b"
_WAIT = (
    LazyPattern(
        r"(?:retry|try again)[- ]after:?[ \t]*(\d+(?:\.\d+)?)(?:[ \t]*" + _UNITS + ")?", re.I
    ),
    LazyPattern(r"(?:resets?|try again|wait)[ \t]+in[ \t]+(\d+(?:\.\d+)?)[ \t]*" + _UNITS, re.I),
)
_RESET_AT = LazyPattern(
    r"(?:resets?(?:[ \t]+at)?|try again at)[ \t]+(\d{1,2})(?::(\d{2}))?[ \t]*(am|pm)?"
    r"(?:[ \t]*\(([\w/+-]+)\))?",
    re.I,
)
_RESET_EPOCH = LazyPattern(r"limit reached\|(\d{9,11})\b", re.I)
_UNIT = {"ms": 0.001, "mi": 0.001, "s": 1, "m": 60, "h": 3600}


def extract_wait(text: str, now: datetime | None = None) -> float | None:
    """Seconds to wait when the output says ("retry after 30s", "resets in 2 hours",
    "resets 3am (Europe/Oslo)", "try again at 3:45 PM", "usage limit reached|<epoch>");
    None when it does not. A reset time already past gives one second."""
    for pattern in _WAIT:
        match = pattern.search(text)
        if match:
            unit = (match.group(2) or "s").lower()
            key = "ms" if unit == "ms" or unit.startswith("milli") else unit[0]
            return float(match.group(1)) * _UNIT.get(key, 1)
    epoch = _RESET_EPOCH.search(text)
    if epoch:
        from datetime import UTC, datetime  # not at import: only a limited attempt asks

        current = (now or datetime.now(UTC)).timestamp()
        return max(1.0, float(epoch.group(1)) - current)
    return _until_reset(text, now)


def _until_reset(text: str, now: datetime | None) -> float | None:
    """Seconds until a clock time such as "resets 3am (Europe/Oslo)" or "resets at 14:30"."""
    match = _RESET_AT.search(text)
    if match is None or (match.group(2) is None and match.group(3) is None):
        return None  # a bare number is not a clock time
    hour, minute = int(match.group(1)), int(match.group(2) or 0)
    meridiem = (match.group(3) or "").lower()
    if meridiem:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if meridiem == "pm" else 0)
    if hour > 23 or minute > 59:
        return None
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError  # only a wait named with a zone

    try:
        zone = ZoneInfo(match.group(4)) if match.group(4) else None
    except (ZoneInfoNotFoundError, ValueError):
        zone = None
    current = (now or datetime.now(UTC)).astimezone(zone)
    target = current.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if target <= current:
        target += timedelta(days=1)
    return (target - current).total_seconds()
