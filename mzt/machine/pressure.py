"""Backpressure: how loaded the machine is, read by every run before each launch.

The levels and delays are upstream's (its daemon's backpressure controller), measured
here without a daemon (see :mod:`mzt.machine.pressure_probe`):

- memory of the live runs and their descendants, as a share of ``max_memory_mb``:
  over 50 % ``low``, over 70 % ``medium``, over 85 % ``high``, over 95 % ``critical``;
- descendant processes over 80 % of ``max_processes``: ``critical``;
- a reading that failed: ``critical`` (fail-closed: launching blind could be what
  exhausts the machine);
- a shared rate limit in force (any instrument): at least ``high``.

A launch waits :data:`DELAYS` first (0, 0.1, 0.5, 2 s); at ``critical`` nothing is
launched and the caller looks again after :data:`RECHECK_SECONDS`.

Many runs ask before every launch, so the last reading is kept in
``$MZT_HOME/pressure.json`` (replaced atomically, 0600) and reused while it is younger
than :data:`FRESH_SECONDS`. One process refreshes it at a time, under a non-blocking
``flock`` on ``pressure.lock``; a process that finds the lock taken uses the file's
reading if it is at most :data:`BUSY_STALE_SECONDS` old (its refresh is on the way),
else measures for itself without writing. A reading made with other limits (a different
``max_memory_mb`` or ``max_processes``) is never reused. A damaged or odd cache file is
ignored (and replaced by the next refresh where it can be): the cache only saves time.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from enum import IntEnum
from pathlib import Path
from typing import Any, Protocol

from mzt.machine.config import MachineConfig
from mzt.machine.pressure_probe import Usage, measure
from mzt.support import paths, records
from mzt.support.errors import MztError
from mzt.support.fsutil import ensure_private_dir, open_nofollow, read_regular_file

SCHEMA = "mzt.pressure/1"
FRESH_SECONDS = 1.0
BUSY_STALE_SECONDS = 5.0
RECHECK_SECONDS = 1.0
PROCESS_SHARE = 0.8
MEMORY_SHARES = ((0.95, 4), (0.85, 3), (0.70, 2), (0.50, 1))  # (over this share, level)
MAX_CACHE_BYTES = 16 * 1024


class Level(IntEnum):
    """How loaded the machine is, from ``none`` to ``critical`` (no launch)."""

    NONE = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    def __str__(self) -> str:
        return self.name.lower()

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


DELAYS: dict[Level, float] = {
    Level.NONE: 0.0,
    Level.LOW: 0.1,
    Level.MEDIUM: 0.5,
    Level.HIGH: 2.0,
    Level.CRITICAL: RECHECK_SECONDS,  # not a delay: the time before looking again
}


@records.record(frozen=True, slots=True)
class Pressure:
    """One assessment: the level, why, what was measured and against which limits."""

    level: Level
    delay: float  # seconds to wait before a launch (at critical: before looking again)
    causes: tuple[str, ...]
    memory_mb: float
    processes: int
    max_memory_mb: int
    max_processes: int
    checked_at: datetime

    @property
    def allows_launch(self) -> bool:
        return self.level < Level.CRITICAL

    def age(self, now: datetime) -> float:
        """Seconds since the reading (negative if the clock went back since)."""
        return (now - self.checked_at).total_seconds()

    def summary(self) -> str:
        """``medium: memory 6.1/8.0 GB (76 %)``; at ``none``, what was measured."""
        shown = self.causes or (
            _memory_text(self.memory_mb, self.max_memory_mb),
            f"processes {self.processes}/{self.max_processes}",
        )
        return f"{self.level}: {', '.join(shown)}"

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "level": str(self.level),
            "allows_launch": self.allows_launch,
            "delay_seconds": self.delay,
            "causes": list(self.causes),
            "memory_mb": self.memory_mb,
            "processes": self.processes,
            "max_memory_mb": self.max_memory_mb,
            "max_processes": self.max_processes,
            "checked_at": self.checked_at.astimezone(UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
        }


def from_json(document: object) -> Pressure | None:
    """The assessment a :meth:`Pressure.to_json` document holds; None for anything else."""
    if not isinstance(document, dict) or document.get("schema") != SCHEMA:
        return None
    try:
        level = Level[str(document["level"]).upper()]
        causes = document["causes"]
        numbers = [document[key] for key in ("delay_seconds", "memory_mb")]
        counts = [document[key] for key in ("processes", "max_memory_mb", "max_processes")]
        checked_at = datetime.fromisoformat(str(document["checked_at"]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return None
    if not (isinstance(causes, list) and all(isinstance(c, str) for c in causes)):
        return None
    if not all(type(n) in (int, float) for n in numbers) or not all(type(n) is int for n in counts):
        return None
    if checked_at.tzinfo is None:
        return None
    processes, max_memory_mb, max_processes = counts
    return Pressure(
        level,
        float(numbers[0]),
        tuple(causes),
        float(numbers[1]),
        processes,
        max_memory_mb,
        max_processes,
        checked_at,
    )


def assess(
    config: MachineConfig,
    usage: Usage,
    rate_limits: Sequence[tuple[str, datetime]] = (),
    *,
    now: datetime | None = None,
) -> Pressure:
    """The level for a reading and the rate limits in force, as (instrument, until)."""
    level = Level.NONE
    causes: list[str] = []
    if usage.failed:
        level = Level.CRITICAL
        causes.append(f"probe failed: {usage.failure}")
    else:
        share = usage.memory_mb / config.max_memory_mb
        memory_level = next((Level(lv) for over, lv in MEMORY_SHARES if share > over), Level.NONE)
        if memory_level > Level.NONE:
            level = memory_level
            causes.append(_memory_text(usage.memory_mb, config.max_memory_mb))
        if usage.processes > PROCESS_SHARE * config.max_processes:
            level = Level.CRITICAL
            causes.append(f"processes {usage.processes}/{config.max_processes}")
    for instrument, until in rate_limits:
        level = max(level, Level.HIGH)
        causes.append(f"rate limit on {instrument} until {until.astimezone():%H:%M:%S}")
    return Pressure(
        level,
        DELAYS[level],
        tuple(causes),
        usage.memory_mb,
        usage.processes,
        config.max_memory_mb,
        config.max_processes,
        now or datetime.now(UTC),
    )


class RateLimitRecord(Protocol):
    """A shared rate limit as :mod:`mzt.instruments.ratelimits` reads it."""

    @property
    def instrument(self) -> str: ...
    @property
    def limited_until(self) -> datetime: ...


RateLimitReader = Callable[[Path | None], Iterable[RateLimitRecord]]
"""Every rate-limit record of a home, expired ones included: ``ratelimits.all_records``.

Passed in by the caller because this package sits beside ``mzt.instruments``, not above
it; the layers keep the machine's limits free of instrument code."""


def measure_now(
    config: MachineConfig,
    *,
    rate_limits: RateLimitReader,
    home: Path | None = None,
    now: datetime | None = None,
) -> Pressure:
    """A fresh assessment, neither read from nor written to the cache, taking no lock."""
    when = now or datetime.now(UTC)
    active = in_force(rate_limits(home), when)
    return assess(config, measure(config, home=home), active, now=when)


def in_force(records: Iterable[RateLimitRecord], now: datetime) -> list[tuple[str, datetime]]:
    """(instrument, until) of the limits not yet expired at ``now``, by instrument."""
    found = {(r.instrument, r.limited_until) for r in records if r.limited_until > now}
    return sorted(found)


def check(
    config: MachineConfig,
    *,
    rate_limits: RateLimitReader,
    home: Path | None = None,
    now: datetime | None = None,
) -> Pressure:
    """The machine's pressure for a launch: the cached reading if fresh, else a new one.

    Never raises: a cache that cannot be read, locked or written only costs a reading.
    """
    root = home or paths.mzt_home()
    when = now or datetime.now(UTC)
    # This process's last reading is as good as the file's while it is fresh: the file
    # can only hold one as fresh or fresher, and every launch would read it again.
    last = _LAST.get(root)
    if (usable := _usable(last, config, when, FRESH_SECONDS)) is not None:
        return usable
    cached = _read(root)
    if (usable := _usable(cached, config, when, FRESH_SECONDS)) is not None:
        _LAST[root] = usable
        return usable
    lock = _try_lock(root)
    if lock is None:  # another process is refreshing it, or there is no lock to take
        usable = _usable(cached, config, when, BUSY_STALE_SECONDS)
        return (
            usable
            if usable is not None
            else measure_now(config, rate_limits=rate_limits, home=root, now=when)
        )
    try:
        # It may have been refreshed between the first read and the lock.
        if (usable := _usable(_read(root), config, when, FRESH_SECONDS)) is not None:
            return usable
        fresh = measure_now(config, rate_limits=rate_limits, home=root, now=when)
        _write(root, fresh)
        _LAST[root] = fresh
        return fresh
    finally:
        os.close(lock)


_LAST: dict[Path, Pressure] = {}


def read_cached(home: Path | None = None) -> Pressure | None:
    """The last reading in ``pressure.json`` (any age), for views: no write, no lock."""
    return _read(home or paths.mzt_home())


def look(
    config: MachineConfig,
    *,
    rate_limits: RateLimitReader,
    home: Path | None = None,
    now: datetime | None = None,
) -> Pressure:
    """The pressure as a view shows it: the runs' shared reading while it is at most
    :data:`BUSY_STALE_SECONDS` old, else measured now. Never writes and never locks."""
    when = now or datetime.now(UTC)
    root = home or paths.mzt_home()
    found = _usable(_read(root), config, when, BUSY_STALE_SECONDS)
    return found or measure_now(config, rate_limits=rate_limits, home=root, now=when)


def _usable(
    found: Pressure | None, config: MachineConfig, now: datetime, fresh: float
) -> Pressure | None:
    """``found`` if it is younger than ``fresh`` seconds and made with these limits."""
    if (
        found is not None
        and 0 <= found.age(now) < fresh
        and found.max_memory_mb == config.max_memory_mb
        and found.max_processes == config.max_processes
    ):
        return found
    return None


def _read(home: Path) -> Pressure | None:
    try:
        data = read_regular_file(paths.pressure_file(home), MAX_CACHE_BYTES)
        return from_json(json.loads(data))
    except (OSError, ValueError, MztError):
        return None


def _try_lock(home: Path) -> int | None:
    """A descriptor holding ``pressure.lock`` exclusively; None when taken or unusable."""
    try:
        fd = open_nofollow(paths.pressure_lock(home), os.O_RDWR | os.O_CREAT | os.O_NONBLOCK)
    except FileNotFoundError:
        try:
            ensure_private_dir(home)
            fd = open_nofollow(paths.pressure_lock(home), os.O_RDWR | os.O_CREAT | os.O_NONBLOCK)
        except (OSError, MztError):
            return None
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def _write(home: Path, pressure: Pressure) -> None:
    from mzt.state.atomic import atomic_write

    data = json.dumps(pressure.to_json(), separators=(",", ":")).encode() + b"\n"
    # A folder in the way, a full disk: the next process simply measures again.
    with contextlib.suppress(OSError, MztError):
        # Not durable: a reading is worth one second, and an fsync costs more than it.
        atomic_write(paths.pressure_file(home), data, durable=False)


def _memory_text(memory_mb: float, max_memory_mb: int) -> str:
    share = int(memory_mb / max_memory_mb * 100)
    limit = f"{max_memory_mb / 1024:.1f} GB"
    # Under a gigabyte "0.0/8.0 GB" would say nothing: megabytes then.
    used = f"{memory_mb / 1024:.1f}/" if memory_mb >= 1024 else f"{memory_mb:.0f} MB/"
    return f"memory {used}{limit} ({share} %)"
