"""What `mzt errors` and `mzt history` show, read from a job's files (diagnose builds on it).

This module, :mod:`mzt.views.diagnose` and :mod:`mzt.views.logs` only read: the checkpoint
(through :mod:`mzt.views.lookup`), the history journal, the attempt logs and the shared rate-limit
records. Nothing takes the run lock and nothing is written, so inspecting a job can never
disturb the run that owns it. Text that came from a child process is returned as stored
(credential-redacted when it was written, and redacted once more here, so files from older
versions or edited by hand cannot leak); whoever shows it on a terminal passes it through
:func:`mzt.support.terminal.sanitize_terminal`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mzt.state import CheckpointState, JsonStateBackend, SheetStatus
from mzt.support import records
from mzt.support.errors import MztError
from mzt.support.exitcodes import ExitCode
from mzt.support.redact import redact, redact_optional
from mzt.views.lookup import JobView, locate, open_job

ERROR_TYPES = ("transient", "rate_limit", "permanent")
DEFAULT_HISTORY_LIMIT = 50
# What the decision after an attempt (``attempt_<action>`` transitions) means for it.
_OUTCOMES = {
    "complete": "completed",
    "completion": "completion",
    "retry": "retry",
    "wait": "rate_limited",
    "fallback": "fallback",
    "fail": "failed",
    "stopped": "stopped",
}


class InspectTargetError(MztError):
    """A sheet or attempt the user named does not exist; the hint says what does."""

    exit_code = ExitCode.USAGE
    code = "NOT_FOUND"


def iso(moment: datetime | None) -> str | None:
    """``2026-05-01T10:00:00.123456Z``: UTC, the form every JSON document uses."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


# --- finding the job ----------------------------------------------------------------------------


def open_view(job: str, *, workspace: Path | None = None, cwd: Path | None = None) -> JobView:
    """Find and read a job for inspection (a job that is not found names the known ones)."""
    return open_job(locate(job, workspace=workspace, cwd=cwd))


def check_sheet(state: CheckpointState, sheet: int) -> None:
    """Raise :class:`InspectTargetError` unless the job has sheet number ``sheet``."""
    if not 1 <= sheet <= state.total_sheets:
        raise InspectTargetError(
            f"Job '{state.job_id}' has no sheet {sheet}.",
            hint=f"Its sheets are numbered 1 to {state.total_sheets}."
            if state.total_sheets
            else "It has no sheets.",
        )


# --- errors -------------------------------------------------------------------------------------


@records.record(frozen=True, slots=True)
class ErrorEntry:
    """One error of one attempt (or a sheet's final error when no attempt recorded one)."""

    sheet_num: int
    attempt: int
    error_code: str | None
    category: str | None
    error_type: str
    message: str
    timestamp: datetime | None
    exit_code: int | None = None
    signal: int | None = None
    instrument: str | None = None
    duration_seconds: float | None = None
    stdout_tail: str | None = None
    stderr_tail: str | None = None

    def to_json(self, *, tails: bool = False) -> dict[str, Any]:
        """The documented ``errors[]`` item, plus context (and the tails if asked)."""
        doc: dict[str, Any] = {
            "sheet_num": self.sheet_num,
            "attempt": self.attempt,
            "error_code": self.error_code,
            "category": self.category,
            "message": self.message,
            "timestamp": iso(self.timestamp),
            "error_type": self.error_type,
            "exit_code": self.exit_code,
            "signal": self.signal,
            "instrument": self.instrument,
            "duration_seconds": self.duration_seconds,
        }
        if tails:
            doc["stdout_tail"] = self.stdout_tail
            doc["stderr_tail"] = self.stderr_tail
        return doc


@records.record(frozen=True)
class ErrorsReport:
    """A job's errors after filtering, and how many there were before."""

    job_id: str
    status: str
    workspace: Path
    errors: list[ErrorEntry]
    total: int

    def to_json(self, *, tails: bool = False) -> dict[str, Any]:
        """``mzt.errors/1``."""
        return {
            "schema": "mzt.errors/1",
            "job_id": self.job_id,
            "status": self.status,
            "workspace": str(self.workspace),
            "total": self.total,
            "errors": [e.to_json(tails=tails) for e in self.errors],
        }


def job_errors(state: CheckpointState) -> list[ErrorEntry]:
    """Every recorded error, by sheet, oldest first within a sheet.

    A sheet that failed or was blocked without any attempt recording an error (a prompt
    that could not be rendered, a failed dependency) contributes its final error.
    """
    entries: list[ErrorEntry] = []
    for num in sorted(state.sheets):
        sheet = state.sheets[num]
        for record in sheet.error_history:
            context = record.context or {}
            entries.append(
                ErrorEntry(
                    sheet_num=num,
                    attempt=record.attempt_number,
                    error_code=record.error_code,
                    category=context.get("category"),
                    error_type=record.error_type,
                    message=redact(record.error_message),
                    timestamp=record.timestamp,
                    exit_code=context.get("exit_code"),
                    signal=context.get("signal"),
                    instrument=context.get("instrument"),
                    duration_seconds=context.get("duration_seconds"),
                    stdout_tail=redact_optional(record.stdout_tail),
                    stderr_tail=redact_optional(record.stderr_tail),
                )
            )
        if sheet.error_history or not sheet.error_message:
            continue
        if sheet.status == SheetStatus.FAILED or sheet.error_code:
            entries.append(
                ErrorEntry(
                    sheet_num=num,
                    attempt=sheet.attempt_count,
                    error_code=sheet.error_code,
                    category=sheet.error_category.value if sheet.error_category else None,
                    error_type="permanent",
                    message=redact(sheet.error_message),
                    timestamp=sheet.completed_at or sheet.started_at,
                    exit_code=sheet.exit_code,
                    signal=sheet.exit_signal,
                    instrument=sheet.instrument_name,
                    stdout_tail=redact_optional(sheet.stdout_tail),
                    stderr_tail=redact_optional(sheet.stderr_tail),
                )
            )
    return entries


def errors_report(
    view: JobView,
    *,
    sheet: int | None = None,
    code: str | None = None,
    error_type: str | None = None,
) -> ErrorsReport:
    """The job's errors, filtered by sheet, error code (any case) and error type."""
    state = view.state
    if sheet is not None:
        check_sheet(state, sheet)
    everything = job_errors(state)
    wanted = code.strip().upper() if code else None
    chosen = [
        e
        for e in everything
        if (sheet is None or e.sheet_num == sheet)
        and (wanted is None or (e.error_code or "").upper() == wanted)
        and (error_type is None or e.error_type == error_type)
    ]
    return ErrorsReport(view.job_id, state.status.value, view.workspace, chosen, len(everything))


# --- history ------------------------------------------------------------------------------------


@records.record(slots=True)
class AttemptRecord:
    """One attempt as the history journal tells it."""

    sheet_num: int
    attempt: int
    started_at: str | None = None
    finished_at: str | None = None
    exit_code: int | None = None
    duration_seconds: float | None = None
    outcome: str = "started"
    error_code: str | None = None
    instrument: str | None = None
    output_truncated: bool = False

    def to_json(self) -> dict[str, Any]:
        """One ``attempts[]`` item of ``mzt.history/1``."""
        return {
            "sheet_num": self.sheet_num,
            "attempt": self.attempt,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "exit_code": self.exit_code,
            "duration_seconds": self.duration_seconds,
            "outcome": self.outcome,
            "error_code": self.error_code,
            "instrument": self.instrument,
            "output_truncated": self.output_truncated,
        }


@records.record(frozen=True)
class HistoryReport:
    """Attempt records, newest last, and how many there were before the limit."""

    job_id: str
    workspace: Path
    attempts: list[AttemptRecord]
    total: int

    def to_json(self) -> dict[str, Any]:
        """``mzt.history/1``."""
        return {
            "schema": "mzt.history/1",
            "job_id": self.job_id,
            "workspace": str(self.workspace),
            "total": self.total,
            "attempts": [a.to_json() for a in self.attempts],
        }


def history_report(
    view: JobView, *, sheet: int | None = None, limit: int = DEFAULT_HISTORY_LIMIT
) -> HistoryReport:
    """The newest ``limit`` attempts (0: all), optionally of one sheet only."""
    if sheet is not None:
        check_sheet(view.state, sheet)
    attempts = attempt_records(view, sheet=sheet)
    shown = attempts[-limit:] if limit > 0 else attempts
    return HistoryReport(view.job_id, view.workspace, shown, len(attempts))


def attempt_records(view: JobView, *, sheet: int | None = None) -> list[AttemptRecord]:
    """Every attempt in the journal, in the order they started.

    An attempt is assembled from its ``attempt_started`` transition, its ``attempt``
    record (exit code, duration) and the decision that followed (``attempt_<action>``).
    One that started but never finished is ``running`` while its run is alive and holds
    it, else ``interrupted`` (the run died or was stopped mid-attempt).
    """
    store = JsonStateBackend(view.workspace)
    lines = store.read_history(view.job_id, sheet_num=sheet, kinds=("attempt", "sheet"))
    found: dict[tuple[int, int], AttemptRecord] = {}
    for line in lines:
        if line.get("kind") == "attempt":
            num, attempt = line.get("sheet_num"), line.get("attempt")
            if not isinstance(num, int) or not isinstance(attempt, int):
                continue
            entry = found.setdefault((num, attempt), AttemptRecord(num, attempt))
            entry.finished_at = line.get("ts")
            entry.exit_code = line.get("exit_code")
            entry.duration_seconds = line.get("duration_seconds")
            entry.output_truncated = bool(line.get("output_truncated"))
            if entry.outcome == "started":
                entry.outcome = "finished"
            continue
        event = str(line.get("event") or "")
        if not event.startswith("attempt_"):
            continue
        for key, data in (line.get("sheets") or {}).items():
            if not isinstance(data, dict) or (sheet is not None and key != str(sheet)):
                continue
            num, attempt = int(key), int(data.get("attempt_count") or 0)
            if attempt < 1:
                continue
            entry = found.setdefault((num, attempt), AttemptRecord(num, attempt))
            if event == "attempt_started":
                entry.started_at = line.get("ts")
                entry.instrument = data.get("instrument_name")
            else:
                entry.outcome = _OUTCOMES.get(event[len("attempt_") :], event)
                if entry.outcome != "completed":
                    entry.error_code = data.get("error_code")
    codes = {(e.sheet_num, e.attempt): e.error_code for e in job_errors(view.state)}
    state = view.state
    for (num, attempt), entry in found.items():
        entry.error_code = codes.get((num, attempt), entry.error_code)
        if entry.outcome == "started":
            record = state.sheets.get(num)
            running = (
                view.alive is True
                and record is not None
                and record.status.is_active
                and record.attempt_count == attempt
            )
            entry.outcome = "running" if running else "interrupted"
    return list(found.values())
