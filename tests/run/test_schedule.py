"""The incremental schedule: readiness by dependency counts, timed sheets, stranded dependents."""

from __future__ import annotations

import heapq
import time
import types
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mzt.run import schedule as schedule_module
from mzt.run.schedule import PlanDependencies, Schedule, dead_end, satisfies
from mzt.score.loader import load_score
from mzt.score.plan import build_plan
from mzt.state import CheckpointState, SheetState, SheetStatus
from tests.helpers import minimal, write_score

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
NOW = T0.timestamp()
BLOCKED = "E999"

Deps = dict[int, tuple[int, ...]]


def new_state(total: int, **statuses: SheetStatus) -> CheckpointState:
    """A state with a record for every sheet; ``s3=SheetStatus.FAILED`` sets sheet 3."""
    state = CheckpointState(job_id="job", job_name="job", total_sheets=total)
    for num in range(1, total + 1):
        state.sheet(num)
    for key, status in statuses.items():
        state.sheet(int(key[1:])).status = status
    return state


def set_status(
    state: CheckpointState,
    num: int,
    status: SheetStatus,
    *,
    fire_in: float | None = None,
    error_code: str | None = None,
) -> SheetState:
    record = state.sheet(num)
    record.status = status
    record.fire_at = None if fire_in is None else T0 + timedelta(seconds=fire_in)
    record.error_code = error_code
    return record


def start(schedule: Schedule, state: CheckpointState, num: int) -> None:
    schedule.take(num)
    set_status(state, num, SheetStatus.IN_PROGRESS)
    schedule.changed(state, num)


def finish(
    schedule: Schedule,
    state: CheckpointState,
    num: int,
    status: SheetStatus = SheetStatus.COMPLETED,
    *,
    fire_in: float | None = None,
    error_code: str | None = None,
) -> list[int]:
    """Give ``num`` its new status and report it, as the runner does."""
    set_status(state, num, status, fire_in=fire_in, error_code=error_code)
    return schedule.changed(state, num)


def chain(n: int) -> Deps:
    return {num: ((num - 1,) if num > 1 else ()) for num in range(1, n + 1)}


# --- satisfies / dead_end ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "ok", "dead"),
    [
        (SheetStatus.COMPLETED, None, True, False),
        (SheetStatus.SKIPPED, None, True, False),
        (SheetStatus.SKIPPED, BLOCKED, False, True),
        (SheetStatus.FAILED, "E009", False, True),
        (SheetStatus.CANCELLED, None, False, True),
        (SheetStatus.PENDING, None, False, False),
        (SheetStatus.IN_PROGRESS, None, False, False),
        (SheetStatus.RETRY_SCHEDULED, None, False, False),
        (SheetStatus.WAITING, None, False, False),
    ],
)
def test_satisfies_and_dead_end(
    status: SheetStatus, code: str | None, ok: bool, dead: bool
) -> None:
    record = SheetState(sheet_num=1, status=status, error_code=code)
    assert satisfies(record) is ok
    assert dead_end(record) is dead


def test_missing_record_satisfies_and_is_no_dead_end() -> None:
    assert satisfies(None)
    assert not dead_end(None)


# --- readiness --------------------------------------------------------------------------------


def test_chain_runs_in_order() -> None:
    state = new_state(3)
    schedule = Schedule(chain(3), state)
    order = []
    while (num := schedule.peek(state, NOW)) is not None:
        order.append(num)
        start(schedule, state, num)
        assert schedule.peek(state, NOW) is None  # the next one waits for this one
        assert finish(schedule, state, num) == []
    assert order == [1, 2, 3]


def test_lowest_number_first() -> None:
    state = new_state(4)
    schedule = Schedule({4: (), 2: (), 3: (), 1: ()}, state)
    taken = []
    while (num := schedule.peek(state, NOW)) is not None:
        taken.append(num)
        start(schedule, state, num)
    assert taken == [1, 2, 3, 4]


def test_lowest_number_first_whatever_order_sheets_become_ready() -> None:
    state = new_state(6)
    deps: Deps = {1: (), 2: (1,), 3: (2,), 4: (1,), 5: (1,), 6: (2,)}
    schedule = Schedule(deps, state)
    start(schedule, state, 1)
    finish(schedule, state, 1)
    assert schedule.peek(state, NOW) == 2
    start(schedule, state, 2)
    assert schedule.peek(state, NOW) == 4
    finish(schedule, state, 2)
    assert schedule.peek(state, NOW) == 3


def test_peek_leaves_the_sheet_queued() -> None:
    state = new_state(2)
    schedule = Schedule({1: (), 2: ()}, state)
    assert schedule.peek(state, NOW) == 1
    assert schedule.peek(state, NOW) == 1


def test_fan_in_needs_every_dependency() -> None:
    state = new_state(4)
    schedule = Schedule({1: (), 2: (), 3: (), 4: (1, 2, 3)}, state)
    for num in (1, 2, 3):
        start(schedule, state, num)
    assert schedule.unmet[4] == 3
    for num in (3, 1):
        finish(schedule, state, num)
        assert schedule.peek(state, NOW) is None
    finish(schedule, state, 2)
    assert schedule.unmet[4] == 0
    assert schedule.peek(state, NOW) == 4


def test_a_completion_reported_twice_counts_once() -> None:
    state = new_state(3)
    schedule = Schedule({1: (), 2: (), 3: (1, 2)}, state)
    start(schedule, state, 1)
    start(schedule, state, 2)
    finish(schedule, state, 1)
    schedule.changed(state, 1)
    schedule.changed(state, 1)
    assert schedule.unmet[3] == 1
    assert schedule.peek(state, NOW) is None
    finish(schedule, state, 2)
    assert schedule.peek(state, NOW) == 3


def test_counts_start_from_the_state() -> None:
    state = new_state(4, s1=SheetStatus.COMPLETED, s2=SheetStatus.FAILED)
    schedule = Schedule({1: (), 2: (), 3: (1,), 4: (1, 2)}, state)
    assert schedule.unmet == {1: 0, 2: 0, 3: 0, 4: 1}
    assert schedule.peek(state, NOW) == 3  # 1 is done, 2 failed (not pending), 4 waits


def test_a_dependency_outside_the_graph_is_satisfied() -> None:
    state = CheckpointState(job_id="job", job_name="job", total_sheets=2)
    state.sheet(2)
    schedule = Schedule({2: (1,)}, state)
    assert schedule.peek(state, NOW) == 2


def test_a_sheet_without_a_record_is_pending_for_its_dependents() -> None:
    state = CheckpointState(job_id="job", job_name="job", total_sheets=2)
    schedule = Schedule({1: (), 2: (1,)}, state)
    assert schedule.peek(state, NOW) == 1
    start(schedule, state, 1)
    assert schedule.peek(state, NOW) is None
    finish(schedule, state, 1)
    assert schedule.peek(state, NOW) == 2


def test_non_pending_sheets_are_not_ready() -> None:
    state = new_state(
        4, s1=SheetStatus.IN_PROGRESS, s2=SheetStatus.COMPLETED, s3=SheetStatus.FERMATA
    )
    schedule = Schedule({1: (), 2: (), 3: (), 4: ()}, state)
    assert schedule.peek(state, NOW) == 4


def test_a_sheet_put_back_to_pending_is_ready_again() -> None:
    state = new_state(2)
    schedule = Schedule({1: (), 2: ()}, state)
    start(schedule, state, 1)
    start(schedule, state, 2)
    assert schedule.peek(state, NOW) is None
    finish(schedule, state, 2, SheetStatus.PENDING)  # an attempt stopped by a signal
    assert schedule.peek(state, NOW) == 2


def test_a_stale_ready_entry_is_skipped() -> None:
    state = new_state(2)
    schedule = Schedule({1: (), 2: ()}, state)
    set_status(state, 1, SheetStatus.COMPLETED)  # changed elsewhere, entry still queued
    assert schedule.peek(state, NOW) == 2


# --- take -------------------------------------------------------------------------------------


def test_take_the_first() -> None:
    state = new_state(3)
    schedule = Schedule({1: (), 2: (), 3: ()}, state)
    schedule.take(1)
    assert schedule.peek(state, NOW) == 2


def test_take_one_from_the_middle() -> None:
    state = new_state(3)
    schedule = Schedule({1: (), 2: (), 3: ()}, state)
    schedule.take(2)
    assert schedule.peek(state, NOW) == 1
    schedule.take(1)
    assert schedule.peek(state, NOW) == 3
    schedule.take(3)
    assert schedule.peek(state, NOW) is None


def test_take_of_an_unqueued_sheet_is_harmless() -> None:
    state = new_state(2)
    schedule = Schedule({1: (), 2: ()}, state)
    schedule.take(7)
    assert schedule.peek(state, NOW) == 1


# --- timed sheets -----------------------------------------------------------------------------


@pytest.mark.parametrize("status", [SheetStatus.RETRY_SCHEDULED, SheetStatus.WAITING])
def test_timed_sheet_is_ready_only_when_due(status: SheetStatus) -> None:
    state = new_state(1)
    schedule = Schedule({1: ()}, state)
    start(schedule, state, 1)
    finish(schedule, state, 1, status, fire_in=30)
    assert schedule.peek(state, NOW) is None
    assert schedule.peek(state, NOW + 29.9) is None
    assert schedule.next_wake(state, NOW) == NOW + 30
    assert schedule.peek(state, NOW + 30) == 1
    assert schedule.next_wake(state, NOW + 30) == NOW + 30


@pytest.mark.parametrize("status", [SheetStatus.RETRY_SCHEDULED, SheetStatus.WAITING])
def test_timed_sheets_from_the_state(status: SheetStatus) -> None:
    state = new_state(2)
    set_status(state, 1, status, fire_in=10)
    set_status(state, 2, status, fire_in=5)
    schedule = Schedule({1: (), 2: ()}, state)
    assert schedule.peek(state, NOW) is None
    assert schedule.next_wake(state, NOW) == NOW + 5
    assert schedule.peek(state, NOW + 5) == 2
    assert schedule.peek(state, NOW + 10) == 1


def test_timed_sheet_without_a_time_is_due_at_once() -> None:
    state = new_state(1)
    set_status(state, 1, SheetStatus.RETRY_SCHEDULED)
    schedule = Schedule({1: ()}, state)
    assert schedule.peek(state, NOW) == 1


def test_a_due_timed_sheet_and_a_pending_one_lowest_first() -> None:
    state = new_state(3)
    schedule = Schedule({1: (), 2: (), 3: ()}, state)
    for num in (1, 2):
        start(schedule, state, num)
    finish(schedule, state, 1, SheetStatus.RETRY_SCHEDULED, fire_in=10)
    assert schedule.peek(state, NOW) == 3
    assert schedule.peek(state, NOW + 10) == 1


def test_a_rescheduled_sheet_keeps_only_its_newer_time() -> None:
    state = new_state(1)
    schedule = Schedule({1: ()}, state)
    start(schedule, state, 1)
    finish(schedule, state, 1, SheetStatus.WAITING, fire_in=10)
    finish(schedule, state, 1, SheetStatus.WAITING, fire_in=60)
    assert schedule.next_wake(state, NOW) == NOW + 60
    assert schedule.peek(state, NOW + 10) is None
    assert schedule.peek(state, NOW + 59) is None
    assert schedule.next_wake(state, NOW + 10) == NOW + 60
    assert schedule.peek(state, NOW + 60) == 1


def test_a_sheet_rescheduled_earlier_fires_at_the_earlier_time() -> None:
    state = new_state(1)
    schedule = Schedule({1: ()}, state)
    start(schedule, state, 1)
    finish(schedule, state, 1, SheetStatus.WAITING, fire_in=60)
    finish(schedule, state, 1, SheetStatus.WAITING, fire_in=10)
    assert schedule.next_wake(state, NOW) == NOW + 10
    assert schedule.peek(state, NOW + 10) == 1
    start(schedule, state, 1)
    assert schedule.peek(state, NOW + 60) is None  # the old entry is dropped


def test_a_timed_sheet_that_started_leaves_no_entry() -> None:
    state = new_state(1)
    schedule = Schedule({1: ()}, state)
    start(schedule, state, 1)
    finish(schedule, state, 1, SheetStatus.RETRY_SCHEDULED, fire_in=10)
    assert schedule.peek(state, NOW + 10) == 1
    start(schedule, state, 1)
    finish(schedule, state, 1)
    assert schedule.peek(state, NOW + 100) is None
    assert schedule.next_wake(state, NOW + 100) is None


# --- next_wake --------------------------------------------------------------------------------


def test_next_wake_is_now_when_a_sheet_is_ready() -> None:
    state = new_state(2)
    set_status(state, 2, SheetStatus.WAITING, fire_in=100)
    schedule = Schedule({1: (), 2: ()}, state)
    assert schedule.next_wake(state, NOW) == NOW


def test_next_wake_is_the_earliest_fire_time() -> None:
    state = new_state(3)
    set_status(state, 1, SheetStatus.WAITING, fire_in=300)
    set_status(state, 2, SheetStatus.RETRY_SCHEDULED, fire_in=20)
    set_status(state, 3, SheetStatus.RETRY_SCHEDULED, fire_in=40)
    schedule = Schedule({1: (), 2: (), 3: ()}, state)
    assert schedule.next_wake(state, NOW) == NOW + 20


def test_next_wake_is_none_when_nothing_can_run() -> None:
    state = new_state(2, s1=SheetStatus.COMPLETED, s2=SheetStatus.IN_PROGRESS)
    schedule = Schedule({1: (), 2: ()}, state)
    assert schedule.next_wake(state, NOW) is None


def test_next_wake_is_none_for_a_blocked_graph() -> None:
    state = new_state(2, s1=SheetStatus.FAILED)
    schedule = Schedule({1: (), 2: (1,)}, state)
    assert schedule.next_wake(state, NOW) is None


def test_next_wake_sees_past_a_rescheduled_sheet() -> None:
    state = new_state(2)
    schedule = Schedule({1: (), 2: ()}, state)
    start(schedule, state, 1)
    start(schedule, state, 2)
    finish(schedule, state, 1, SheetStatus.WAITING, fire_in=10)
    finish(schedule, state, 2, SheetStatus.RETRY_SCHEDULED, fire_in=20)
    finish(schedule, state, 1, SheetStatus.WAITING, fire_in=30)
    assert schedule.next_wake(state, NOW) == NOW + 20


# --- stranded dependents ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (SheetStatus.FAILED, "E009"),
        (SheetStatus.CANCELLED, None),
        (SheetStatus.SKIPPED, BLOCKED),
    ],
)
def test_dead_end_strands_its_pending_dependents(status: SheetStatus, code: str | None) -> None:
    state = new_state(5)
    schedule = Schedule({1: (), 2: (1,), 3: (1,), 4: (1,), 5: (2,)}, state)
    start(schedule, state, 1)
    set_status(state, 4, SheetStatus.COMPLETED)  # e.g. marked done by --start-sheet
    stranded = finish(schedule, state, 1, status, error_code=code)
    assert sorted(stranded) == [2, 3]  # direct dependents only, pending only
    assert schedule.peek(state, NOW) is None


def test_blocking_walks_the_graph_one_step_at_a_time() -> None:
    state = new_state(4)
    schedule = Schedule(chain(4), state)
    start(schedule, state, 1)
    stranded = finish(schedule, state, 1, SheetStatus.FAILED, error_code="E009")
    blocked = []
    while stranded:
        num = stranded.pop()
        blocked.append(num)
        stranded.extend(finish(schedule, state, num, SheetStatus.SKIPPED, error_code=BLOCKED))
    assert blocked == [2, 3, 4]
    assert schedule.next_wake(state, NOW) is None


def test_a_dead_end_without_dependents_strands_nothing() -> None:
    state = new_state(2)
    schedule = Schedule({1: (), 2: ()}, state)
    start(schedule, state, 1)
    assert finish(schedule, state, 1, SheetStatus.FAILED, error_code="E009") == []
    assert schedule.peek(state, NOW) == 2


def test_other_changes_strand_nothing() -> None:
    state = new_state(2)
    schedule = Schedule(chain(2), state)
    start(schedule, state, 1)
    assert finish(schedule, state, 1, SheetStatus.RETRY_SCHEDULED, fire_in=5) == []
    assert schedule.peek(state, NOW + 5) == 1


def test_intentional_skip_satisfies_dependents() -> None:
    state = new_state(3)
    schedule = Schedule({1: (), 2: (1,), 3: (1, 2)}, state)
    assert finish(schedule, state, 1, SheetStatus.SKIPPED) == []
    assert schedule.peek(state, NOW) == 2
    start(schedule, state, 2)
    finish(schedule, state, 2)
    assert schedule.peek(state, NOW) == 3


def test_intentional_skip_in_the_state_satisfies_dependents() -> None:
    state = new_state(2, s1=SheetStatus.SKIPPED)
    schedule = Schedule(chain(2), state)
    assert schedule.peek(state, NOW) == 2


def test_blocked_skip_in_the_state_does_not_satisfy_dependents() -> None:
    state = new_state(2)
    set_status(state, 1, SheetStatus.SKIPPED, error_code=BLOCKED)
    schedule = Schedule(chain(2), state)
    assert schedule.unmet[2] == 1
    assert schedule.peek(state, NOW) is None
    assert schedule.changed(state, 1) == [2]


# --- scale ------------------------------------------------------------------------------------


class _Work:
    """Counts the schedule's steps: sheet lookups, heap operations and the items every
    heap rebuild walks. Linear work is some steps a sheet (8 today); quadratic
    work (a rebuild or a scan per sheet) is thousands a sheet at 10,000 sheets."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.steps = 0
        lookup = CheckpointState.sheet

        def sheet(state: CheckpointState, num: int) -> SheetState:
            self.steps += 1
            return lookup(state, num)

        def counted(func: Callable[..., Any], weight: Callable[..., int]) -> Callable[..., Any]:
            def call(*args: Any) -> Any:
                self.steps += weight(*args)
                return func(*args)

            return call

        monkeypatch.setattr(CheckpointState, "sheet", sheet)
        fake = types.SimpleNamespace(
            heappush=counted(heapq.heappush, lambda *_: 1),
            heappop=counted(heapq.heappop, lambda *_: 1),
            heapify=counted(heapq.heapify, lambda items: len(items)),
        )
        monkeypatch.setattr(schedule_module, "heapq", fake)


def test_ten_thousand_sheet_fan_in_takes_linear_work(monkeypatch: pytest.MonkeyPatch) -> None:
    n = 10_000
    work = _Work(monkeypatch)
    deps: Deps = {num: () for num in range(1, n)}
    deps[n] = tuple(range(1, n))
    state = new_state(n)
    schedule = Schedule(deps, state)
    order = []
    while (num := schedule.peek(state, NOW)) is not None:
        order.append(num)
        schedule.take(num)
        state.sheets[num].status = SheetStatus.IN_PROGRESS
        state.sheets[num].status = SheetStatus.COMPLETED
        assert schedule.changed(state, num) == []
    assert order == list(range(1, n + 1))
    assert schedule.next_wake(state, NOW) is None
    assert work.steps < 50 * n, f"building and draining {n} sheets took {work.steps} steps"


def test_ten_thousand_sheet_fan_out_is_blocked_in_linear_work(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    n = 10_000
    work = _Work(monkeypatch)
    deps: Deps = {1: (), **{num: (1,) for num in range(2, n + 1)}}
    state = new_state(n)
    schedule = Schedule(deps, state)
    schedule.take(1)
    state.sheets[1].status = SheetStatus.FAILED
    stranded = schedule.changed(state, 1)
    for num in stranded:
        state.sheets[num].status = SheetStatus.SKIPPED
        state.sheets[num].error_code = BLOCKED
        assert schedule.changed(state, num) == []
    assert sorted(stranded) == list(range(2, n + 1))
    assert schedule.next_wake(state, NOW) is None
    assert work.steps < 50 * n, f"blocking {n} sheets took {work.steps} steps"


def test_taking_a_sheet_out_of_turn_rebuilds_the_heap(monkeypatch: pytest.MonkeyPatch) -> None:
    # The step count sees a rebuild: taking every sheet out of heap order is quadratic.
    n = 2_000
    work = _Work(monkeypatch)
    state = new_state(n)
    schedule = Schedule({num: () for num in range(1, n + 1)}, state)
    for num in range(n, 0, -1):
        schedule.take(num)
    assert work.steps > n * n // 4


def test_plan_dependencies_read_the_plan(tmp_path: Path) -> None:
    plan = build_plan(load_score(write_score(tmp_path, minimal())))
    deps = PlanDependencies(plan)
    assert dict(deps) == {s.num: s.dependencies for s in plan.sheets} == {1: (), 2: (1,), 3: (2,)}
    assert 4 not in deps and 0 not in deps
    schedule = Schedule(deps, new_state(3))
    assert schedule.peek(new_state(3), time.time()) == 1


# --- the sheet after the running one ----------------------------------------------------------


def test_peek_after_names_the_dependent_the_running_sheet_frees() -> None:
    state = new_state(4)
    schedule = Schedule(chain(4), state)
    start(schedule, state, 1)
    assert schedule.peek(state, NOW) is None  # 2 waits for 1
    assert schedule.peek_after(state, 1, NOW) == 2
    finish(schedule, state, 1)
    assert schedule.peek(state, NOW) == 2  # as foreseen


def test_peek_after_prefers_a_lower_sheet_already_ready() -> None:
    deps: Deps = {1: (), 2: (), 3: (1,)}
    state = new_state(3)
    schedule = Schedule(deps, state)
    start(schedule, state, 1)
    assert schedule.peek_after(state, 1, NOW) == 2
    start(schedule, state, 2)
    assert schedule.peek_after(state, 2, NOW) is None  # 3 still waits for 1
    assert schedule.peek_after(state, 1, NOW) == 3


def test_peek_after_skips_a_dependent_with_other_unmet_dependencies() -> None:
    deps: Deps = {1: (), 2: (), 3: (1, 2)}
    state = new_state(3)
    schedule = Schedule(deps, state)
    start(schedule, state, 1)
    start(schedule, state, 2)
    assert schedule.peek_after(state, 1, NOW) is None
    finish(schedule, state, 2)
    assert schedule.peek_after(state, 1, NOW) == 3
