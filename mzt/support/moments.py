"""Times as checkpoints and records write them: ISO 8601, ``Z`` or an offset for UTC."""

from __future__ import annotations

from datetime import UTC, datetime


def parse_moment(text: object) -> datetime | None:
    """The time ``text`` names (without a zone: UTC); None if it is absent or unreadable."""
    if not isinstance(text, str) or not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)
