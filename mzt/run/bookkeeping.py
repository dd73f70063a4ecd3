"""The run's bookkeeping: every change the runner makes to the checkpoint, and when.

`Bookkeeper` owns the sheet state machine (pending → in progress → completed, retry
scheduled, waiting, failed, skipped, cancelled), the job's opening and closing rules,
and persistence: a sheet transition is journaled before a child is started and after
it ends, so a crash at any moment leaves a checkpoint that a later run continues from.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from mzt.execute.attempt import AttemptReport, AttemptSpec
from mzt.execute.base import AttemptHandle
from mzt.run.circuit import Breakers
from mzt.run.decisions import AttemptVerdict, decide
from mzt.run.limits import Limits
from mzt.run.opening import NOTHING_TO_DO, open_state
from mzt.run.outcomes import Applied, AttemptOutcomes
from mzt.run.reporting import Reporter
from mzt.run.schedule import PlanDependencies, Schedule, dead_end
from mzt.run.skips import run_skip_command
from mzt.score.conditions import ExpressionError, compile_expression, evaluate_expression
from mzt.score.instrumentation import InstrumentChoice
from mzt.state import CheckpointState, JsonStateBackend, OutcomeCategory, SheetStatus
from mzt.state.structs import EMPTY_LIST
from mzt.support import paths
from mzt.support.exitcodes import ExitCode

if TYPE_CHECKING:
    from mzt.run.results import RunOptions
    from mzt.score.preparation import PreparedScore

BLOCKED_CODE = "E999"  # a skip with an error code means "blocked", not "skipped on purpose"


class Bookkeeper(AttemptOutcomes):
    """Every checkpoint change of one run (main thread only)."""

    def __init__(
        self,
        prepared: PreparedScore,
        store: JsonStateBackend,
        options: RunOptions,
        *,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.prepared = prepared
        self.score = prepared.loaded.score
        self.plan = prepared.plan
        self.store = store
        self.options = options
        self.rng = rng
        self.job_id = prepared.job_id
        self.workspace = prepared.workspace
        self.outputs = str(paths.outputs_dir(self.workspace, self.job_id))
        self.deps = PlanDependencies(self.plan)
        self.schedule: Schedule
        self.blocked: list[int] = []  # sheets blocked since the reporter last looked
        self.notes: list[str] = []  # what opening the run has to say (archiving on --fresh)
        self.unwritten_starts: set[int] = set()  # started, line left to the placement
        self.chain_of: Callable[[int], list[InstrumentChoice]] = lambda num: [
            self.plan.sheet(num).instrument,
            *self.plan.sheet(num).fallbacks,
        ]
        # The runner replaces chain_of (it knows --instrument); look it up at call time.
        self.limits = Limits(
            self.score,
            store,
            self.job_id,
            lambda num: self.chain_of(num),
            fixed_instrument=bool(options.instrument),
        )
        self.circuits = Breakers(
            self.score.circuit_breaker,
            store,
            self.job_id,
            lambda num: self.chain_of(num),
            fixed_instrument=bool(options.instrument),
            rate_limited=self.limits.active,
        )

    # --- opening -------------------------------------------------------------------------------

    def open(
        self, settle: Callable[[CheckpointState], Collection[int]] | None = None
    ) -> tuple[CheckpointState, str]:
        """Load or create the checkpoint (see `mzt.run.opening`) and build the schedule."""
        state, how = open_state(self.prepared, self.store, self.options, settle, self.notes)
        if how == NOTHING_TO_DO:
            return state, how
        self.schedule = Schedule(self.deps, state)
        for num in sorted(state.sheets):  # dependents of sheets that failed before this run
            if dead_end(state.sheets[num]):
                self.changed(state, num)
        return state, how

    # --- scheduling ----------------------------------------------------------------------------

    def changed(self, state: CheckpointState, num: int) -> None:
        """Tell the schedule about a status change; block what can no longer run."""
        stranded = self.schedule.changed(state, num)
        while stranded:
            dependent = stranded.pop()
            record = state.sheet(dependent)
            if record.status != SheetStatus.PENDING:
                continue
            dead = [d for d in self.deps[dependent] if dead_end(state.sheets.get(d))]
            listing = ", ".join(map(str, dead))
            state.mark_sheet_skipped(dependent, f"Blocked by failed dependency: sheet {listing}")
            record.error_code = BLOCKED_CODE
            self.store.record_sheet(state, dependent, event="sheet_blocked")
            self.blocked.append(dependent)
            stranded.extend(self.schedule.changed(state, dependent))

    def drain_blocked(self) -> list[int]:
        """Sheets blocked since the last call (for the reporter)."""
        blocked, self.blocked = self.blocked, []
        return blocked

    def next_ready(self, state: CheckpointState) -> int | None:
        """The lowest-numbered sheet that may start now."""
        return self.schedule.peek(state, time.time())

    def next_after(self, state: CheckpointState, num: int) -> int | None:
        """The sheet `next_ready` would give once ``num``, running now, completes."""
        return self.schedule.peek_after(state, num, time.time())

    def next_wake(self, state: CheckpointState) -> float | None:
        """When something may next become runnable (epoch seconds); None when all is done."""
        return self.schedule.next_wake(state, time.time())

    # --- skip rules ----------------------------------------------------------------------------

    def skip_if_needed(self, state: CheckpointState, num: int, environ: dict[str, str]) -> bool:
        """Evaluate `skip_when` / `skip_when_command` before a sheet's first attempt."""
        record = state.sheet(num)
        if record.attempt_count > 0:
            return False
        sheet = self.plan.sheet(num)
        reason = None
        if sheet.skip_when:
            try:
                tree = compile_expression(sheet.skip_when)
                names = {
                    "sheets": {n: s.model_dump(mode="json") for n, s in state.sheets.items()},
                    "job": state.model_dump(mode="json", exclude={"sheets", "config_snapshot"}),
                }
                if evaluate_expression(tree, names):
                    reason = f"skip_when: {sheet.skip_when}"
            except (ExpressionError, LookupError, TypeError, ValueError, AttributeError):
                reason = None  # an expression that cannot be evaluated never skips
        rule = sheet.skip_when_command
        if reason is None and rule is not None and run_skip_command(rule, self.workspace, environ):
            reason = rule.description or f"skip_when_command: {rule.command}"
        if reason is None:
            return False
        state.mark_sheet_skipped(num, reason)
        self.store.record_sheet(state, num, event="sheet_skipped")
        self.changed(state, num)
        return True

    # --- attempts ------------------------------------------------------------------------------

    def attempt_started(self, state: CheckpointState, num: int, spec: AttemptSpec) -> None:
        self.schedule.take(num)
        state.mark_sheet_started(num)
        record = state.sheet(num)
        record.instrument_name = spec.instrument_name
        record.instrument_model = spec.model
        # A normal attempt is what a sheet without a mode runs (see SheetPreparer.prepare).
        if spec.mode != "normal":
            record.execution_mode = spec.mode  # type: ignore[assignment]
        record.fire_at = None
        if spec.instrument_name not in state.instruments_used:
            state.instruments_used.append(spec.instrument_name)
        state.sheets_in_progress = sorted({*state.sheets_in_progress, num})
        # Written with the handle, in one line: until the child is placed nothing of the
        # attempt exists, and a held child that loses mzt exits without running.
        self.unwritten_starts.add(num)

    def attempt_placed(self, state: CheckpointState, handle: AttemptHandle) -> None:
        """Record the start and where the attempt runs before it may do anything.

        A plain write, not fsync'd: a killed mzt cannot lose it, and a machine crash takes
        the attempt down with it. Losing it to a power cut only loses the attempt count,
        since a sheet that is not completed in the checkpoint runs again either way.
        """
        state.sheet(handle.sheet_num).attempt_handle = handle.to_record()
        self._write_start(state, handle.sheet_num)

    def _write_start(self, state: CheckpointState, num: int) -> None:
        if num in self.unwritten_starts:
            self.unwritten_starts.discard(num)
            self.store.record_sheet(state, num, event="attempt_started", durable=False)

    def attempt_stopped(
        self, state: CheckpointState, report: AttemptReport, *, back_to_pending: bool
    ) -> None:
        """An attempt cut short by a signal or a cancel: it consumes no budget."""
        num = report.spec.sheet_num
        self._write_start(state, num)
        record = state.sheet(num)
        record.attempt_handle = None
        self._capture(record, report)
        state.sheets_in_progress = [n for n in state.sheets_in_progress if n != num]
        self.circuits.attempt_finished(state, report)  # a trial cut short frees the circuit
        if back_to_pending:
            record.status = SheetStatus.PENDING
        else:
            record.status = SheetStatus.CANCELLED
            record.completed_at = datetime.now(UTC)
        self.store.record_sheet(state, num, event="attempt_stopped")
        if back_to_pending:  # a cancelled job ends here; nothing downstream gets "blocked"
            self.changed(state, num)

    def attempt_finished(self, state: CheckpointState, report: AttemptReport) -> Applied:
        num = report.spec.sheet_num
        self._write_start(state, num)  # never placed (it could not be spawned)
        record = state.sheet(num)
        record.attempt_handle = None
        state.sheets_in_progress = [n for n in state.sheets_in_progress if n != num]
        if report.stopped:
            self.attempt_stopped(state, report, back_to_pending=True)
            return Applied(num, "pending", "stopped")
        self._capture(record, report)
        validation = report.validation
        if validation is not None:
            record.validation_passed = validation.all_passed
        if validation is not None and validation.results:
            # Without a rule that applied there is nothing to detail: validation_passed
            # alone says it (status reads the pass rate from it then).
            record.validation_details = validation.details()
            record.passed_validations = [str(i) for i in validation.passed_indices] or EMPTY_LIST
            record.failed_validations = [str(i) for i in validation.failed_indices] or EMPTY_LIST
            record.last_pass_percentage = validation.pass_percent
        verdict = AttemptVerdict(
            execution_success=report.execution_success,
            validations=len(report.spec.rules),
            passed=len(validation.passed_indices) if validation else 0,
            error=report.error,
        )
        decision = decide(
            verdict,
            config=self.score.retry,
            failed_executions=record.normal_attempts,
            completion_attempts=record.completion_attempts,
            has_fallback=record.has_fallback_available and not self.options.instrument,
            rng=self.rng,
        )
        applied = self._apply(state, record, report, verdict, decision)
        woken = self.circuits.attempt_finished(state, report)
        self.store.record_execution(
            self.job_id,
            num,
            report.spec.attempt,
            prompt=report.spec.prompt,
            output=report.outcome.stdout_tail,
            exit_code=report.outcome.exit_code,
            duration_seconds=report.outcome.duration,
            durable=False,  # the transition line just below makes both durable soon
        )
        self.limits.check_budget(state, num)
        # Its fsync runs beside the next sheet (see mzt.state.syncer): a sheet's end
        # must not wait for the disk.
        event = f"attempt_{decision.action}"
        self.store.record_sheet(state, num, *woken, event=event, durable="soon")
        for changed in (num, *woken):
            self.changed(state, changed)
        return applied

    def hold_for_limit(self, state: CheckpointState, num: int) -> str | None:
        """Before a sheet starts: why it waits instead (``rate_limited``, ``circuit_open``).

        The rate limit is asked first, then the circuit of the instrument the sheet has
        now (a fallback either moved to is asked too)."""
        checks = (
            ("rate_limited", "rate_limit", self.limits.before_start),
            ("circuit_open", "circuit", self.circuits.before_start),
        )
        for kind, event, check in checks:
            verdict = check(state, num)
            if verdict is None:
                continue
            self.store.record_sheet(state, num, event=f"{verdict}_for_{event}")
            if verdict == "waiting":
                self.changed(state, num)
                return kind
        return None

    def unrenderable(
        self, state: CheckpointState, num: int, message: str, code: str = "E301"
    ) -> None:
        """A prompt that cannot be rendered cannot be fixed by retrying: fail the sheet."""
        state.mark_sheet_failed(num, message, error_category="configuration", error_code=code)
        self.circuits.abandon(num)  # a trial it was admitted to never ran
        state.sheet(num).outcome_category = OutcomeCategory.FAILED_FATAL
        self.store.record_sheet(state, num, event="sheet_failed")
        self.changed(state, num)

    # --- endings -------------------------------------------------------------------------------

    def finish(self, state: CheckpointState, *, halted: bool = False) -> tuple[int, str]:
        """Nothing is left to run: completed unless a sheet failed.

        ``halted``: a failure stopped the run early (parallel.fail_fast); sheets not yet
        started are marked blocked, so a resume runs them.
        """
        failed = sorted(n for n, s in state.sheets.items() if s.status == SheetStatus.FAILED)
        stuck = sorted(n for n, s in state.sheets.items() if not s.status.is_terminal)
        reason = (
            "not started: a sheet failed and parallel.fail_fast stopped the run"
            if halted
            else "never became runnable"
        )
        for num in stuck:  # without fail_fast this cannot happen with a valid plan
            state.mark_sheet_skipped(num, reason)
            state.sheet(num).error_code = BLOCKED_CODE
        if failed:
            blocked = sorted(
                n
                for n, s in state.sheets.items()
                if s.status == SheetStatus.SKIPPED and s.error_code is not None
            )
            message = f"sheets failed: {', '.join(map(str, failed))}"
            if blocked:
                message += f"; blocked by failed dependencies: {', '.join(map(str, blocked))}"
            state.mark_job_failed(message)
            self.store.save(state)
            return ExitCode.FAILED, message
        state.mark_job_completed()
        state.error_message = None
        self.store.save(state)
        return ExitCode.OK, "completed"

    def pause(self, state: CheckpointState, message: str) -> None:
        self.circuits.abandon()
        state.mark_job_paused()
        state.error_message = message
        state.sheets_in_progress = []
        self.store.save(state)
        self.store.record_event(state, "paused", reason=message)

    def cancel(self, state: CheckpointState, message: str) -> None:
        self.circuits.abandon()
        state.mark_job_cancelled(message)
        state.sheets_in_progress = []
        self.store.save(state)
        self.store.record_event(state, "cancelled", reason=message)

    def report(self, applied: Applied, reporter: Reporter) -> None:
        if applied.status in ("retry", "completion", "rate_limited"):
            reporter.sheet_waiting(applied.sheet_num, applied.status, applied.wait, applied.detail)
        else:
            reporter.sheet_finished(applied.sheet_num, applied.status, applied.detail)
