"""Progress events of a run: what the runner tells whoever shows them.

The runner calls a `Reporter`; it never formats text itself. The command line's
`mzt.cli.progress.LineReporter` prints one line per event; `NullReporter` says nothing
(``--quiet`` and ``--json``, where only the final document or the errors are printed).
`Tally` turns the same events into a `Progress` snapshot for a live status view.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from mzt.support import records


class Reporter(Protocol):
    def run_started(
        self, job_id: str, total: int, workspace: str, how: str, done: int, concurrency: int
    ) -> None: ...

    def sheet_started(self, num: int, attempt: int, instrument: str, mode: str) -> None: ...

    def sheet_finished(self, num: int, status: str, detail: str) -> None: ...

    def sheet_waiting(self, num: int, kind: str, seconds: float, reason: str) -> None: ...

    def note(self, message: str) -> None: ...

    def spent(self, usd: float) -> None:
        """The job's estimated cost so far (after an attempt that may have added to it)."""

    def tick(self) -> None:
        """The run loop is awake (several times a second while anything runs or waits)."""

    def run_finished(self, status: str, completed: int, total: int, seconds: float) -> None: ...


class NullReporter:
    """Says nothing."""

    def run_started(
        self, job_id: str, total: int, workspace: str, how: str, done: int, concurrency: int
    ) -> None:
        pass

    def sheet_started(self, num: int, attempt: int, instrument: str, mode: str) -> None:
        pass

    def sheet_finished(self, num: int, status: str, detail: str) -> None:
        pass

    def sheet_waiting(self, num: int, kind: str, seconds: float, reason: str) -> None:
        pass

    def note(self, message: str) -> None:
        pass

    def spent(self, usd: float) -> None:
        pass

    def tick(self) -> None:
        pass

    def run_finished(self, status: str, completed: int, total: int, seconds: float) -> None:
        pass


@records.record(frozen=True)
class Progress:
    """Where a run stands at one moment. ``eta`` is None until a sheet has finished after
    running (nothing to estimate from) and once nothing is left."""

    done: int
    total: int
    failed: int
    running: int
    waiting: int
    next_wait: Wait | None  # the wait that ends first
    retries: int
    elapsed: float
    eta: float | None
    cost: float


@records.record(frozen=True)
class Wait:
    """A sheet waiting to run again: ``kind`` is retry, completion or rate_limited."""

    sheet: int
    kind: str
    reason: str
    seconds_left: float


@records.record
class _Wait:
    kind: str
    reason: str
    until: float


class Tally:
    """Counts a run's events into `Progress` snapshots (main thread only, O(1) per event)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.started = clock()
        self.total = 0
        self.done = 0
        self.failed = 0
        self.retries = 0
        self.cost = 0.0
        self.concurrency = 1
        self.first_start: dict[int, float] = {}  # sheets running or waiting to run again
        self.running: set[int] = set()
        self.waits: dict[int, _Wait] = {}
        self.timed = 0  # finished sheets that ran in this run, and their summed durations
        self.time_spent = 0.0

    def run_started(self, total: int, done: int, concurrency: int) -> None:
        self.started = self.clock()
        self.total, self.done, self.concurrency = total, done, max(1, concurrency)

    def sheet_started(self, num: int) -> None:
        self.first_start.setdefault(num, self.clock())
        self.running.add(num)
        self.waits.pop(num, None)

    def sheet_finished(self, num: int, status: str) -> None:
        self.running.discard(num)
        self.waits.pop(num, None)
        self.done += 1
        self.failed += status == "failed"
        began = self.first_start.pop(num, None)
        if began is not None:
            self.timed += 1
            self.time_spent += self.clock() - began

    def sheet_waiting(self, num: int, kind: str, seconds: float, reason: str) -> None:
        self.running.discard(num)
        self.waits[num] = _Wait(kind, reason, self.clock() + max(0.0, seconds))
        self.retries += kind in ("retry", "completion")

    def spent(self, usd: float) -> None:
        self.cost = usd

    def snapshot(self) -> Progress:
        now = self.clock()
        left = max(0, self.total - self.done)
        eta = None
        if self.timed and left:
            # Work left: a mean sheet for each sheet not done, less what the running ones
            # have already had of theirs; shared over the lanes that can still be busy.
            mean = self.time_spent / self.timed
            had = sum(min(mean, now - self.first_start[n]) for n in self.running)
            eta = max(0.0, mean * left - had) / min(self.concurrency, left)
        return Progress(
            done=self.done,
            total=self.total,
            failed=self.failed,
            running=len(self.running),
            waiting=len(self.waits),
            next_wait=self._soonest_wait(now),
            retries=self.retries,
            elapsed=now - self.started,
            eta=eta,
            cost=self.cost,
        )

    def _soonest_wait(self, now: float) -> Wait | None:
        if not self.waits:
            return None
        num, wait = min(self.waits.items(), key=lambda item: item[1].until)
        return Wait(num, wait.kind, wait.reason, max(0.0, wait.until - now))
