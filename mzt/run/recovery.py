"""`mzt recover`: check a failed sheet's work again without running its instrument.

An agent can do a sheet's work and still fail it: a non-zero exit after the files were
written, a check that looked a moment too early, a file a person then fixed by hand.
Recovering runs the failed sheets' validations again, with the same rules, field values
and modification-time baselines an attempt uses (`mzt.run.sheetrun.SheetPreparer`,
`mzt.validation.engine`), against the score the job ran with (the copy in its
checkpoint). It all happens under the job's run lock, so it never races a run (a held
lock is exit 75).

* A sheet whose validations all pass becomes completed: its validation details are
  replaced, its error cleared, the completion watermark advanced, and the history gets a
  ``recovered`` line. A sheet without validations is never recovered: nothing would show
  that its work was done.
* A sheet whose validations still fail stays failed, with the new validation details
  (history: ``recovery_failed``).
* The job becomes completed once every sheet is completed or skipped on purpose; a sheet
  blocked by a failed dependency still has to run, so then the job stays as it was and
  `mzt resume` runs what is left.

With ``dry_run`` the same checks run and the report says what would happen; nothing is
written (the lock is still taken, so the answer is not about a moving target).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from mzt.instruments import Registry
from mzt.run.after.hooks import hold_for_resume
from mzt.run.bookkeeping import BLOCKED_CODE  # a skip with an error code is a block
from mzt.run.launch import locate_job, score_for_job
from mzt.run.sheetrun import SheetPreparer, stored_baseline
from mzt.score.models import PostSuccessHook
from mzt.state import CheckpointState, JobStatus, JsonStateBackend, SheetStatus
from mzt.state.structs import EMPTY_LIST
from mzt.state.takeover import record_take_over
from mzt.support import records
from mzt.support.errors import JobNotFoundError, UsageError
from mzt.support.exitcodes import ExitCode
from mzt.validation.engine import failure_line, run_validations
from mzt.validation.report import ValidationReport

HELD_BY_RECOVER = "held: the job was completed by mzt recover, not by a run"


@records.record(frozen=True)
class SheetRecovery:
    """The verdict on one failed sheet."""

    sheet_num: int
    recovered: bool
    passed: int
    total: int
    failures: tuple[str, ...] = ()
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "sheet_num": self.sheet_num,
            "recovered": self.recovered,
            "status": "completed" if self.recovered else "failed",
            "validations": {"passed": self.passed, "total": self.total},
            "failures": list(self.failures),
            "reason": self.reason,
        }


@records.record(frozen=True)
class RecoveryReport:
    """What `recover_job` did (or, with ``dry_run``, would do)."""

    job_id: str
    workspace: Path
    dry_run: bool
    previous_status: str
    status: str
    sheets: tuple[SheetRecovery, ...]
    waiting: tuple[int, ...] = ()  # blocked sheets a resume still has to run
    hooks_held: int = 0  # on_success hooks of the job it completed, left to `mzt resume`

    @property
    def recovered(self) -> list[int]:
        return [s.sheet_num for s in self.sheets if s.recovered]

    @property
    def still_failed(self) -> list[int]:
        return [s.sheet_num for s in self.sheets if not s.recovered]

    @property
    def exit_code(self) -> int:
        """0 when every sheet looked at passes (or none had failed), else 1."""
        return int(ExitCode.FAILED if self.still_failed else ExitCode.OK)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": "mzt.recover/1",
            "job_id": self.job_id,
            "workspace": str(self.workspace),
            "dry_run": self.dry_run,
            "previous_status": self.previous_status,
            "status": self.status,
            "recovered": self.recovered,
            "still_failed": self.still_failed,
            "waiting": list(self.waiting),
            "hooks_held": self.hooks_held,
            "sheets": [s.to_json() for s in self.sheets],
            "exit_code": self.exit_code,
        }


def recover_job(
    job: str,
    *,
    workspace: Path | None = None,
    sheet: int | None = None,
    dry_run: bool = False,
    take_over: bool = False,
) -> RecoveryReport:
    """Validate the job's failed sheets (all, or ``sheet``) again; see the module text.

    A job another host marks running raises ForeignHostError (exit 75) unless
    ``take_over``: then it is taken over as `mzt resume --take-over` would, and recorded
    (not in a dry run, which writes nothing).
    """
    job_id, ws = locate_job(job, workspace)
    store = JsonStateBackend(ws, allow_foreign_host=take_over)
    try:
        with store.run_lock(job_id):
            state = store.load_for_run(job_id, command="recover")
            if state is None:
                raise JobNotFoundError(job_id, [str(store.state_path(job_id))])
            report = _recover(store, state, ws, sheet, dry_run)
            taken = store.taken_over
            if taken is not None and not dry_run:
                state.taken_over = taken
                store.save(state)
                record_take_over(store, state, taken)
            return report
    finally:
        store.close()


def _recover(
    store: JsonStateBackend,
    state: CheckpointState,
    ws: Path,
    only: int | None,
    dry_run: bool,
) -> RecoveryReport:
    previous = state.status.value
    wanted = _sheets_to_check(state, only)
    verdicts: list[SheetRecovery] = []
    hooks: list[PostSuccessHook] = []
    if wanted:
        prepared = score_for_job(state, ws)
        hooks = list(prepared.loaded.score.on_success)
        if prepared.plan.total_sheets != state.total_sheets:
            raise UsageError(
                f"job {state.job_id}'s stored score has {prepared.plan.total_sheets} sheets, "
                f"its checkpoint {state.total_sheets}",
                hint=f"run it again with `mzt run SCORE -w {ws}`",
            )
        # Validations need no instrument: none is looked up, no profile file is read.
        preparer = SheetPreparer(prepared, Registry({}), dict(os.environ))
        for num in wanted:
            verdicts.append(_check(state, preparer, num, dry_run))
    status = previous
    waiting = tuple(
        sorted(
            n
            for n, s in state.sheets.items()
            if s.status == SheetStatus.SKIPPED and s.error_code == BLOCKED_CODE
        )
    )
    held = 0
    if any(v.recovered for v in verdicts):
        status = _settle(state, dry_run, verdicts, waiting)
        if status == JobStatus.COMPLETED.value and previous != status:
            # No run completed the job, so no run fired its hooks: they wait for a resume.
            held = len(hooks) if dry_run else hold_for_resume(state, hooks, HELD_BY_RECOVER)
    if verdicts and not dry_run:
        store.save(state)
        for v in verdicts:
            event = "recovered" if v.recovered else "recovery_failed"
            store.record_event(state, event, sheet_num=v.sheet_num, passed=v.passed, total=v.total)
    return RecoveryReport(
        state.job_id, ws, dry_run, previous, status, tuple(verdicts), waiting, held
    )


def _sheets_to_check(state: CheckpointState, only: int | None) -> list[int]:
    failed = sorted(n for n, s in state.sheets.items() if s.status == SheetStatus.FAILED)
    if only is None:
        return failed
    if not 1 <= only <= state.total_sheets:
        raise UsageError(
            f"job {state.job_id} has no sheet {only} (it has {state.total_sheets})",
            hint="pick a failed sheet: `mzt status` lists them",
        )
    if only not in failed:
        status = state.sheets[only].status.value if only in state.sheets else "pending"
        raise UsageError(
            f"sheet {only} of job {state.job_id} is {status}, not failed; only failed "
            "sheets are recovered",
            hint=f"`mzt status {state.job_id}` shows the failed sheets",
        )
    return [only]


def _check(
    state: CheckpointState,
    preparer: SheetPreparer,
    num: int,
    dry_run: bool,
) -> SheetRecovery:
    record = state.sheet(num)
    sheet = preparer.plan.sheet(num)
    rules, context = preparer.checks(sheet, preparer.choice(sheet, record))
    if not rules:
        return SheetRecovery(
            num, False, 0, 0, reason="the sheet has no validations that could show its work"
        )
    report = run_validations(
        rules,
        context,
        workspace=preparer.workspace,
        baseline=stored_baseline(record) or {},
        environ=preparer.environ,
    )
    passed = len(report.passed_indices)
    failures = tuple(failure_line(r) for r in report.results if not r.passed)
    verdict = SheetRecovery(num, report.all_passed, passed, len(report.results), failures)
    if not dry_run:
        _record(state, num, report)
    return verdict


def _record(state: CheckpointState, num: int, report: ValidationReport) -> None:
    record = state.sheet(num)
    record.validation_passed = report.all_passed
    record.passed_validations = [str(i) for i in report.passed_indices] or EMPTY_LIST
    record.failed_validations = [str(i) for i in report.failed_indices] or EMPTY_LIST
    record.last_pass_percentage = report.pass_percent
    if not report.all_passed:
        record.validation_details = report.details()
        return
    # mark_sheet_completed would complete the job itself; the job is settled afterwards.
    # The exit code stays the attempt's own: the instrument did exit that way.
    status, exit_code = state.status, record.exit_code
    state.mark_sheet_completed(num, True, report.details())
    state.status, record.exit_code = status, exit_code
    record.outcome_category = None  # as for any completed sheet (mzt.run.outcomes)
    record.error_message = None
    record.error_category = None
    record.error_code = None
    record.exit_reason = None


def _settle(
    state: CheckpointState,
    dry_run: bool,
    verdicts: list[SheetRecovery],
    waiting: tuple[int, ...],
) -> str:
    """The job's status once the recovered sheets count as completed."""
    recovered = {v.sheet_num for v in verdicts if v.recovered}

    def done(num: int) -> bool:
        record = state.sheets.get(num)
        if num in recovered:
            return True
        return record is not None and (
            record.status == SheetStatus.COMPLETED
            or (record.status == SheetStatus.SKIPPED and record.error_code != BLOCKED_CODE)
        )

    if all(done(n) for n in range(1, state.total_sheets + 1)):
        if not dry_run:
            state.mark_job_completed()
            state.error_message = None
        return JobStatus.COMPLETED.value
    if dry_run:
        return state.status.value
    failed = sorted(n for n, s in state.sheets.items() if s.status == SheetStatus.FAILED)
    if state.status == JobStatus.FAILED:
        parts = [f"sheets failed: {', '.join(map(str, failed))}"] if failed else []
        if waiting:
            parts.append(f"blocked sheets to run: {', '.join(map(str, waiting))}")
        state.error_message = "; ".join(parts) or state.error_message
    return state.status.value
