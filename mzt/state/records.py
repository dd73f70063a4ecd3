"""Records kept inside the state: free-form dicts with documented keys, error records.

The ``TypedDict`` shapes document what the runner stores; extra keys are kept, so a record
written by a newer mzt survives a save by an older one.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol, Required, TypeAlias, TypedDict, cast

from msgspec import Struct, field

ExitReason = Literal["completed", "timeout", "killed", "error"]
ExecutionMode = Literal["normal", "completion", "retry"]


def utc_now() -> datetime:
    """The current time, timezone-aware UTC (what every timestamp in the state uses)."""
    return datetime.now(UTC)


# Free-form record types: keys are documented, extra keys survive a save/load round trip
# (on disk they are plain objects; the TypedDicts are what type checkers see).


class ValidationDetailDict(TypedDict, total=False):
    """One validation result; ``passed`` is the only key every entry must have."""

    rule_type: str | None
    description: str | None
    path: str | None
    pattern: str | None
    passed: Required[bool]
    actual_value: Any
    expected_value: Any
    error_message: str | None
    checked_at: str | None
    check_duration_ms: float | None
    failure_reason: str | None
    failure_category: str | None
    suggested_fix: str | None


class PromptMetricsDict(TypedDict, total=False):
    """Size and shape of a rendered prompt."""

    character_count: int
    estimated_tokens: int
    line_count: int
    has_file_references: bool
    referenced_paths: list[str]


class ProgressSnapshotDict(TypedDict, total=False):
    """What a running sheet had produced at one moment."""

    timestamp: str
    bytes_received: int
    lines_received: int
    phase: str


class ErrorContextDict(TypedDict, total=False):
    """Circumstances of one error; values are ``None`` when unknown."""

    exit_code: int | None
    signal: int | None
    category: str | None
    exit_reason: str | None
    duration_seconds: float | None
    instrument: str | None


class AppliedPatternDict(TypedDict, total=False):
    """A learned pattern that was applied to a prompt."""

    id: str
    description: str


class OutcomeDataDict(TypedDict, total=False):
    """Structured facts about a sheet's outcome."""

    validation_pass_rate: float
    retry_count: int
    completion_attempts: int
    final_status: str


class SynthesisResultDict(TypedDict, total=False):
    """Result of combining the outputs of a batch of sheets."""

    batch_id: str
    status: str
    sheets: list[int]
    result: Any
    created_at: str


class AttemptResultDict(TypedDict, total=False):
    """Summary of one attempt kept in the sheet (the full record is in the history).

    ``rate_limited`` (false), ``cost_usd`` (0) and ``exit_code`` (none) are present only
    when they say otherwise.
    """

    attempt: int
    success: bool
    rate_limited: bool
    cost_usd: float
    duration_seconds: float
    exit_code: int | None
    timestamp: str


# "from" is a keyword, hence the functional form.
FallbackRecordDict = TypedDict(
    "FallbackRecordDict", {"from": str, "to": str, "reason": str, "timestamp": str}
)


class CircuitBreakerRecordDict(TypedDict, total=False):
    """One circuit-breaker state change."""

    state: str
    timestamp: str
    trigger: str
    consecutive_failures: int
    instrument: str  # the profile whose circuit changed
    until: str  # when an open circuit lets a trial start


class AttemptOutcome(Protocol):
    """What :meth:`SheetState.record_attempt` needs to know about a finished attempt."""

    @property
    def execution_success(self) -> bool: ...

    @property
    def rate_limited(self) -> bool: ...

    @property
    def cost_usd(self) -> float: ...

    @property
    def duration_seconds(self) -> float: ...


class CheckpointErrorRecord(
    Struct, kw_only=True, omit_defaults=True, forbid_unknown_fields=True, repr_omit_defaults=True
):
    """One error that happened while running a sheet (kept per sheet, bounded)."""

    timestamp: datetime = field(default_factory=utc_now)
    error_type: Literal["transient", "rate_limit", "permanent"] = "transient"
    error_code: str | None = None
    error_message: str = ""
    attempt_number: int = 0
    # ``dict`` itself, so an empty context counts as the default and is left out.
    context: OpenErrorContext = field(default_factory=cast("Callable[[], ErrorContextDict]", dict))
    stdout_tail: str | None = None
    stderr_tail: str | None = None
    stack_trace: str | None = None


# What the decoder checks free-form records against: any JSON object, every key kept.
if TYPE_CHECKING:
    OpenValidationDetail: TypeAlias = ValidationDetailDict
    OpenPromptMetrics: TypeAlias = PromptMetricsDict
    OpenProgressSnapshot: TypeAlias = ProgressSnapshotDict
    OpenErrorContext: TypeAlias = ErrorContextDict
    OpenAppliedPattern: TypeAlias = AppliedPatternDict
    OpenOutcomeData: TypeAlias = OutcomeDataDict
    OpenSynthesisResult: TypeAlias = SynthesisResultDict
    OpenAttemptResult: TypeAlias = AttemptResultDict
    OpenFallbackRecord: TypeAlias = FallbackRecordDict
    OpenCircuitBreakerRecord: TypeAlias = CircuitBreakerRecordDict
else:
    OpenValidationDetail = OpenPromptMetrics = OpenProgressSnapshot = dict[str, Any]
    OpenErrorContext = OpenAppliedPattern = OpenOutcomeData = dict[str, Any]
    OpenSynthesisResult = OpenAttemptResult = OpenFallbackRecord = dict[str, Any]
    OpenCircuitBreakerRecord = dict[str, Any]
