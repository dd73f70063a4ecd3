"""Which sheet may start next, kept up to date as sheets change, never by rescanning.

A 10,000-sheet job must not pay for 10,000 sheets at every step. The schedule counts,
for every sheet, the dependencies that are not yet satisfied; a sheet whose count drops
to zero while it is pending enters the ready heap, and sheets waiting for a backoff or
a rate limit sit in a heap ordered by the time they may run. Heaps are cleaned lazily:
an entry is checked against the sheet's current status when it surfaces.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from mzt.state import CheckpointState, SheetState, SheetStatus

if TYPE_CHECKING:
    from mzt.score.plan import Plan

_TIMED = (SheetStatus.RETRY_SCHEDULED, SheetStatus.WAITING)


def satisfies(record: SheetState | None) -> bool:
    """Completed, or skipped on purpose (a skip with an error code is a blocked one)."""
    if record is None:
        return True
    if record.status == SheetStatus.COMPLETED:
        return True
    return record.status == SheetStatus.SKIPPED and record.error_code is None


def dead_end(record: SheetState | None) -> bool:
    """Failed, cancelled or blocked: what depends on it can never run in this run."""
    if record is None:
        return False
    if record.status in (SheetStatus.FAILED, SheetStatus.CANCELLED):
        return True
    return record.status == SheetStatus.SKIPPED and record.error_code is not None


class PlanDependencies(Mapping[int, tuple[int, ...]]):
    """Each planned sheet's dependencies, read from the plan (no copy of them per sheet)."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan

    def __getitem__(self, num: int) -> tuple[int, ...]:
        if not 1 <= num <= self.plan.total_sheets:
            raise KeyError(num)
        return self.plan.sheet(num).dependencies

    def __iter__(self) -> Iterator[int]:
        return (sheet.num for sheet in self.plan.sheets)

    def __len__(self) -> int:
        return self.plan.total_sheets


class Schedule:
    """Ready and timed sheets of one run."""

    def __init__(self, deps: Mapping[int, tuple[int, ...]], state: CheckpointState) -> None:
        self.deps = deps
        growing: dict[int, list[int]] = {}
        for num, sources in deps.items():
            for source in sources:
                growing.setdefault(source, []).append(num)
        # Tuples, and none for a sheet nothing depends on: one list per sheet, grown by
        # appends, would cost a big job more than its sheets' plans.
        self.dependents: dict[int, tuple[int, ...]] = {n: tuple(d) for n, d in growing.items()}
        self.unmet: dict[int, int] = {}
        # Whether a satisfied sheet has been counted off its dependents, by sheet number: a
        # byte each, where a set would cost a big job some fifty.
        self._counted = bytearray(max(max(deps, default=0), max(growing, default=0)) + 1)
        self._ready: list[int] = []
        self._timed: list[tuple[float, int]] = []
        for num in deps:  # every planned sheet has a record before anything is counted
            state.sheet(num)
        for num, sources in deps.items():
            self.unmet[num] = sum(1 for s in sources if not satisfies(state.sheets.get(s)))
        for num in deps:
            record = state.sheet(num)
            if satisfies(record):
                self._counted[num] = 1
            self._enqueue(num, record)

    def _enqueue(self, num: int, record: SheetState) -> None:
        if record.status == SheetStatus.PENDING and self.unmet[num] == 0:
            heapq.heappush(self._ready, num)
        elif record.status in _TIMED:
            heapq.heappush(self._timed, (_fire(record), num))

    def changed(self, state: CheckpointState, num: int) -> list[int]:
        """Take note of ``num``'s new status; returns pending sheets it leaves stranded.

        The caller marks those as blocked and reports each of them back here in turn.
        """
        record = state.sheet(num)
        counted = self._counted
        if satisfies(record) and not (num < len(counted) and counted[num]):
            if num < len(counted):  # beyond it, a sheet nothing depends on: nothing to count
                counted[num] = 1
            for dependent in self.dependents.get(num, ()):
                self.unmet[dependent] -= 1
                self._enqueue(dependent, state.sheet(dependent))
            return []
        if dead_end(record):
            return [
                d
                for d in self.dependents.get(num, ())
                if state.sheet(d).status == SheetStatus.PENDING
            ]
        self._enqueue(num, record)
        return []

    def peek(self, state: CheckpointState, now: float) -> int | None:
        """The lowest-numbered sheet that may start now (it stays queued)."""
        while self._timed and self._timed[0][0] <= now:
            _, num = heapq.heappop(self._timed)
            record = state.sheet(num)
            if record.status in _TIMED and (
                record.fire_at is None or record.fire_at.timestamp() <= now
            ):
                heapq.heappush(self._ready, num)
            elif record.status in _TIMED:  # rescheduled later: keep its newer entry only
                continue
        while self._ready:
            num = self._ready[0]
            record = state.sheet(num)
            startable = record.status == SheetStatus.PENDING or (
                record.status in _TIMED
                and (record.fire_at is None or record.fire_at.timestamp() <= now)
            )
            if startable and self.unmet[num] == 0:
                return num
            heapq.heappop(self._ready)
        return None

    def peek_after(self, state: CheckpointState, num: int, now: float) -> int | None:
        """The sheet `peek` would give once ``num`` (running now) completes, if nothing
        else changed by then."""
        freed = [
            d
            for d in self.dependents.get(num, ())
            if self.unmet[d] == 1 and state.sheet(d).status == SheetStatus.PENDING
        ]
        ready = self.peek(state, now)
        return min(freed if ready is None else [*freed, ready], default=None)

    def take(self, num: int) -> None:
        """``num`` is being started: drop it from the ready heap."""
        if self._ready and self._ready[0] == num:
            heapq.heappop(self._ready)
        else:
            self._ready = [n for n in self._ready if n != num]
            heapq.heapify(self._ready)

    def next_wake(self, state: CheckpointState, now: float) -> float | None:
        """When a sheet may next start (``now`` if one may now); None when none ever will."""
        if self.peek(state, now) is not None:
            return now
        while self._timed:
            fire, num = self._timed[0]
            if self._current(state, fire, num):
                return fire
            heapq.heappop(self._timed)  # superseded by a later entry of the same sheet
        return None

    @staticmethod
    def _current(state: CheckpointState, fire: float, num: int) -> bool:
        """Whether a timed entry still describes the sheet (it may have been rescheduled)."""
        record = state.sheet(num)
        return record.status in _TIMED and _fire(record) == fire


def _fire(record: SheetState) -> float:
    return record.fire_at.timestamp() if record.fire_at else 0.0
