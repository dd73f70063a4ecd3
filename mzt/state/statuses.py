"""Job and sheet statuses: plain enums, importable without building any model.

Read-only commands (`mzt list`, `mzt status`) classify statuses straight from checkpoint
bytes; they use these enums without paying for the checkpoint models.
"""

from __future__ import annotations

from enum import StrEnum


class SheetStatus(StrEnum):
    """Where a sheet is in its life; the last four are final."""

    PENDING = "pending"  # not run yet, or reset to run again
    READY = "ready"  # dependencies met, may be scheduled
    DISPATCHED = "dispatched"  # handed to an executor, not yet confirmed running
    IN_PROGRESS = "in_progress"  # executing now
    WAITING = "waiting"  # blocked on a rate-limited instrument
    RETRY_SCHEDULED = "retry_scheduled"  # failed once, waiting for its backoff to elapse
    FERMATA = "fermata"  # held, awaiting a decision
    COMPLETED = "completed"  # ran, and every validation passed
    FAILED = "failed"  # budgets exhausted or a fatal error
    SKIPPED = "skipped"  # skip rule, start-sheet, or blocked by a failed dependency
    CANCELLED = "cancelled"  # the job was cancelled while this sheet was unfinished

    @property
    def is_terminal(self) -> bool:
        """Whether the sheet will not change again without an explicit reset."""
        return self in _TERMINAL_SHEET

    @property
    def is_active(self) -> bool:
        """Whether the sheet is executing (or about to, having been handed off)."""
        return self in (SheetStatus.DISPATCHED, SheetStatus.IN_PROGRESS)


_TERMINAL_SHEET = frozenset(
    {SheetStatus.COMPLETED, SheetStatus.FAILED, SheetStatus.SKIPPED, SheetStatus.CANCELLED}
)


class JobStatus(StrEnum):
    """Status of a whole job run."""

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    PAUSED = "paused"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        """Completed, failed or cancelled: nothing runs until someone resumes it."""
        return self in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED)
