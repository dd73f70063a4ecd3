"""Job state: checkpoint models, the JSON snapshot + journal store, durable writes."""

from __future__ import annotations

from mzt.state.backend import StateBackend
from mzt.state.checkpoint import (
    CURRENT_SCHEMA_VERSION,
    CheckpointState,
    WriterInfo,
)
from mzt.state.json_store import JsonStateBackend
from mzt.state.models import (
    ErrorCategory,
    JobStatus,
    OutcomeCategory,
    SheetState,
    SheetStatus,
)
from mzt.state.records import (
    AppliedPatternDict,
    AttemptOutcome,
    AttemptResultDict,
    CheckpointErrorRecord,
    CircuitBreakerRecordDict,
    ErrorContextDict,
    ExecutionMode,
    ExitReason,
    FallbackRecordDict,
    OutcomeDataDict,
    ProgressSnapshotDict,
    PromptMetricsDict,
    SynthesisResultDict,
    ValidationDetailDict,
    utc_now,
)

__all__ = [
    "CURRENT_SCHEMA_VERSION",
    "AppliedPatternDict",
    "AttemptOutcome",
    "AttemptResultDict",
    "CheckpointErrorRecord",
    "CheckpointState",
    "CircuitBreakerRecordDict",
    "ErrorCategory",
    "ErrorContextDict",
    "ExecutionMode",
    "ExitReason",
    "FallbackRecordDict",
    "JobStatus",
    "JsonStateBackend",
    "OutcomeCategory",
    "OutcomeDataDict",
    "ProgressSnapshotDict",
    "PromptMetricsDict",
    "SheetState",
    "SheetStatus",
    "StateBackend",
    "SynthesisResultDict",
    "ValidationDetailDict",
    "WriterInfo",
    "utc_now",
]
