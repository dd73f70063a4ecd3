"""Per-sheet state: statuses, error and fallback records, and :class:`SheetState`.

These models are what the checkpoint (``<job>.json``) stores for each sheet; their
``model_dump(mode="json")`` form is part of mzt's file contract (on disk, fields still at
their default are left out). Lists that grow with every attempt are bounded so a long retry
storm cannot bloat the checkpoint.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from msgspec import Meta, field

from mzt.state.records import (
    AppliedPatternDict,
    AttemptOutcome,
    AttemptResultDict,
    CheckpointErrorRecord,
    ExecutionMode,
    ExitReason,
    FallbackRecordDict,
    OpenAppliedPattern,
    OpenAttemptResult,
    OpenFallbackRecord,
    OpenOutcomeData,
    OpenProgressSnapshot,
    OpenPromptMetrics,
    OpenValidationDetail,
    utc_now,
)
from mzt.state.statuses import JobStatus as JobStatus  # re-exported: statuses live with the models
from mzt.state.statuses import SheetStatus as SheetStatus
from mzt.state.structs import EMPTY_DICT, EMPTY_LIST, Model
from mzt.support.log import get_logger

logger = get_logger("mzt.state")

MAX_ERROR_HISTORY = 50
MAX_INSTRUMENT_FALLBACK_HISTORY = 50
MAX_ATTEMPT_RESULTS = 50
MAX_OUTPUT_CAPTURE_BYTES = 10 * 1024
UNKNOWN_FAILURE = "Unknown failure (no error message was recorded)"


class OutcomeCategory(StrEnum):
    """How a sheet's execution ended, for reporting."""

    SUCCESS_FIRST_TRY = "success_first_try"
    SUCCESS_RETRY = "success_retry"
    SUCCESS_COMPLETION = "success_completion"
    FAILED_EXHAUSTED = "failed_exhausted"
    FAILED_FATAL = "failed_fatal"
    SKIPPED_BY_ESCALATION = "skipped_by_escalation"


class ErrorCategory(StrEnum):
    """Broad class of an error, as the error classifier assigns it."""

    RATE_LIMIT = "rate_limit"
    TRANSIENT = "transient"
    VALIDATION = "validation"
    AUTH = "auth"
    NETWORK = "network"
    TIMEOUT = "timeout"
    SIGNAL = "signal"
    FATAL = "fatal"
    CONFIGURATION = "configuration"
    PREFLIGHT = "preflight"
    ESCALATION = "escalation"


_PENDING = SheetStatus.PENDING
_COMPLETED = SheetStatus.COMPLETED


def _pending_sheet() -> SheetStatus:
    return _PENDING


class SheetState(Model, kw_only=True):
    """Everything the checkpoint records about one sheet.

    Its list and dict fields start as the shared empty ones (see
    :data:`~mzt.state.structs.EMPTY_LIST`): a writer appends through
    :meth:`~mzt.state.structs.Model.own_list`, or assigns a new list.
    """

    sheet_num: Annotated[int, Meta(ge=1)]
    # A factory rather than a plain default, so the file always names the status.
    status: SheetStatus = field(default_factory=_pending_sheet)
    started_at: datetime | None = None
    completed_at: datetime | None = None
    attempt_count: int = 0
    exit_code: int | None = None
    exit_signal: int | None = None
    exit_reason: ExitReason | None = None
    execution_duration_seconds: float | None = None
    error_message: str | None = None
    error_category: ErrorCategory | None = None
    error_code: str | None = None
    validation_passed: bool | None = None
    validation_details: list[OpenValidationDetail] | None = None
    instrument_name: str | None = None
    instrument_model: str | None = None
    movement: int | None = None
    voice: int | None = None
    completion_attempts: int = 0
    passed_validations: list[str] = EMPTY_LIST
    failed_validations: list[str] = EMPTY_LIST
    last_pass_percentage: float | None = None
    execution_mode: ExecutionMode | None = None
    success_without_retry: bool = False
    outcome_category: OutcomeCategory | None = None
    outcome_data: OpenOutcomeData | None = None
    stdout_tail: str | None = None
    stderr_tail: str | None = None
    output_truncated: bool = False
    prompt_metrics: OpenPromptMetrics | None = None
    preflight_warnings: list[str] = EMPTY_LIST
    progress_snapshots: list[OpenProgressSnapshot] = EMPTY_LIST
    last_activity_at: datetime | None = None
    error_history: list[CheckpointErrorRecord] = EMPTY_LIST
    instrument_fallback_history: list[OpenFallbackRecord] = EMPTY_LIST
    attempt_results: list[OpenAttemptResult] = EMPTY_LIST
    applied_patterns: list[OpenAppliedPattern] = EMPTY_LIST
    fire_at: datetime | None = None
    rate_limit_expires_at: datetime | None = None
    normal_attempts: int = 0
    max_retries: int = 3
    max_completion: int = 5
    total_cost_usd: float = 0.0
    total_duration_seconds: float = 0.0
    model: str | None = None
    fallback_chain: list[str] = EMPTY_LIST
    current_instrument_index: int = 0
    fallback_attempts: dict[str, int] = EMPTY_DICT
    sheet_timeout_seconds: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    estimated_cost: float | None = None
    cost_confidence: float | None = None
    agent_feedback: dict[str, Any] | None = None
    # Where the sheet's running attempt is (an executor's handle record), written before
    # the attempt may start and cleared when it ends: a run that dies leaves it behind,
    # so the next one can stop what is left of that attempt.
    attempt_handle: dict[str, Any] | None = None
    # The sheet's own git worktree (`isolation.per_sheet`) and the commit it started from;
    # unset for every other run, so the slim encoding leaves them out.
    worktree_path: str | None = None
    worktree_base_commit: str | None = None

    def __post_init__(self) -> None:
        # A loaded or constructed sheet always carries the fields its status implies, so
        # readers never meet a completed sheet without a completion time.
        status = self.status
        # Nearly every sheet of a big job, loaded ten thousand at a time: the members are
        # module globals here, looking them up on their enum class costs more than the test.
        if (
            (status is _COMPLETED and self.completed_at is not None) or status is _PENDING
        ) and self.sheet_num >= 1:
            return
        if self.sheet_num < 1:
            raise ValueError(f"sheet_num must be greater than or equal to 1, not {self.sheet_num}")
        if status == SheetStatus.PENDING:
            return
        if status == SheetStatus.COMPLETED and self.completed_at is None:
            self.completed_at = self.started_at or utc_now()
        elif status == SheetStatus.IN_PROGRESS and self.started_at is None:
            self.started_at = utc_now()
        elif status == SheetStatus.FAILED and not self.error_message:
            self.error_message = UNKNOWN_FAILURE

    # --- pattern bookkeeping ---------------------------------------------------------------

    @property
    def applied_pattern_ids(self) -> list[str]:
        """Ids of the applied patterns, in order."""
        return [p.get("id", "") for p in self.applied_patterns]

    @applied_pattern_ids.setter
    def applied_pattern_ids(self, ids: list[str]) -> None:
        descriptions = self.applied_pattern_descriptions
        self.applied_patterns = [
            AppliedPatternDict(id=i, description=descriptions[n] if n < len(descriptions) else "")
            for n, i in enumerate(ids)
        ]

    @property
    def applied_pattern_descriptions(self) -> list[str]:
        """Descriptions of the applied patterns, in the same order as the ids."""
        return [p.get("description", "") for p in self.applied_patterns]

    @applied_pattern_descriptions.setter
    def applied_pattern_descriptions(self, descriptions: list[str]) -> None:
        ids = self.applied_pattern_ids
        self.applied_patterns = [
            AppliedPatternDict(id=ids[n] if n < len(ids) else "", description=d)
            for n, d in enumerate(descriptions)
        ]

    # --- budgets ---------------------------------------------------------------------------

    @property
    def can_retry(self) -> bool:
        """Whether a full retry is still within ``max_retries``."""
        return self.normal_attempts < self.max_retries

    @property
    def can_complete(self) -> bool:
        """Whether another completion-mode attempt is still within ``max_completion``."""
        return self.completion_attempts < self.max_completion

    @property
    def is_exhausted(self) -> bool:
        """Whether both the retry and the completion budgets are spent."""
        return not self.can_retry and not self.can_complete

    @property
    def total_attempts(self) -> int:
        """Attempts that consumed budget: full retries plus completion attempts."""
        return self.normal_attempts + self.completion_attempts

    @property
    def has_fallback_available(self) -> bool:
        """Whether the fallback chain still has an instrument to switch to."""
        return self.current_instrument_index < len(self.fallback_chain)

    def record_attempt(self, result: AttemptOutcome) -> None:
        """Account for a finished attempt.

        Every attempt adds its cost and duration and is summarised in ``attempt_results``;
        only an attempt that failed for a reason other than a rate limit consumes retry
        budget (``normal_attempts``).
        """
        summary = AttemptResultDict(
            attempt=self.attempt_count,
            success=bool(result.execution_success),
            # Microseconds are all a duration is good for; longer floats only cost bytes.
            duration_seconds=round(float(result.duration_seconds or 0.0), 6),
            timestamp=utc_now().isoformat().replace("+00:00", "Z"),
        )
        # Keys at their obvious value (not rate limited, nothing spent, no exit code) are
        # left out: a record is kept per attempt, and readers take a missing one as such.
        if result.rate_limited:
            summary["rate_limited"] = True
        cost = float(result.cost_usd or 0.0)
        if cost:
            summary["cost_usd"] = cost
        exit_code = getattr(result, "exit_code", None)
        if exit_code is not None:
            summary["exit_code"] = exit_code
        self.own_list("attempt_results").append(summary)
        if len(self.attempt_results) > MAX_ATTEMPT_RESULTS:
            self.attempt_results = self.attempt_results[-MAX_ATTEMPT_RESULTS:]
        # Only when non-zero: a sum still at its default stays the default object, which is
        # what lets the encoder leave it out of the files.
        if cost:
            self.total_cost_usd += cost
        if summary["duration_seconds"]:
            self.total_duration_seconds = round(
                self.total_duration_seconds + summary["duration_seconds"], 6
            )
        if not result.rate_limited and not result.execution_success:
            self.normal_attempts += 1

    def advance_fallback(self, reason: str) -> str | None:
        """Switch to the next instrument of the fallback chain, with fresh budgets.

        Records how many attempts the previous instrument used and the transition itself;
        the model override is dropped because a fallback runs with its own default model.
        Returns the new instrument name, or ``None`` when the chain is exhausted.
        """
        if not self.has_fallback_available:
            return None
        previous = self.instrument_name or ""
        self.own_dict("fallback_attempts")[previous] = self.normal_attempts
        target = self.fallback_chain[self.current_instrument_index]
        self.current_instrument_index += 1
        self.instrument_name = target
        self.model = None
        self.instrument_model = None
        self.normal_attempts = 0
        self.completion_attempts = 0
        self.add_fallback_to_history(
            {"from": previous, "to": target, "reason": reason, "timestamp": utc_now().isoformat()}
        )
        return target

    # --- output and history ----------------------------------------------------------------

    def capture_output(
        self, stdout: str | None, stderr: str | None, max_bytes: int = MAX_OUTPUT_CAPTURE_BYTES
    ) -> None:
        """Keep the last ``max_bytes`` of each stream, credentials redacted before the cut.

        ``output_truncated`` says whether either stream was longer than the limit; empty
        streams are stored as ``None``.
        """
        if not stdout and not stderr:  # most attempts of a script print nothing at all
            self.stdout_tail = self.stderr_tail = None
            self.output_truncated = False
            return
        from mzt.support.redact import get_redactor, redact_tail  # only a run captures output

        redactor = get_redactor()
        out, _ = redact_tail(stdout or None, max_bytes, redactor)
        err, _ = redact_tail(stderr or None, max_bytes, redactor)
        self.stdout_tail = out or None
        self.stderr_tail = err or None
        # Judged on the streams as produced: redaction may shrink a long output under the
        # limit, but the tail still is not everything the instrument wrote.
        self.output_truncated = any(
            len(stream.encode("utf-8", errors="replace")) > max_bytes
            for stream in (stdout or "", stderr or "")
        )

    def add_error_to_history(self, error: CheckpointErrorRecord) -> None:
        """Append an error record, keeping only the newest ``MAX_ERROR_HISTORY``."""
        self.own_list("error_history").append(error)
        if len(self.error_history) > MAX_ERROR_HISTORY:
            self.error_history = self.error_history[-MAX_ERROR_HISTORY:]

    def add_fallback_to_history(self, record: FallbackRecordDict | dict[str, str]) -> None:
        """Append a fallback transition, keeping only the newest ones."""
        self.own_list("instrument_fallback_history").append(record)
        if len(self.instrument_fallback_history) > MAX_INSTRUMENT_FALLBACK_HISTORY:
            self.instrument_fallback_history = self.instrument_fallback_history[
                -MAX_INSTRUMENT_FALLBACK_HISTORY:
            ]

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready form (every field, defaults included)."""
        return self.model_dump(mode="json")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SheetState:
        """Rebuild from :meth:`to_dict` output."""
        return cls.model_validate(data)
