"""Rate limits shared by every run on this machine: one small file per instrument.

A run that hits an instrument's limit writes ``MZT_HOME/ratelimits/<instrument>.json``
(`{instrument, limited_until, reason, set_by_job, set_at}`, replaced atomically); every
run, this one and its siblings, reads it before starting a sheet on that instrument
and waits or falls back until it expires. Limits belong to the account behind the CLI,
not to one job, which is why they live outside any workspace.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from mzt.support import paths, records
from mzt.support.fsutil import ensure_private_dir, read_regular_file

MAX_RECORD_BYTES = 64 * 1024


@records.record(frozen=True, slots=True)
class RateLimit:
    """An instrument that should not be called before ``limited_until``."""

    instrument: str
    limited_until: datetime
    reason: str
    set_by_job: str
    set_at: datetime

    def to_json(self) -> dict[str, str]:
        return {
            "instrument": self.instrument,
            "limited_until": _iso(self.limited_until),
            "reason": self.reason,
            "set_by_job": self.set_by_job,
            "set_at": _iso(self.set_at),
        }

    def seconds_left(self, now: datetime | None = None) -> float:
        return (self.limited_until - (now or datetime.now(UTC))).total_seconds()


def record(
    instrument: str,
    until: datetime,
    reason: str,
    job_id: str,
    *,
    home: Path | None = None,
) -> RateLimit:
    """Record that ``instrument`` is limited until ``until`` (a later record is kept)."""
    existing = active(instrument, home=home)
    if existing is not None and existing.limited_until >= until:
        return existing
    limit = RateLimit(instrument, until, reason[:500], job_id, datetime.now(UTC))
    path = paths.ratelimit_record(instrument, home)
    from mzt.state.atomic import atomic_write  # only a run records limits; views read them

    ensure_private_dir(path.parent)
    atomic_write(path, json.dumps(limit.to_json(), indent=2).encode() + b"\n")
    return limit


def active(
    instrument: str, *, now: datetime | None = None, home: Path | None = None
) -> RateLimit | None:
    """The instrument's limit if one is in force; an expired or unreadable record is none."""
    limit = _read(paths.ratelimit_record(instrument, home))
    if limit is None or limit.instrument != instrument:
        return None
    return limit if limit.seconds_left(now) > 0 else None


def all_records(home: Path | None = None) -> list[RateLimit]:
    """Every readable record, expired ones included, newest first."""
    folder = paths.ratelimits_dir(home)
    try:
        files = sorted(folder.glob("*.json"))
    except OSError:
        return []
    found = [limit for path in files if (limit := _read(path)) is not None]
    return sorted(found, key=lambda limit: limit.set_at, reverse=True)


def clear(instrument: str | None = None, *, home: Path | None = None) -> list[str]:
    """Delete the record of ``instrument`` (or all records); returns what was cleared."""

    def name_of(path: Path) -> str:
        limit = _read(path)
        return limit.instrument if limit else path.stem

    return remove_records(
        paths.ratelimits_dir(home),
        None if instrument is None else paths.ratelimit_record(instrument, home),
        name_of,
    )


def remove_records(folder: Path, one: Path | None, name_of: Callable[[Path], str]) -> list[str]:
    """Delete the record ``one``, or every ``*.json`` record in ``folder``; returns the
    instrument each removed record was for (``name_of``, asked before it goes)."""
    if one is not None:
        targets = [one]
    else:
        try:
            targets = sorted(folder.glob("*.json"))
        except OSError:
            targets = []
    cleared = []
    for path in targets:
        name = name_of(path)
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        except OSError as exc:  # a folder planted at the record's name: say so, exit 5
            from mzt.state.atomic import write_error

            raise write_error(path, exc, "remove") from exc
        cleared.append(name)
    return cleared


def _read(path: Path) -> RateLimit | None:
    try:
        data = json.loads(read_regular_file(path, MAX_RECORD_BYTES))
        return RateLimit(
            instrument=str(data["instrument"]),
            limited_until=_parse(data["limited_until"]),
            reason=str(data.get("reason", "")),
            set_by_job=str(data.get("set_by_job", "")),
            set_at=_parse(data.get("set_at") or data["limited_until"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None  # a damaged record must never stop a run; the next limit rewrites it


def _parse(text: str) -> datetime:
    value = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
