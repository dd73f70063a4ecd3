"""The executor interface: where attempts run, and how the runner talks to it.

An executor launches attempts, tells the runner when one has been placed (so its handle
can be recorded before it does anything) and when one has finished, stops one, and finds
and stops what a dead run left behind. The runner knows only this interface; the local
executor (threads and process groups on this machine) is the first implementation, and
another place to run attempts (a batch cluster) plugs in beside it.

`AttemptHandle` is the serialisable record of one placed attempt: enough to find its
processes again from another mzt process after the run that started it died, and to
refuse to touch anything that merely reuses its pid.
"""

from __future__ import annotations

import os
import queue
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from mzt.support import records
from mzt.support.process import StopRequest

if TYPE_CHECKING:  # the views read handles without loading instruments and validations
    from mzt.execute.attempt import AttemptReport, AttemptSpec

StopCheck = Callable[[], StopRequest | None]
ATTEMPT_VARIABLE = "MZT_ATTEMPT"  # in every attempt's environment: finds escaped processes


def new_token() -> str:
    """A fresh attempt token: 96 random bits (os.urandom, as `secrets` would give them,
    without loading hmac and hashlib into every run)."""
    return os.urandom(12).hex()


@records.record(frozen=True, slots=True)
class AttemptHandle:
    """Where one attempt runs. ``pid`` is None until the attempt has been placed."""

    executor: str
    token: str
    sheet_num: int
    attempt: int
    host: str
    boot_id: str | None = None
    pid: int | None = None
    pgid: int | None = None
    start_time: int | None = None  # clock ticks after boot (/proc/<pid>/stat field 22)
    started_at: float | None = None  # epoch seconds, for people
    extra: Mapping[str, Any] = records.field(default_factory=dict)  # executor-specific fields

    def to_record(self) -> dict[str, Any]:
        # Spelled out: `asdict` deep-copies field by field, once per sheet start.
        return {
            "executor": self.executor,
            "token": self.token,
            "sheet_num": self.sheet_num,
            "attempt": self.attempt,
            "host": self.host,
            "boot_id": self.boot_id,
            "pid": self.pid,
            "pgid": self.pgid,
            "start_time": self.start_time,
            "started_at": self.started_at,
            "extra": dict(self.extra),
        }

    @classmethod
    def from_record(cls, data: Mapping[str, Any]) -> AttemptHandle | None:
        """The handle in a checkpoint record; None for a record this mzt cannot read."""
        try:
            return cls(
                executor=str(data["executor"]),
                token=str(data["token"]),
                sheet_num=int(data["sheet_num"]),
                attempt=int(data["attempt"]),
                host=str(data["host"]),
                boot_id=_opt_str(data.get("boot_id")),
                pid=_opt_int(data.get("pid")),
                pgid=_opt_int(data.get("pgid")),
                start_time=_opt_int(data.get("start_time")),
                started_at=float(data["started_at"]) if data.get("started_at") else None,
                extra=dict(data.get("extra") or {}),
            )
        except (KeyError, TypeError, ValueError):
            return None


def _opt_int(value: object) -> int | None:
    return int(value) if isinstance(value, int | float | str) and str(value).strip() else None


def _opt_str(value: object) -> str | None:
    return str(value) if value else None


@records.record(frozen=True, slots=True)
class Placed:
    """The attempt is placed and held: record ``handle``, then `Executor.release` it."""

    handle: AttemptHandle


@records.record(frozen=True, slots=True)
class Finished:
    """The attempt is over (its processes are gone)."""

    handle: AttemptHandle
    report: AttemptReport


Event = Placed | Finished


@records.record(frozen=True, slots=True)
class Leftover:
    """An attempt of a dead run, with the processes of it found alive."""

    handle: AttemptHandle
    pids: tuple[int, ...]
    note: str = ""  # why nothing could be checked (another host, an unknown executor)

    def what_was_done(self) -> str:
        """``stopped a leftover``, or for one that could not be checked ``left a leftover
        alone`` (messages go on with "of the run that died: " and :meth:`describe`)."""
        return "left alone a leftover" if self.note else "stopped a leftover"

    @property
    def event(self) -> str:
        """The history event that records it."""
        return "leftover_unchecked" if self.note else "leftover_stopped"

    def describe(self) -> str:
        who = f"sheet {self.handle.sheet_num} attempt {self.handle.attempt}"
        if self.note:
            return f"{who}: {self.note}"
        if self.handle.extra.get("job_id"):
            return f"{who} (Slurm job {self.handle.extra['job_id']})"
        listing = ", ".join(map(str, self.pids))
        return f"{who} (pid {self.handle.pid}): {len(self.pids)} process(es) [{listing}]"

    def to_json(self) -> dict[str, Any]:
        return {
            "sheet_num": self.handle.sheet_num,
            "attempt": self.handle.attempt,
            "executor": self.handle.executor,
            "host": self.handle.host,
            "pid": self.handle.pid,
            "pgid": self.handle.pgid,
            "pids": list(self.pids),
            "job_id": self.handle.extra.get("job_id"),  # a Slurm attempt's job
            "note": self.note or None,
        }


def next_event(events: queue.Queue[Event | None], timeout: float) -> Event | None:
    """The next event queued within ``timeout`` seconds (None: a wake-up, or none came)."""
    try:
        return events.get(timeout=max(0.0, timeout))
    except queue.Empty:
        return None


def drain(
    events: queue.Queue[Event | None], remaining: Callable[[], int], poll: float
) -> list[AttemptReport]:
    """The reports of the attempts still running as they end, once all of them have: what
    `Executor.stop_all` returns after asking them to stop."""
    reports: list[AttemptReport] = []
    while True:
        left = remaining()  # read before the look: an attempt ends by queueing its report
        try:
            event = events.get(timeout=poll)
        except queue.Empty:
            if left == 0:
                return reports
            continue
        if isinstance(event, Finished):
            reports.append(event.report)


class Executor(Protocol):
    """Somewhere attempts run. Methods are called from the runner's main thread."""

    name: str

    def launch(self, spec: AttemptSpec, should_stop: StopCheck) -> AttemptHandle:
        """Start ``spec``, held until `release`; then a `Finished` event follows.

        When the executor could place the attempt at once, the handle returned is placed
        (its ``pid`` is set) and no `Placed` event follows: the runner records it and lets
        it go before it launches the next, so a wave of launches does not hold the first
        back until the last is spawned. Otherwise a `Placed` event follows."""
        ...

    def release(self, handle: AttemptHandle) -> None:
        """The handle is recorded: let the placed attempt run."""
        ...

    def prestart(self, spec: AttemptSpec) -> None:
        """``spec`` is likely the next to launch: prepare what can be prepared ahead
        without running anything (or nothing). A `launch` of an equal spec uses it; any
        other launch, `stop_all` and `close` discard it."""
        ...

    def adopt(self, handle: AttemptHandle, spec: AttemptSpec, should_stop: StopCheck) -> None:
        """Watch to its end an attempt a dead run of this job placed here and left
        running (only where the attempt does not depend on that run, as a Slurm job);
        its `Finished` event follows as for one this executor launched."""
        ...

    def wait(self, timeout: float) -> Event | None:
        """The next event of any launched attempt, or None after ``timeout`` seconds."""
        ...

    def stop(self, handle: AttemptHandle, *, immediate: bool = False) -> None:
        """Ask one running attempt to stop; its `Finished` event follows."""
        ...

    def stop_all(self) -> list[AttemptReport]:
        """Stop every attempt not yet finished and wait for them (a cancel or a signal)."""
        ...

    def find_leftovers(self, handles: Iterable[AttemptHandle]) -> list[Leftover]:
        """Which recorded attempts of a dead run still have live processes."""
        ...

    def stop_leftovers(self, handles: Iterable[AttemptHandle]) -> list[Leftover]:
        """Stop what is alive of the recorded attempts of a dead run; returns what was hit."""
        ...

    def wake(self) -> None:
        """Make a `wait` in progress return None now (safe from any thread): something the
        runner waits for besides attempts (a machine slot) may have come free."""
        ...

    def close(self) -> None: ...
