"""Times as checkpoints and records write them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from mzt.support.moments import parse_moment


def test_z_an_offset_and_no_zone_all_read_as_aware_times() -> None:
    assert parse_moment("2026-05-01T10:00:00Z") == datetime(2026, 5, 1, 10, tzinfo=UTC)
    plus_two = parse_moment("2026-05-01T12:00:00+02:00")
    assert plus_two == datetime(2026, 5, 1, 10, tzinfo=UTC)
    assert plus_two is not None and plus_two.utcoffset() == timezone(timedelta(hours=2)).utcoffset(
        None
    )
    assert parse_moment("2026-05-01T10:00:00") == datetime(2026, 5, 1, 10, tzinfo=UTC)


def test_absent_or_unreadable_is_none_never_an_error() -> None:
    for text in (None, "", "yesterday", 12, "2026-13-01T00:00:00Z", ["2026-05-01"]):
        assert parse_moment(text) is None
