from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

from mzt.instruments import ratelimits
from mzt.support.paths import ratelimit_record


def soon(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


def test_record_and_read_back(_isolated_home: Path) -> None:
    limit = ratelimits.record("claude-code", soon(60), "hit the limit", "job-a")
    found = ratelimits.active("claude-code")
    assert found is not None and found.set_by_job == "job-a"
    assert 50 < found.seconds_left() <= 60
    path = ratelimit_record("claude-code")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert limit.to_json()["limited_until"].endswith("Z")


def test_a_later_limit_wins(_isolated_home: Path) -> None:
    ratelimits.record("x", soon(300), "long", "a")
    kept = ratelimits.record("x", soon(10), "short", "b")
    assert kept.reason == "long"
    assert ratelimits.record("x", soon(900), "longer", "c").reason == "longer"


def test_expired_and_damaged_records_are_no_limit(_isolated_home: Path) -> None:
    ratelimits.record("x", soon(-5), "past", "a")
    assert ratelimits.active("x") is None
    path = ratelimit_record("y")
    path.write_text("{not json")
    assert ratelimits.active("y") is None
    path.write_text('{"instrument": "other", "limited_until": "2999-01-01T00:00:00Z"}')
    assert ratelimits.active("y") is None  # a record must name its own instrument


def test_clear_one_or_all(_isolated_home: Path) -> None:
    ratelimits.record("a", soon(60), "r", "j")
    ratelimits.record("b", soon(60), "r", "j")
    assert ratelimits.clear("a") == ["a"]
    assert ratelimits.clear("a") == []
    assert [r.instrument for r in ratelimits.all_records()] == ["b"]
    assert ratelimits.clear() == ["b"]


def test_unsafe_instrument_names_stay_inside_the_folder(_isolated_home: Path) -> None:
    ratelimits.record("../../evil", soon(60), "r", "j")
    assert not (_isolated_home.parent / "evil.json").exists()
    assert ratelimits.active("../../evil") is not None
