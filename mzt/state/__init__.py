"""Job state: checkpoint models, the JSON snapshot + journal store, durable writes.

The names below load on first use: commands that only touch a few files (`mzt list`,
the registry) should not pay for the checkpoint models and their decoder just for
importing ``mzt.state.atomic``.
"""

from __future__ import annotations

from mzt.support.lazy import exports

TYPE_CHECKING = False  # not `typing`: a share of the no-op `mzt run`'s whole answer

if TYPE_CHECKING:
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

_EXPORTS = {
    "AppliedPatternDict": "mzt.state.records",
    "AttemptOutcome": "mzt.state.records",
    "AttemptResultDict": "mzt.state.records",
    "CURRENT_SCHEMA_VERSION": "mzt.state.checkpoint",
    "CheckpointErrorRecord": "mzt.state.records",
    "CheckpointState": "mzt.state.checkpoint",
    "CircuitBreakerRecordDict": "mzt.state.records",
    "ErrorCategory": "mzt.state.models",
    "ErrorContextDict": "mzt.state.records",
    "ExecutionMode": "mzt.state.records",
    "ExitReason": "mzt.state.records",
    "FallbackRecordDict": "mzt.state.records",
    "JobStatus": "mzt.state.statuses",
    "JsonStateBackend": "mzt.state.json_store",
    "OutcomeCategory": "mzt.state.models",
    "OutcomeDataDict": "mzt.state.records",
    "ProgressSnapshotDict": "mzt.state.records",
    "PromptMetricsDict": "mzt.state.records",
    "SheetState": "mzt.state.models",
    "SheetStatus": "mzt.state.statuses",
    "StateBackend": "mzt.state.backend",
    "SynthesisResultDict": "mzt.state.records",
    "ValidationDetailDict": "mzt.state.records",
    "WriterInfo": "mzt.state.checkpoint",
    "utc_now": "mzt.state.records",
}


__getattr__ = exports("mzt.state", _EXPORTS, globals())


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
