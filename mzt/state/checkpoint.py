"""The whole job state, :class:`CheckpointState`: what ``<job>.json`` holds.

Besides the job's own fields it carries the bookkeeping of the store: ``schema_version``
(the document format), ``seq`` (one more on every save or journaled transition, so a
reader can tell newer from older), ``instance_id`` (a random id chosen when the state is
created; journal lines name it, so lines of an earlier, discarded state are never applied
to this one), ``journal_offset`` (where this snapshot's journal lines start) and ``writer``
(pid, process start time, host and boot id of the process that wrote it).
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Annotated, Any

from msgspec import Meta, field

from mzt.state.liveness import Verdict, examine, pid_alive
from mzt.state.models import UNKNOWN_FAILURE, ErrorCategory, JobStatus, SheetState, SheetStatus
from mzt.state.records import (
    CircuitBreakerRecordDict,
    ExitReason,
    OpenCircuitBreakerRecord,
    OpenSynthesisResult,
    SynthesisResultDict,
    ValidationDetailDict,
    utc_now,
)
from mzt.state.structs import Model
from mzt.state.writer import TakeOver
from mzt.state.writer import WriterInfo as WriterInfo  # part of this module's interface
from mzt.support.log import get_logger

logger = get_logger("mzt.state")

CURRENT_SCHEMA_VERSION = 2
# Fields a journal line never overwrites: they belong to the snapshot it is applied to.
BOOKKEEPING = frozenset({"sheets", "schema_version", "instance_id", "journal_offset", "seq"})
MAX_HOOK_RESULTS = 100
MAX_CIRCUIT_BREAKER_HISTORY = 100

# Statuses a sheet can be left in by a process that died mid-run; resuming resets them.
INTERRUPTED_SHEET_STATUSES = frozenset(
    {
        SheetStatus.IN_PROGRESS,
        SheetStatus.DISPATCHED,
        SheetStatus.WAITING,
        SheetStatus.RETRY_SCHEDULED,
        SheetStatus.FERMATA,
    }
)


class CheckpointState(Model, kw_only=True):
    """Complete, resumable state of one job run.

    A job is a *zombie* when its state says ``running`` but the process that ran it is
    gone (SIGKILL, OOM, reboot…). The authority on that is the run lock; :meth:`is_zombie`
    is the pid-based secondary check, made robust to pid reuse by comparing the recorded
    process start time and boot id. :meth:`mark_zombie_detected` turns such a state into a
    paused one that can be resumed.
    """

    # A factory, so the file always names its version (a file without one reads as a
    # legacy document).
    schema_version: int = field(default_factory=lambda: CURRENT_SCHEMA_VERSION)
    seq: Annotated[int, Meta(ge=0)] = 0
    # Only told apart from the job's earlier states, in one history file: 48 random bits
    # are plenty, and every journal line names it.
    # os.urandom, not secrets: the same bytes, and `status` need not import hmac/hashlib.
    instance_id: str = field(default_factory=lambda: os.urandom(6).hex())
    journal_offset: Annotated[int, Meta(ge=0)] = 0
    writer: WriterInfo | None = None
    taken_over: TakeOver | None = None  # the last take-over from another host, if any

    job_id: Annotated[str, Meta(min_length=1)]
    job_name: str
    # Factories rather than plain defaults: the file always names the status and holds
    # the sheets object (even empty), whatever their values.
    status: JobStatus = field(default_factory=lambda: JobStatus.PENDING)
    total_sheets: Annotated[int, Meta(ge=0)]
    last_completed_sheet: int = 0
    current_sheet: int | None = None
    pid: int | None = None
    created_at: datetime = field(default_factory=utc_now)
    updated_at: datetime = field(default_factory=utc_now)
    started_at: datetime | None = None
    completed_at: datetime | None = None
    error_message: str | None = None
    total_retry_count: int = 0
    rate_limit_waits: int = 0
    quota_waits: int = 0
    resume_at: datetime | None = None
    config_hash: str | None = None
    config_path: str | None = None
    # SHA-256 of the score file's bytes (for a run that -w moved out of the score's own
    # workspace, of those bytes and that workspace): with it, `mzt run` of an unchanged
    # completed job answers from the head.
    config_file_hash: str | None = None
    config_snapshot: dict[str, Any] | None = None
    instruments_used: list[str] = field(default_factory=list)
    total_movements: int | None = None
    total_input_tokens: int = 0
    total_output_tokens: int = 0
    total_estimated_cost: float = 0.0
    cost_limit_reached: bool = False
    worktree_path: str | None = None
    worktree_branch: str | None = None
    worktree_locked: bool = False
    worktree_base_commit: str | None = None
    isolation_mode: str | None = None
    isolation_fallback_used: bool = False
    parallel_enabled: bool = False
    parallel_max_concurrent: int = 1
    parallel_batches_executed: int = 0
    sheets_in_progress: list[int] = field(default_factory=list)
    hook_results: list[dict[str, Any]] = field(default_factory=list)
    circuit_breaker_history: list[OpenCircuitBreakerRecord] = field(default_factory=list)
    synthesis_results: dict[str, OpenSynthesisResult] = field(default_factory=dict)
    spec_corpus_hash: str | None = None
    # Last, so the job's own fields (the head) come first in the file and can be read
    # without the sheets.
    sheets: dict[int, SheetState] = field(default_factory=lambda: {})

    def __post_init__(self) -> None:
        # Decoding checks these bounds already; constructing in code must not skip them.
        if not self.job_id:
            raise ValueError("job_id must not be empty")
        if self.total_sheets < 0 or self.seq < 0 or self.journal_offset < 0:
            raise ValueError("total_sheets, seq and journal_offset must not be negative")
        # A running job has a start time and no stale completion time from an earlier run.
        if self.status == JobStatus.RUNNING:
            if self.started_at is None:
                self.started_at = self.updated_at
            self.completed_at = None
        for num, sheet in self.sheets.items():
            if sheet.sheet_num != num:
                raise ValueError(f"sheet {sheet.sheet_num} is stored under number {num}")

    # --- sheets ----------------------------------------------------------------------------

    def sheet(self, sheet_num: int) -> SheetState:
        """The state of ``sheet_num``, created as pending if it has none yet."""
        sheet = self.sheets.get(sheet_num)
        if sheet is None:
            sheet = self.sheets[sheet_num] = SheetState(sheet_num=sheet_num)
        return sheet

    def get_next_sheet(self) -> int | None:
        """The next sheet to run in sequential order, or ``None`` when nothing is left.

        An interrupted in-progress sheet comes first; then the first sheet after the
        completion watermark that is missing, pending or failed.
        """
        if self.status in (JobStatus.COMPLETED, JobStatus.CANCELLED):
            return None
        if self.current_sheet is not None:
            current = self.sheets.get(self.current_sheet)
            if current is not None and current.status == SheetStatus.IN_PROGRESS:
                return self.current_sheet
        for sheet_num in range(self.last_completed_sheet + 1, self.total_sheets + 1):
            sheet = self.sheets.get(sheet_num)
            if sheet is None or sheet.status in (SheetStatus.PENDING, SheetStatus.FAILED):
                return sheet_num
        return None

    def mark_sheet_started(self, sheet_num: int) -> None:
        """Start an attempt: the sheet goes in progress, the job running, stale errors go."""
        now = utc_now()
        self.current_sheet = sheet_num
        if self.status != JobStatus.RUNNING:
            self.status = JobStatus.RUNNING
            self.started_at = self.started_at or now
            self.completed_at = None
        self.updated_at = now
        sheet = self.sheet(sheet_num)
        sheet.status = SheetStatus.IN_PROGRESS
        sheet.started_at = now
        sheet.attempt_count += 1
        # A retry starts clean: nothing from the previous attempt may look current.
        sheet.error_message = None
        sheet.exit_code = None
        sheet.execution_mode = None

    def mark_sheet_completed(
        self,
        sheet_num: int,
        validation_passed: bool = True,
        validation_details: list[ValidationDetailDict] | None = None,
        execution_duration_seconds: float | None = None,
    ) -> None:
        """Complete a sheet; the job completes once *every* sheet is completed.

        The ``last_completed_sheet`` watermark only moves forward, since parallel sheets
        finish out of order.
        """
        now = utc_now()
        self.updated_at = now
        sheet = self.sheet(sheet_num)
        sheet.status = SheetStatus.COMPLETED
        sheet.completed_at = now
        sheet.exit_code = 0
        sheet.validation_passed = validation_passed
        sheet.validation_details = validation_details
        if execution_duration_seconds is not None:
            sheet.execution_duration_seconds = round(execution_duration_seconds, 6)
        if sheet_num > self.last_completed_sheet:
            self.last_completed_sheet = sheet_num
        self.current_sheet = None
        # Newest sheets first: while a job runs its last sheets are the unfinished ones, so
        # this check usually stops at once instead of walking every sheet.
        if len(self.sheets) >= self.total_sheets and all(
            s.status == SheetStatus.COMPLETED for s in reversed(self.sheets.values())
        ):
            self.status = JobStatus.COMPLETED
            self.completed_at = now
            self.pid = None

    def mark_sheet_failed(
        self,
        sheet_num: int,
        error_message: str,
        error_category: ErrorCategory | str | None = None,
        exit_code: int | None = None,
        exit_signal: int | None = None,
        exit_reason: ExitReason | None = None,
        execution_duration_seconds: float | None = None,
        error_code: str | None = None,
    ) -> None:
        """Fail a sheet, recording why and how its process ended.

        An ``error_category`` string that is not a known category is dropped (logged),
        never stored, so the checkpoint stays loadable.
        """
        now = utc_now()
        self.updated_at = now
        sheet = self.sheet(sheet_num)
        sheet.status = SheetStatus.FAILED
        sheet.completed_at = now
        sheet.error_message = error_message or None
        category: ErrorCategory | None = None
        if isinstance(error_category, ErrorCategory):
            category = error_category
        elif error_category is not None:
            try:
                category = ErrorCategory(error_category)
            except ValueError:
                logger.warning("unknown error category %r for sheet %d", error_category, sheet_num)
        sheet.error_category = category
        sheet.error_code = error_code
        sheet.exit_code = exit_code
        sheet.exit_signal = exit_signal
        sheet.exit_reason = exit_reason
        if execution_duration_seconds is not None:
            sheet.execution_duration_seconds = round(execution_duration_seconds, 6)
        if not sheet.error_message:
            sheet.error_message = UNKNOWN_FAILURE
        self.current_sheet = None
        self.total_retry_count += 1

    def mark_sheet_skipped(self, sheet_num: int, reason: str | None = None) -> None:
        """Skip a sheet; ``reason`` (if any) is kept as its message."""
        now = utc_now()
        self.updated_at = now
        sheet = self.sheet(sheet_num)
        sheet.status = SheetStatus.SKIPPED
        sheet.completed_at = now
        if reason:
            sheet.error_message = reason
        self.current_sheet = None

    # --- job -------------------------------------------------------------------------------

    def mark_job_running(self, pid: int | None = None) -> None:
        """Start (or resume) the run: running, fresh start time, owned by ``pid``."""
        now = utc_now()
        self.status = JobStatus.RUNNING
        self.started_at = now
        self.completed_at = None
        self.updated_at = now
        self.pid = pid if pid is not None else os.getpid()

    def mark_job_completed(self) -> None:
        """Finish the run successfully (clears the pid)."""
        now = utc_now()
        self.status = JobStatus.COMPLETED
        self.completed_at = now
        self.updated_at = now
        self.current_sheet = None
        self.pid = None

    def mark_job_failed(self, error_message: str) -> None:
        """Fail the whole job (clears the pid, so a later resume is never blocked by it)."""
        now = utc_now()
        self.status = JobStatus.FAILED
        self.error_message = error_message
        self.pid = None
        self.completed_at = now
        self.updated_at = now

    def mark_job_paused(self) -> None:
        """Pause the job (clears the pid, so a later resume is never blocked by it)."""
        self.status = JobStatus.PAUSED
        self.pid = None
        self.updated_at = utc_now()

    def mark_job_cancelled(self, reason: str | None = None) -> None:
        """Cancel the job: unfinished sheets become cancelled, the pid is cleared."""
        now = utc_now()
        for sheet in self.sheets.values():
            if not sheet.status.is_terminal:
                sheet.status = SheetStatus.CANCELLED
                sheet.completed_at = now
        self.status = JobStatus.CANCELLED
        if reason:
            self.error_message = reason
        self.current_sheet = None
        self.pid = None
        self.completed_at = now
        self.updated_at = now

    def set_running_pid(self, pid: int | None = None) -> None:
        """Record the pid of the process running the job (this one by default)."""
        self.pid = pid if pid is not None else os.getpid()
        self.updated_at = utc_now()

    def get_progress(self) -> tuple[int, int]:
        """``(completed sheets, total sheets)``."""
        done = sum(1 for s in self.sheets.values() if s.status == SheetStatus.COMPLETED)
        return done, self.total_sheets

    def get_progress_percent(self) -> float:
        """Completed share of the sheets, 0–100 (0 for a job without sheets)."""
        done, total = self.get_progress()
        return done / total * 100 if total > 0 else 0.0

    # --- zombies ---------------------------------------------------------------------------

    def is_zombie(self) -> bool:
        """Whether the state says running while its recorded process is provably gone.

        Only a ``running`` state with a pid can be judged here: no pid, a live pid (this
        process's own included) or a pid that cannot be checked (another user's, another
        host's) is not a zombie by this test. When the writer block names the same pid, its
        start time and boot id expose a pid that was reused by an unrelated process.
        """
        if self.status != JobStatus.RUNNING or self.pid is None:
            return False
        if self.writer is not None and self.writer.pid == self.pid:
            return examine(self.writer.identity()).verdict == Verdict.DEAD
        return not pid_alive(self.pid)

    def mark_zombie_detected(self, reason: str | None = None) -> None:
        """Turn a dead ``running`` state into a paused, resumable one.

        The pid is cleared and sheet progress kept. The note explaining the recovery is
        informational, so it never replaces an error message that is already there.
        """
        previous_pid = self.pid
        self.status = JobStatus.PAUSED
        self.pid = None
        self.updated_at = utc_now()
        who = f"pid {previous_pid}" if previous_pid is not None else "the recorded process"
        note = (
            f"Recovered from a stale running state ({who} is no longer running this job); "
            "the job is paused and can be resumed."
        )
        if reason:
            note += f" {reason}"
        if not self.error_message:
            self.error_message = note
        logger.info("job %s: %s", self.job_id, note)

    # --- records ---------------------------------------------------------------------------

    def record_hook_result(self, result: dict[str, Any]) -> None:
        """Keep the outcome of a hook (newest ``MAX_HOOK_RESULTS``)."""
        self.hook_results.append(result)
        if len(self.hook_results) > MAX_HOOK_RESULTS:
            self.hook_results = self.hook_results[-MAX_HOOK_RESULTS:]
        self.updated_at = utc_now()

    def record_circuit_breaker_change(
        self, state: str, trigger: str, consecutive_failures: int
    ) -> None:
        """Keep a circuit-breaker transition so status can show the real breaker state."""
        self.circuit_breaker_history.append(
            CircuitBreakerRecordDict(
                state=state,
                timestamp=utc_now().isoformat(),
                trigger=trigger,
                consecutive_failures=consecutive_failures,
            )
        )
        if len(self.circuit_breaker_history) > MAX_CIRCUIT_BREAKER_HISTORY:
            self.circuit_breaker_history = self.circuit_breaker_history[
                -MAX_CIRCUIT_BREAKER_HISTORY:
            ]
        self.updated_at = utc_now()

    def add_synthesis(self, batch_id: str, result: SynthesisResultDict) -> None:
        """Add or replace the synthesis result of a batch."""
        self.synthesis_results[batch_id] = result
        self.updated_at = utc_now()

    def reset_interrupted_sheets(self) -> list[int]:
        """Put sheets a dead run left mid-flight back to pending; returns their numbers.

        Attempt and completion counts are kept, so budgets continue where they were.
        """
        reset: list[int] = []
        for num, sheet in self.sheets.items():
            if sheet.status in INTERRUPTED_SHEET_STATUSES:
                sheet.status = SheetStatus.PENDING
                reset.append(num)
        if self.current_sheet in reset:
            self.current_sheet = None
        return sorted(reset)
