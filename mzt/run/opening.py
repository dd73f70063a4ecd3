"""What a new run of a job is: fresh, a continuation, or nothing to do.

Called under the job's run lock. A completed job whose score is unchanged has nothing
to do; a changed score, `--fresh`, `--force` or a different sheet count start fresh;
anything else continues, with failed, cancelled, interrupted and blocked sheets going
back to pending with fresh budgets (sheets skipped on purpose stay skipped).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from mzt.run.decisions import retry_limit
from mzt.run.quick import moved_digest
from mzt.score.loader import snapshot
from mzt.score.notifysecrets import without_notification_secrets
from mzt.state import (
    CheckpointState,
    JobStatus,
    JsonStateBackend,
    SheetState,
    SheetStatus,
    registry,
)
from mzt.state.checkpoint import WriterInfo
from mzt.state.structs import EMPTY_LIST
from mzt.state.takeover import record_take_over

if TYPE_CHECKING:
    from mzt.run.results import RunOptions
    from mzt.score.preparation import PreparedScore

NOTHING_TO_DO = "nothing to do"


def open_state(
    prepared: PreparedScore,
    store: JsonStateBackend,
    options: RunOptions,
    settle: Callable[[CheckpointState], Collection[int]] | None = None,
    notes: list[str] | None = None,
) -> tuple[CheckpointState, str]:
    """Load or create the job's checkpoint under its run lock; say what kind of run this is.

    ``settle`` sees the loaded state first, before anything may discard it: what a dead
    run left running is stopped there, except the sheets it returns, whose attempts go on
    (re-attached): those stay in progress, with the budgets they had. A run another host
    marked running is refused (exit 75) unless the store allows taking it over
    (``--take-over``); then it goes on as after a dead local run, and the take-over is
    recorded in the checkpoint and the history, even when the run starts fresh. With
    ``--fresh`` the workspace is archived (or checked for stale outputs) first; what that
    says for the run output goes to ``notes``.
    """
    loaded = prepared.loaded
    plan = prepared.plan
    score = loaded.score
    state = store.load_for_run(prepared.job_id, command="resume" if options.resume else "run")
    taken = store.taken_over  # another host's run, taken over with --take-over
    running: Collection[int] = ()
    if state is not None and settle is not None:
        running = settle(state)
    how = "continuing"
    fresh = None
    if options.fresh:  # under the run lock, before the old checkpoint goes
        from mzt.run.workspace.fresh import fresh_start  # only --fresh pays for its imports

        fresh = fresh_start(prepared)
    if state is not None and options.fresh:
        store.delete(prepared.job_id)
        state, how = None, "starting fresh (--fresh)"
    if state is not None and state.status == JobStatus.COMPLETED:
        if options.force:
            state, how = None, "starting over (--force)"
        elif state.config_hash == loaded.digest and options.start_sheet is None:
            return state, NOTHING_TO_DO
        else:
            state, how = None, "starting fresh (the score changed since it completed)"
    if state is not None and state.total_sheets != plan.total_sheets:
        state, how = None, "starting fresh (the score now has a different number of sheets)"
    if state is None:
        state = _new_state(prepared)
        how = how if how != "continuing" else "starting"
    else:
        _reopen(state, prepared, running)
    if options.start_sheet is not None:
        _apply_start_sheet(state, options.start_sheet, plan.total_sheets)
    state.mark_job_running(None)
    state.writer = WriterInfo.current()
    state.error_message = None
    state.resume_at = None
    state.config_hash = loaded.digest
    # A run moved by -w records a hash that names the workspace too, so only a later
    # `mzt run -w` of the same place matches it, never one without -w.
    own = prepared.workspace == loaded.default_workspace()
    digest = loaded.file_digest
    state.config_file_hash = (
        digest if own or digest is None else moved_digest(digest, prepared.workspace)
    )
    state.config_path = loaded.source if loaded.source != "<snapshot>" else state.config_path
    state.config_snapshot = without_notification_secrets(snapshot(loaded.document.data))
    state.parallel_enabled = score.parallel.enabled
    state.parallel_max_concurrent = score.parallel.max_concurrent
    if taken is not None:
        state.taken_over = taken
        how += f"; {taken.describe()}"
    # Registered first: from the moment its checkpoint says it runs, a job is found from
    # anywhere (a record whose checkpoint is not there yet is left alone while the lock
    # is held, see `mzt.views.clearing`).
    registry.register(prepared.job_id, prepared.workspace, _score_path(prepared))
    store.save(state)
    if taken is not None:
        record_take_over(store, state, taken)
    store.record_event(state, "run_started", how=how)
    if fresh is not None:
        fresh.record(store, state)
        if notes is not None:
            notes.extend(fresh.notes)
    return state, how


def _score_path(prepared: PreparedScore) -> Path | None:
    source = prepared.loaded.source
    return Path(source) if source != "<snapshot>" else None


def _new_state(prepared: PreparedScore) -> CheckpointState:
    plan, score = prepared.plan, prepared.loaded.score
    state = CheckpointState(
        job_id=prepared.job_id,
        job_name=score.name,
        total_sheets=plan.total_sheets,
        total_movements=plan.total_stages,
    )
    for sheet in plan.sheets:
        record = state.sheet(sheet.num)
        fresh_budget(prepared, record, sheet.num)
    return state


def fresh_budget(prepared: PreparedScore, record: SheetState, num: int) -> None:
    """Start the sheet over on its primary instrument with untouched budgets."""
    plan, score = prepared.plan, prepared.loaded.score
    sheet = plan.sheet(num)
    record.max_retries = retry_limit(score.retry)
    record.max_completion = score.retry.max_completion_attempts
    record.normal_attempts = 0
    record.completion_attempts = 0
    record.execution_mode = None
    # Nearly every sheet has no fallback: it keeps the shared empty list, not one of its own.
    record.fallback_chain = [f.name for f in sheet.fallbacks] or EMPTY_LIST
    record.current_instrument_index = 0
    record.instrument_name = sheet.instrument.name
    record.model = None
    record.movement = sheet.stage
    record.voice = sheet.instance if sheet.fan_count > 1 else None
    record.fire_at = None


def _reopen(state: CheckpointState, prepared: PreparedScore, running: Collection[int]) -> None:
    """Continue a stopped job: unfinished, failed, cancelled and blocked sheets go again
    (but not those in ``running``: their attempts still run)."""
    state.rate_limit_waits = 0
    state.quota_waits = 0
    state.cost_limit_reached = False
    for num in range(1, prepared.plan.total_sheets + 1):
        record = state.sheet(num)
        if num not in running and runs_again(record):
            record.status = SheetStatus.PENDING
            record.error_message = None
            record.error_code = None
            record.error_category = None
            record.completed_at = None
            fresh_budget(prepared, record, num)


def runs_again(record: SheetState) -> bool:
    """Whether continuing the job runs this sheet: unfinished, failed, cancelled or
    blocked by a failed dependency (skipped by a rule or completed: no)."""
    blocked = record.status == SheetStatus.SKIPPED and record.error_code is not None
    again = record.status in (SheetStatus.FAILED, SheetStatus.CANCELLED) or blocked
    return again or not record.status.is_terminal


def _apply_start_sheet(state: CheckpointState, start: int, total: int) -> None:
    """Earlier sheets count as done; ones that already ended keep their status."""
    for num in range(1, min(start, total + 1)):
        record = state.sheet(num)
        if not record.status.is_terminal:
            record.status = SheetStatus.COMPLETED
            record.completed_at = datetime.now(UTC)
            record.error_message = "marked completed by --start-sheet"
    state.last_completed_sheet = max(state.last_completed_sheet, start - 1)
