"""What a finished attempt does to its sheet's record: accounting, errors and the next status."""

from __future__ import annotations

import contextlib
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from mzt.execute.attempt import AttemptReport
from mzt.run.decisions import AttemptVerdict, Decision
from mzt.run.limits import Limits
from mzt.state import (
    CheckpointErrorRecord,
    CheckpointState,
    ErrorCategory,
    JsonStateBackend,
    OutcomeCategory,
    SheetState,
    SheetStatus,
)
from mzt.state.atomic import atomic_write
from mzt.support import paths, records


@records.record(frozen=True)
class Applied:
    """What an attempt changed, for the reporter and the scheduler."""

    sheet_num: int
    status: str
    detail: str
    completed: bool = False
    failed: bool = False
    wait: float = 0.0


class AttemptOutcomes:
    """The record changes that follow an attempt's decision; `Bookkeeper` builds on these."""

    limits: Limits
    store: JsonStateBackend
    workspace: Path
    job_id: str
    outputs: str  # the outputs folder as a string, named once: every completion uses it

    def _capture(self, record: SheetState, report: AttemptReport) -> None:
        outcome = report.outcome
        record.exit_code = outcome.exit_code
        record.exit_signal = outcome.signal
        record.exit_reason = _exit_reason(outcome.reason)  # type: ignore[assignment]
        record.execution_duration_seconds = outcome.duration
        record.capture_output(outcome.stdout_tail, outcome.stderr_tail)
        record.output_truncated = record.output_truncated or outcome.truncated
        record.last_activity_at = datetime.now(UTC)

    def _settle_record(self, record: SheetState) -> None:
        """Leave out of a finished sheet what its other fields already say.

        Its completion time is its last activity, and the mode belonged to the attempt
        that ended. A sheet done in one attempt needs no summary of that attempt nor a sum
        of durations: its own exit code, duration and times are that attempt's (the full
        record is in the history).
        """
        record.reset("last_activity_at", "execution_mode")
        if record.attempt_count == 1 and len(record.attempt_results) == 1:
            only = record.attempt_results[0]
            if not only.get("rate_limited") and not only.get("cost_usd"):
                record.reset("attempt_results", "total_duration_seconds")

    def _apply(
        self,
        state: CheckpointState,
        record: SheetState,
        report: AttemptReport,
        verdict: AttemptVerdict,
        decision: Decision,
    ) -> Applied:
        num = report.spec.sheet_num
        error = report.error
        rate_limited = decision.action == "wait"
        cost = self.limits.account(state, record, report)
        record.record_attempt(
            _Accounting(
                decision.action in ("complete", "completion"), rate_limited, report, cost.usd
            )
        )
        if error is not None:
            record.error_code = error.code
            record.error_category = ErrorCategory(error.category)
            record.error_message = error.message
            record.add_error_to_history(
                CheckpointErrorRecord(
                    error_type=error.error_type,
                    error_code=error.code,
                    error_message=error.message,
                    attempt_number=report.spec.attempt,
                    context={
                        "exit_code": report.outcome.exit_code,
                        "signal": report.outcome.signal,
                        "category": error.category,
                        "exit_reason": report.outcome.reason,
                        "duration_seconds": report.outcome.duration,
                        "instrument": report.spec.instrument_name,
                    },
                    stdout_tail=record.stdout_tail,
                    stderr_tail=record.stderr_tail,
                )
            )
        self._settle_output(num, report, completed=decision.action == "complete")
        if decision.action == "complete":
            state.mark_sheet_completed(
                num,
                validation_passed=True,
                validation_details=record.validation_details,
                execution_duration_seconds=report.outcome.duration,
            )
            record.error_message = None
            record.error_code = None
            record.error_category = None
            # How it succeeded (first try, retry, completion) is what attempt_count and
            # completion_attempts say; outcome_category is kept for the ways a sheet fails.
            record.outcome_category = None
            self._settle_record(record)
            return Applied(num, "completed", _pass_detail(verdict, report), completed=True)
        if decision.action == "completion":
            record.completion_attempts += 1
            self._schedule(state, record, decision.delay, "completion")
            return Applied(num, "completion", decision.reason, wait=decision.delay)
        if decision.action == "retry":
            # record_attempt above already counted this failed execution.
            self._schedule(state, record, decision.delay, "retry")
            self.store.record_event(
                state,
                "retry_scheduled",
                sheet_num=num,
                delay=decision.delay,
                reason=decision.reason,
            )
            return Applied(num, "retry", decision.reason, wait=decision.delay)
        if decision.action == "wait":
            moved, wait = self.limits.rate_limited(state, record, decision)
            if moved:
                return Applied(num, "fallback", f"{decision.reason}; moving to {moved}")
            return Applied(num, "rate_limited", decision.reason, wait=wait)
        if decision.action == "fallback":
            target = record.advance_fallback(decision.fallback_reason)
            record.status = SheetStatus.PENDING
            record.execution_mode = None
            return Applied(num, "fallback", f"{decision.reason}; moving to {target}")
        state.mark_sheet_failed(
            num,
            decision.reason,
            error_category=error.category if error else "validation",
            exit_code=report.outcome.exit_code,
            exit_signal=report.outcome.signal,
            exit_reason=_exit_reason(report.outcome.reason),  # type: ignore[arg-type]
            execution_duration_seconds=report.outcome.duration,
            error_code=error.code if error else None,
        )
        record.outcome_category = (
            OutcomeCategory.FAILED_FATAL
            if error is not None and not error.retriable
            else OutcomeCategory.FAILED_EXHAUSTED
        )
        self._settle_record(record)
        return Applied(num, "failed", decision.reason, failed=True)

    def _schedule(
        self, state: CheckpointState, record: SheetState, delay: float, mode: str
    ) -> None:
        record.status = SheetStatus.RETRY_SCHEDULED
        record.execution_mode = mode  # type: ignore[assignment]
        record.fire_at = datetime.now(UTC) + timedelta(seconds=delay)
        state.updated_at = datetime.now(UTC)

    def _settle_output(self, num: int, report: AttemptReport, completed: bool) -> None:
        """Keep the published result of a completing attempt; otherwise put back the old one."""
        published = report.published
        if completed:
            if published is None:  # an empty result leaves no file (readers take it as "")
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(f"{self.outputs}/{paths.sheet_output_name(num)}")  # noqa: PTH108
            return
        if published is None:
            return
        if published.previous is None:
            published.path.unlink(missing_ok=True)
        else:
            atomic_write(published.path, published.previous, durable=False)


@records.record(frozen=True)
class _Accounting:
    """Adapter for `SheetState.record_attempt`: success means "consumed no retry budget"."""

    execution_success: bool
    rate_limited: bool
    report: AttemptReport
    cost_usd: float

    @property
    def duration_seconds(self) -> float:
        return self.report.outcome.duration

    @property
    def exit_code(self) -> int | None:
        return self.report.outcome.exit_code


def _exit_reason(reason: str) -> str:
    return {
        "completed": "completed",
        "timeout": "timeout",
        "stale": "timeout",
        "cancelled": "killed",
        "interrupted": "killed",
    }.get(reason, "error")


def _pass_detail(verdict: AttemptVerdict, report: AttemptReport) -> str:
    """How a completed sheet passed; the validations can pass although the instrument
    failed (the score's rule), and that must not read as a plain success."""
    passed = (
        "no validations"
        if verdict.validations == 0
        else f"{verdict.passed}/{verdict.validations} validations passed"
    )
    if verdict.execution_success:
        return passed
    outcome = report.outcome
    if outcome.exit_code not in (None, 0):
        how = f"exited {outcome.exit_code}"
    elif outcome.signal is not None:
        how = f"killed by signal {outcome.signal}"
    else:
        how = {"timeout": "timed out", "stale": "went silent"}.get(outcome.reason, "failed")
    return f"{how}; {passed}"
