"""`mzt.machine.pressure`: levels from measured numbers, delays, and the shared cache."""

from __future__ import annotations

import fcntl
import json
import os
import stat
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mzt.instruments import ratelimits
from mzt.machine import pressure, pressure_probe
from mzt.machine.config import MachineConfig
from mzt.machine.pressure import Level, Pressure
from mzt.machine.pressure_probe import Usage
from mzt.support import paths

T0 = datetime(2030, 1, 2, 12, 0, 0, tzinfo=UTC)
CONFIG = MachineConfig(max_memory_mb=1000, max_processes=50)


def no_limits(_: Path | None) -> list[ratelimits.RateLimit]:
    return []


def level_of(memory_mb: float, processes: int = 0) -> Level:
    return pressure.assess(CONFIG, Usage(memory_mb, processes), now=T0).level


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def readings(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Usage]]:
    """Every measurement the module makes, each a fixed 600 MB (low) reading."""
    made: list[Usage] = []

    def fake(config: MachineConfig, *, home: Path | None = None) -> Usage:
        made.append(Usage(600.0, 3))
        return made[-1]

    monkeypatch.setattr(pressure, "measure", fake)
    yield made


def test_levels_print_in_lower_case() -> None:
    assert [str(level) for level in Level] == ["none", "low", "medium", "high", "critical"]
    assert f"{Level.HIGH}" == "high" and f"{Level.LOW:>5}" == "  low"


@pytest.mark.parametrize(
    ("memory_mb", "level"),
    [
        (0, Level.NONE),
        (500, Level.NONE),  # exactly half is not over half
        (500.1, Level.LOW),
        (700, Level.LOW),
        (700.1, Level.MEDIUM),
        (850, Level.MEDIUM),
        (850.1, Level.HIGH),
        (950, Level.HIGH),
        (950.1, Level.CRITICAL),
        (5000, Level.CRITICAL),
    ],
)
def test_memory_share_sets_the_level(memory_mb: float, level: Level) -> None:
    assert level_of(memory_mb) == level


def test_processes_over_80_percent_of_the_limit_are_critical() -> None:
    assert level_of(0, 40) == Level.NONE  # 40/50 is 80 %, not over it
    found = pressure.assess(CONFIG, Usage(0, 41), now=T0)
    assert found.level == Level.CRITICAL and found.causes == ("processes 41/50",)
    assert not found.allows_launch


def test_delays_and_launches_by_level() -> None:
    found = {
        level: pressure.assess(CONFIG, Usage(memory, 0), now=T0)
        for level, memory in [
            (Level.NONE, 100),
            (Level.LOW, 600),
            (Level.MEDIUM, 800),
            (Level.HIGH, 900),
            (Level.CRITICAL, 990),
        ]
    }
    assert {level: p.level for level, p in found.items()} == {level: level for level in found}
    assert [p.delay for p in found.values()] == [0.0, 0.1, 0.5, 2.0, pressure.RECHECK_SECONDS]
    assert [p.allows_launch for p in found.values()] == [True, True, True, True, False]
    assert pressure.RECHECK_SECONDS <= 1.0


def test_causes_name_the_memory_in_gigabytes() -> None:
    config = MachineConfig(max_memory_mb=8192)
    found = pressure.assess(config, Usage(6246.4, 2), now=T0)
    assert found.level == Level.MEDIUM
    assert found.causes == ("memory 6.1/8.0 GB (76 %)",)
    assert pressure.assess(config, Usage(45.0, 0), now=T0).causes == ()
    assert pressure.assess(config, Usage(45.0, 0), now=T0).summary() == (
        "none: memory 45 MB/8.0 GB (0 %), processes 0/50"
    )


def test_a_failed_probe_is_critical_and_says_why() -> None:
    found = pressure.assess(CONFIG, Usage(0, 0, failure="/proc/1/task cannot be read"), now=T0)
    assert found.level == Level.CRITICAL and not found.allows_launch
    assert found.causes == ("probe failed: /proc/1/task cannot be read",)


def test_an_unreadable_proc_makes_check_critical(
    home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(pressure_probe, "PROC", str(tmp_path / "no-proc"))
    found = pressure.check(CONFIG, rate_limits=no_limits, home=home)
    assert found.level == Level.CRITICAL
    assert found.causes[0].startswith("probe failed: ") and "no-proc" in found.causes[0]


def limited(*entries: tuple[str, datetime]) -> list[ratelimits.RateLimit]:
    return [ratelimits.RateLimit(name, until, "429", "job", T0) for name, until in entries]


def test_a_rate_limit_in_force_raises_the_level_to_high() -> None:
    until = T0 + timedelta(minutes=4, seconds=5)
    active = pressure.in_force(limited(("claude-code", until)), T0)
    found = pressure.assess(CONFIG, Usage(100, 0), active, now=T0)
    assert found.level == Level.HIGH and found.delay == 2.0
    assert found.causes == (f"rate limit on claude-code until {until.astimezone():%H:%M:%S}",)
    # Never lowers a worse level, and adds its cause to the others.
    worse = pressure.assess(CONFIG, Usage(990, 0), active, now=T0)
    assert worse.level == Level.CRITICAL and len(worse.causes) == 2


def test_expired_rate_limits_are_not_in_force() -> None:
    records = limited(("old", T0 - timedelta(seconds=1)), ("now", T0), ("b", T0 + timedelta(1)))
    assert pressure.in_force(records, T0) == [("b", T0 + timedelta(1))]


def test_check_reads_the_shared_rate_limit_records(home: Path, readings: list[Usage]) -> None:
    now = datetime.now(UTC)
    ratelimits.record("claude-code", now + timedelta(minutes=5), "429", "nightly", home=home)
    ratelimits.record("gone", now - timedelta(minutes=5), "429", "nightly", home=home)
    found = pressure.check(CONFIG, rate_limits=ratelimits.all_records, home=home, now=now)
    assert found.level == Level.HIGH
    assert [c.split(" until")[0] for c in found.causes] == [
        "memory 600 MB/1.0 GB (60 %)",
        "rate limit on claude-code",
    ]


def test_a_reading_is_reused_for_a_second_then_made_again(
    home: Path, readings: list[Usage]
) -> None:
    first = pressure.check(CONFIG, rate_limits=no_limits, home=home, now=T0)
    assert first.level == Level.LOW and first.checked_at == T0 and len(readings) == 1
    later = T0 + timedelta(seconds=0.9)
    assert pressure.check(CONFIG, rate_limits=no_limits, home=home, now=later) == first
    assert len(readings) == 1
    again = pressure.check(CONFIG, rate_limits=no_limits, home=home, now=T0 + timedelta(seconds=1))
    assert len(readings) == 2 and again.checked_at == T0 + timedelta(seconds=1)
    assert pressure.read_cached(home) == again


def test_a_fresh_reading_of_this_process_is_used_without_reading_the_file(
    home: Path, readings: list[Usage], monkeypatch: pytest.MonkeyPatch
) -> None:
    first = pressure.check(CONFIG, rate_limits=no_limits, home=home, now=T0)
    opened: list[Path] = []
    monkeypatch.setattr(pressure, "_read", lambda root: opened.append(root))
    later = T0 + timedelta(seconds=0.5)
    assert pressure.check(CONFIG, rate_limits=no_limits, home=home, now=later) == first
    assert opened == [] and len(readings) == 1
    pressure.check(CONFIG, rate_limits=no_limits, home=home, now=T0 + timedelta(seconds=1))
    assert opened and len(readings) == 2  # stale: the file is asked, then a reading made


def test_the_cache_file_is_private_and_tagged(home: Path, readings: list[Usage]) -> None:
    pressure.check(CONFIG, rate_limits=no_limits, home=home, now=T0)
    path = paths.pressure_file(home)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(paths.pressure_lock(home).stat().st_mode) == 0o600
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    document = json.loads(path.read_text())
    assert document["schema"] == "mzt.pressure/1" and document["level"] == "low"
    assert document["allows_launch"] is True and document["delay_seconds"] == 0.1
    assert document["checked_at"] == "2030-01-02T12:00:00.000Z"


def test_a_reading_made_with_other_limits_or_in_the_future_is_not_reused(
    home: Path, readings: list[Usage]
) -> None:
    pressure.check(CONFIG, rate_limits=no_limits, home=home, now=T0)
    other = MachineConfig(max_memory_mb=2000, max_processes=50)
    assert pressure.check(other, rate_limits=no_limits, home=home, now=T0).max_memory_mb == 2000
    assert len(readings) == 2
    earlier = T0 - timedelta(seconds=5)  # the clock went back: the cached age is negative
    assert (
        pressure.check(other, rate_limits=no_limits, home=home, now=earlier).checked_at == earlier
    )
    assert len(readings) == 3


@pytest.fixture
def lock_held(home: Path) -> Iterator[None]:
    """``pressure.lock`` held by another open file, as another process refreshing would."""
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(paths.pressure_lock(home), os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    yield
    os.close(fd)


def write_cache(home: Path, found: Pressure) -> None:
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    paths.pressure_file(home).write_text(json.dumps(found.to_json()))


def test_while_another_refreshes_a_recent_reading_is_used(
    home: Path, readings: list[Usage], lock_held: None
) -> None:
    cached = pressure.assess(CONFIG, Usage(900, 0), now=T0)
    write_cache(home, cached)
    before = paths.pressure_file(home).read_bytes()
    assert pressure.check(CONFIG, rate_limits=no_limits, home=home, now=T0 + timedelta(3)) != cached
    soon = T0 + timedelta(seconds=3)
    assert pressure.check(CONFIG, rate_limits=no_limits, home=home, now=soon) == cached
    assert len(readings) == 1  # only the reading made 3 days later, when nothing was usable
    # Measured without the lock, that reading was not written.
    assert paths.pressure_file(home).read_bytes() == before


def test_while_another_refreshes_with_no_usable_reading_one_is_made(
    home: Path, readings: list[Usage], lock_held: None
) -> None:
    found = pressure.check(CONFIG, rate_limits=no_limits, home=home, now=T0)
    assert found.level == Level.LOW and len(readings) == 1
    assert not paths.pressure_file(home).exists()


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"{not json",
        b"[]",
        b'{"schema": "mzt.pressure/1"}',
        b'{"schema": "other/1", "level": "none"}',
        json.dumps(
            {**pressure.assess(CONFIG, Usage(1, 0), now=T0).to_json(), "level": "x"}
        ).encode(),
        json.dumps(
            {**pressure.assess(CONFIG, Usage(1, 0), now=T0).to_json(), "processes": "3"}
        ).encode(),
        json.dumps(
            {**pressure.assess(CONFIG, Usage(1, 0), now=T0).to_json(), "causes": [1]}
        ).encode(),
        b"\xff\xfe",
    ],
)
def test_a_corrupt_cache_is_ignored_and_replaced(
    home: Path, readings: list[Usage], content: bytes
) -> None:
    home.mkdir(mode=0o700)
    paths.pressure_file(home).write_bytes(content)
    assert pressure.read_cached(home) is None
    found = pressure.check(CONFIG, rate_limits=no_limits, home=home, now=T0)
    assert found.level == Level.LOW and len(readings) == 1
    assert pressure.read_cached(home) == found


def test_odd_files_at_the_cache_paths_cost_only_a_reading(
    home: Path, readings: list[Usage]
) -> None:
    home.mkdir(mode=0o700)
    paths.pressure_file(home).mkdir()
    paths.pressure_lock(home).mkdir()
    for _ in range(2):
        assert pressure.check(CONFIG, rate_limits=no_limits, home=home, now=T0).level == Level.LOW
    assert len(readings) == 2 and paths.pressure_file(home).is_dir()


def test_a_symlinked_cache_is_replaced_not_followed(
    home: Path, readings: list[Usage], tmp_path: Path
) -> None:
    home.mkdir(mode=0o700)
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text(json.dumps(pressure.assess(CONFIG, Usage(1, 0), now=T0).to_json()))
    paths.pressure_file(home).symlink_to(elsewhere)
    assert pressure.read_cached(home) is None
    found = pressure.check(CONFIG, rate_limits=no_limits, home=home, now=T0)
    assert len(readings) == 1 and not paths.pressure_file(home).is_symlink()
    assert pressure.read_cached(home) == found
    assert json.loads(elsewhere.read_text())["memory_mb"] == 1


def test_read_cached_never_creates_anything(home: Path) -> None:
    assert pressure.read_cached(home) is None
    assert not home.exists()


def test_round_trip_through_json() -> None:
    found = pressure.assess(CONFIG, Usage(960.5, 45), [("x", T0 + timedelta(1))], now=T0)
    assert pressure.from_json(json.loads(json.dumps(found.to_json()))) == found


def names(records: Iterable[tuple[str, datetime]]) -> list[str]:
    return [name for name, _ in records]


def test_the_real_reader_fits_the_protocol(home: Path) -> None:
    ratelimits.record("b", T0 + timedelta(1), "429", "job", home=home)
    ratelimits.record("a", T0 + timedelta(1), "429", "job", home=home)
    assert names(pressure.in_force(ratelimits.all_records(home), T0)) == ["a", "b"]


def test_a_view_uses_a_recent_shared_reading_else_measures_without_writing(
    home: Path, readings: list[Usage]
) -> None:
    cached = pressure.assess(CONFIG, Usage(7900, 0), now=T0)  # critical
    write_cache(home, cached)
    before = paths.pressure_file(home).read_bytes()
    soon = T0 + timedelta(seconds=pressure.BUSY_STALE_SECONDS - 1)
    assert pressure.look(CONFIG, rate_limits=no_limits, home=home, now=soon) == cached
    assert readings == []
    later = T0 + timedelta(seconds=pressure.BUSY_STALE_SECONDS + 1)
    found = pressure.look(CONFIG, rate_limits=no_limits, home=home, now=later)
    assert found.level == Level.LOW and len(readings) == 1
    assert paths.pressure_file(home).read_bytes() == before  # a view never writes
    assert not paths.pressure_lock(home).exists()  # nor locks
