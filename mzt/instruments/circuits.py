"""Circuit breakers of instruments: the state machine and where its state is kept.

An instrument whose attempts keep failing is given a rest: after ``failure_threshold``
failures in a row its circuit opens, sheets that need it go to a fallback or wait, and
after ``recovery_timeout_seconds`` one trial attempt may run (half open). The trial's
success closes the circuit, its failure opens it again.

Runs on one machine share the state through ``MZT_HOME/circuits/<instrument>.json``
(`FileCircuits`): every change is a read-modify-write under a short ``flock`` of a
sibling ``.lock`` file, so two runs failing at once both count, and the record is
replaced atomically (0600). A record that cannot be read is taken as closed and says so;
it is never a reason to stop a run. `MemoryCircuits` keeps the same state for one run
only (``cross_workspace_coordination: false``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

from mzt.instruments.ratelimits import remove_records
from mzt.support import paths, records
from mzt.support.fsutil import ensure_private_dir, open_nofollow, read_regular_file

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"
STATES = (CLOSED, OPEN, HALF_OPEN)
MAX_RECORD_BYTES = 64 * 1024


@records.record(frozen=True, slots=True)
class Circuit:
    """One instrument's breaker. ``until``: when open, the moment a trial may start; when
    half open, the end of the running trial's lease (a run that died mid-trial must not
    hold the circuit forever)."""

    instrument: str
    state: str = CLOSED
    consecutive_failures: int = 0
    until: datetime | None = None
    trial: str = ""  # the attempt running the half-open trial
    reason: str = ""  # the failure that opened it
    set_by_job: str = ""
    updated_at: datetime | None = None
    note: str = records.field(default="", compare=False)  # why a record was read as closed

    def shown(self, now: datetime | None = None) -> str:
        """The state as a reader should see it: an open circuit whose rest is over is
        half open (the next attempt is its trial)."""
        if self.state == OPEN and self.until is not None and self.until <= (now or _now()):
            return HALF_OPEN
        return self.state

    def seconds_left(self, now: datetime | None = None) -> float:
        if self.until is None or self.state != OPEN:
            return 0.0
        return max(0.0, (self.until - (now or _now())).total_seconds())

    def to_json(self) -> dict[str, object]:
        return {
            "instrument": self.instrument,
            "state": self.state,
            "consecutive_failures": self.consecutive_failures,
            "until": _iso(self.until),
            "trial": self.trial,
            "reason": self.reason,
            "set_by_job": self.set_by_job,
            "updated_at": _iso(self.updated_at),
        }


@records.record(frozen=True, slots=True)
class Admission:
    """Whether an attempt may start now; if not, when to ask again."""

    allowed: bool
    trial: bool = False  # the attempt is the half-open trial
    until: datetime | None = None  # held until then (the rest's end, or the trial's lease)
    holder: str = ""  # held by this trial


# --- the state machine (pure) ----------------------------------------------------------------


def admit(circuit: Circuit, token: str, lease: float, now: datetime) -> tuple[Circuit, Admission]:
    """May the attempt ``token`` start? Starting the trial turns an open circuit half open."""
    if circuit.state == CLOSED:
        return circuit, Admission(True)
    if circuit.state == OPEN and circuit.until is not None and circuit.until > now:
        return circuit, Admission(False, until=circuit.until)
    if circuit.state == HALF_OPEN and circuit.trial == token:
        return circuit, Admission(True, trial=True)
    trial_over = circuit.until is None or circuit.until <= now or not circuit.trial
    if circuit.state == HALF_OPEN and not trial_over:
        return circuit, Admission(False, until=circuit.until, holder=circuit.trial)
    started = records.replace(
        circuit,
        state=HALF_OPEN,
        trial=token,
        until=now + timedelta(seconds=lease),
        updated_at=now,
    )
    return started, Admission(True, trial=True)


def failed(
    circuit: Circuit, *, threshold: int, rest: float, now: datetime, reason: str, job: str
) -> Circuit:
    """A counted failure: the threshold, or a failed trial, opens the circuit."""
    count = circuit.consecutive_failures + 1
    opens = circuit.state == HALF_OPEN or (circuit.state == CLOSED and count >= threshold)
    if not opens:
        return records.replace(circuit, consecutive_failures=count, updated_at=now)
    return records.replace(
        circuit,
        state=OPEN,
        consecutive_failures=count,
        until=now + timedelta(seconds=rest),
        trial="",
        reason=reason[:500],
        set_by_job=job,
        updated_at=now,
    )


def succeeded(circuit: Circuit, now: datetime) -> Circuit:
    """A success: closes a half-open circuit, clears the count of a closed one. An open
    circuit stays open: the attempt started before it opened, and only a trial decides."""
    if circuit.state == OPEN:
        return circuit
    if circuit.state == CLOSED and circuit.consecutive_failures == 0:
        return circuit
    return Circuit(circuit.instrument, updated_at=now)


def released(circuit: Circuit, token: str, now: datetime) -> Circuit:
    """The trial attempt was stopped before it could tell: the next attempt may try."""
    if circuit.state != HALF_OPEN or circuit.trial != token:
        return circuit
    return records.replace(circuit, trial="", until=now, updated_at=now)


# --- where the state is kept ---------------------------------------------------------------


class CircuitBook(Protocol):
    def get(self, instrument: str) -> Circuit: ...

    def update(
        self, instrument: str, change: Callable[[Circuit], Circuit]
    ) -> tuple[Circuit, Circuit]: ...


class MemoryCircuits:
    """Circuits of this run only."""

    def __init__(self) -> None:
        self.circuits: dict[str, Circuit] = {}

    def get(self, instrument: str) -> Circuit:
        return self.circuits.get(instrument) or Circuit(instrument)

    def update(
        self, instrument: str, change: Callable[[Circuit], Circuit]
    ) -> tuple[Circuit, Circuit]:
        before = self.get(instrument)
        after = self.circuits[instrument] = change(before)
        return before, after


class FileCircuits:
    """Circuits shared by every run on the machine, one file per instrument."""

    def __init__(self, home: Path | None = None) -> None:
        self.home = home
        self.records: dict[tuple[str, Path], Path] = {}

    def get(self, instrument: str) -> Circuit:
        return read(self._record(instrument), instrument)

    def update(
        self, instrument: str, change: Callable[[Circuit], Circuit]
    ) -> tuple[Circuit, Circuit]:
        path = self._record(instrument)
        ensure_private_dir(path.parent)
        with _locked(paths.circuit_lock(instrument, self.home)):
            before = read(path, instrument)
            after = change(before)
            if after != before or before.note:  # a damaged record is replaced
                from mzt.state.atomic import atomic_write  # only a run writes circuits

                data = json.dumps(after.to_json(), indent=2).encode() + b"\n"
                atomic_write(path, data, durable=after.state != before.state)
        return before, after

    def _record(self, instrument: str) -> Path:
        """The instrument's record file, named once: a run reads it twice per attempt."""
        home = self.home or paths.mzt_home()
        found = self.records.get((instrument, home))
        if found is None:
            found = self.records[instrument, home] = paths.circuit_record(instrument, home)
        return found


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    import fcntl

    fd = open_nofollow(path, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # held for one read and one write: microseconds
        yield
    finally:
        os.close(fd)  # closing drops the lock


def read(path: Path, instrument: str) -> Circuit:
    """The record at ``path``; missing is closed, and so is damaged (with a note)."""
    try:
        raw = read_regular_file(path, MAX_RECORD_BYTES)
    except FileNotFoundError:
        return Circuit(instrument)
    except OSError as exc:
        return Circuit(instrument, note=f"circuit record {path} unreadable ({exc.strerror})")
    try:
        data = json.loads(raw)
        state = str(data["state"])
        if state not in STATES or str(data["instrument"]) != instrument:
            raise ValueError(state)
        return Circuit(
            instrument=instrument,
            state=state,
            consecutive_failures=max(0, int(data.get("consecutive_failures") or 0)),
            until=_parse(data.get("until")),
            trial=str(data.get("trial") or ""),
            reason=str(data.get("reason") or ""),
            set_by_job=str(data.get("set_by_job") or ""),
            updated_at=_parse(data.get("updated_at")),
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return Circuit(instrument, note=f"circuit record {path} is damaged; taken as closed")


def all_records(home: Path | None = None) -> list[Circuit]:
    """Every record in MZT_HOME, by instrument (damaged ones as closed, with their note)."""
    folder = paths.circuits_dir(home)
    try:
        files = sorted(folder.glob("*.json"))
    except OSError:
        return []
    found = []
    for path in files:
        try:
            instrument = str(json.loads(read_regular_file(path, MAX_RECORD_BYTES))["instrument"])
        except (OSError, ValueError, KeyError, TypeError):
            instrument = path.stem
        found.append(read(path, instrument))
    return found


def clear(instrument: str | None = None, *, home: Path | None = None) -> list[str]:
    """Delete the record of ``instrument`` (or all records): they read as closed again."""
    one = None if instrument is None else paths.circuit_record(instrument, home)
    return remove_records(paths.circuits_dir(home), one, lambda path: instrument or path.stem)


def _now() -> datetime:
    return datetime.now(UTC)


def _parse(text: object) -> datetime | None:
    if text is None or text == "":
        return None
    value = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
