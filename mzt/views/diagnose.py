"""What `mzt diagnose` reports: one document for a failed, stuck or dead job.

Overview and liveness (with the lock holder), a timeline built from the history journal,
every error with its output tails, the log file inventory, the shared rate-limit records,
the validation details of sheets that did not complete, and the exact command that
continues the job. Like :mod:`mzt.views.history`, it only reads; text from child processes
is returned redacted and must pass through :func:`mzt.support.terminal.sanitize_terminal` before
it reaches a terminal.
"""

from __future__ import annotations

import shlex
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mzt.execute.base import Leftover
from mzt.execute.leftovers import live_leftovers
from mzt.instruments import ratelimits
from mzt.state import CheckpointState, JobStatus, JsonStateBackend, SheetStatus, hook_rounds
from mzt.state.liveness import format_timestamp
from mzt.state.lock import LiveVerdict
from mzt.support import paths, records
from mzt.support.errors import MztError
from mzt.support.numbers import spans
from mzt.support.redact import redact, redact_optional
from mzt.views.circuits import job_circuits
from mzt.views.history import ErrorEntry, iso, job_errors
from mzt.views.logs import LogFile, log_files
from mzt.views.lookup import JobView
from mzt.views.slurm_jobs import slurm_attempts

TIMELINE_LIMIT = 200
# Journal fields that say where a line belongs rather than what happened.
_META = frozenset(
    {"v", "kind", "event", "job_id", "instance", "seq", "ts", "sheet_num", "sheets", "whole", "job"}
)


@records.record(frozen=True, slots=True)
class TimelineEntry:
    """One moment in the job's history."""

    ts: str | None
    event: str
    sheet_num: int | None
    attempt: int | None
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {
            "ts": self.ts,
            "event": self.event,
            "sheet_num": self.sheet_num,
            "attempt": self.attempt,
            "detail": self.detail,
        }


@records.record(frozen=True)
class Diagnosis:
    """Everything `mzt diagnose` reports about one job."""

    view: JobView
    score_path: Path | None
    findings: list[str]
    timeline: list[TimelineEntry]
    timeline_omitted: int
    errors: list[ErrorEntry]
    logs: list[LogFile]
    rate_limits: list[dict[str, Any]]
    circuits: dict[str, Any]
    validation_failures: list[dict[str, Any]]
    next_command: str | None
    sheets_by_status: dict[str, int] = records.field(default_factory=dict)
    leftovers: list[Leftover] = records.field(default_factory=list)  # of a dead run, still alive
    slurm_attempts: list[dict[str, Any]] = records.field(default_factory=list)  # a live run's

    def holder(self) -> dict[str, Any] | None:
        """The lock holder (or the last writer when nobody holds it): pid, host, start."""
        holder = self.view.liveness.holder
        return holder.describe() if holder else None

    def to_json(self) -> dict[str, Any]:
        """``mzt.diagnose/1``."""
        state, view = self.view.state, self.view
        done, total = state.get_progress()
        return {
            "schema": "mzt.diagnose/1",
            "job_id": view.job_id,
            "job_name": state.job_name,
            "status": state.status.value,
            "alive": view.alive,
            "liveness": {
                "verdict": view.liveness.verdict.value,
                "reason": view.liveness.reason,
                "holder": self.holder(),
            },
            "workspace": str(view.workspace),
            "state_path": str(paths.state_file(view.workspace, view.job_id)),
            "score_path": str(self.score_path) if self.score_path else None,
            "progress": {
                "completed": done,
                "total": total,
                "percent": round(state.get_progress_percent(), 1),
            },
            "sheets_by_status": self.sheets_by_status,
            "sheets_in_progress": list(state.sheets_in_progress),
            "timing": {
                "created_at": iso(state.created_at),
                "started_at": iso(state.started_at),
                "updated_at": iso(state.updated_at),
                "completed_at": iso(state.completed_at),
                "resume_at": iso(state.resume_at),
            },
            "error_message": redact_optional(state.error_message),
            "taken_over": state.taken_over.model_dump() if state.taken_over else None,
            "total_retry_count": state.total_retry_count,
            "rate_limit_waits": state.rate_limit_waits,
            "quota_waits": state.quota_waits,
            "total_cost_usd": state.total_estimated_cost,
            "findings": self.findings,
            "timeline": [t.to_json() for t in self.timeline],
            "timeline_omitted": self.timeline_omitted,
            "errors": [e.to_json(tails=True) for e in self.errors],
            "logs": [f.to_json() for f in self.logs],
            "rate_limits": self.rate_limits,
            "circuit_breaker": self.circuits,
            "validation_failures": self.validation_failures,
            "next_command": self.next_command,
            "leftover_attempts": [item.to_json() for item in self.leftovers],
            "slurm_attempts": self.slurm_attempts,
            "hooks_configured": hook_rounds.configured(state.config_snapshot),
            "hook_results": _redact_tree(state.hook_results),
            "hook_failures": len(hook_rounds.failures(state.hook_results)),
        }


def diagnose(view: JobView, *, timeline_limit: int = TIMELINE_LIMIT) -> Diagnosis:
    """One report for a failed or stuck job (any job, in fact)."""
    state = view.state
    counts: dict[str, int] = {}
    for sheet in state.sheets.values():
        counts[sheet.status.value] = counts.get(sheet.status.value, 0) + 1
    timeline = job_timeline(view)
    shown = timeline[-timeline_limit:] if timeline_limit > 0 else timeline
    score = score_file(view)
    limits = rate_limit_records(state)
    return Diagnosis(
        view=view,
        score_path=score,
        findings=findings(view, limits),
        timeline=shown,
        timeline_omitted=len(timeline) - len(shown),
        errors=job_errors(state),
        logs=log_files(view.workspace, view.job_id),
        rate_limits=limits,
        circuits=job_circuits(state.circuit_breaker_history, state.instruments_used),
        validation_failures=validation_failures(state),
        next_command=continue_command(view, score),
        sheets_by_status=dict(sorted(counts.items())),
        leftovers=live_leftovers(state) if view.alive is False else [],
        slurm_attempts=slurm_attempts(state) if view.alive else [],
    )


def job_timeline(view: JobView) -> list[TimelineEntry]:
    """Every journal line as one entry per sheet it concerns, oldest first."""
    entries: list[TimelineEntry] = []
    for line in JsonStateBackend(view.workspace).read_history(view.job_id):
        ts, event, kind = line.get("ts"), str(line.get("event") or "?"), line.get("kind")
        if kind == "attempt":
            duration = line.get("duration_seconds")
            took = f", {duration:.1f}s" if isinstance(duration, int | float) else ""
            detail = f"exit {line.get('exit_code')}{took}"
            entries.append(
                TimelineEntry(ts, event, line.get("sheet_num"), line.get("attempt"), detail)
            )
        elif kind == "sheet":
            for key, data in (line.get("sheets") or {}).items():
                if isinstance(data, dict):
                    attempt = data.get("attempt_count") or None
                    entries.append(TimelineEntry(ts, event, int(key), attempt, _sheet_detail(data)))
        else:
            entries.append(TimelineEntry(ts, event, line.get("sheet_num"), None, _detail(line)))
    return entries


def _sheet_detail(data: dict[str, Any]) -> str:
    status = str(data.get("status") or "?")
    if status in ("completed", "in_progress", "pending", "dispatched"):
        return status
    code, message = data.get("error_code"), data.get("error_message")
    if not message:
        return status
    return f"{status}: " + (f"[{code}] " if code else "") + redact(str(message))


def _detail(line: dict[str, Any]) -> str:
    """The fields of an event line that say what happened, as ``key=value`` text."""
    extra = {k: v for k, v in line.items() if k not in _META}
    if "reason" in extra and len(extra) == 1:
        return redact(str(extra["reason"]))
    if "how" in extra and len(extra) == 1:
        return str(extra["how"])
    parts = []
    for key, value in extra.items():
        shown = f"{value:.1f}" if isinstance(value, float) else str(value)
        parts.append(f"{key}={shown}")
    return redact(" ".join(parts))


def findings(view: JobView, limits: list[dict[str, Any]] | None = None) -> list[str]:
    """Short sentences that say what state the job is in and why.

    ``limits`` are the :func:`rate_limit_records` (read here when not given).
    """
    state, liveness = view.state, view.liveness
    holder = liveness.holder.describe() if liveness.holder else None
    who = f"pid {holder['pid']} on {holder['host']}" if holder else "an unknown process"
    notes: list[str] = []
    in_progress = _in_progress(state)
    if liveness.verdict == LiveVerdict.ALIVE:
        notes.append(f"The job is running ({who}).")
        if in_progress:
            notes.append(f"In progress: {in_progress}.")
    elif liveness.verdict == LiveVerdict.DEAD:
        notes.append(f"The run died without finishing: {liveness.reason}.")
        if in_progress:
            notes.append(f"It was working on {in_progress} when it stopped.")
    elif liveness.verdict == LiveVerdict.FOREIGN:
        target = f"{shlex.quote(view.job_id)} -w {shlex.quote(str(view.workspace))}"
        notes.append(
            f"The job is marked running by {who}, which last wrote at "
            f"{format_timestamp(state.updated_at.timestamp())}; "
            "it cannot be judged from this host. Once that run is known to be gone, "
            f"`mzt resume {target} --take-over` continues it here."
        )
    if state.taken_over is not None:
        notes.append(f"The job was {state.taken_over.describe()}.")
    failed = [s for s in state.sheets.values() if s.status == SheetStatus.FAILED]
    for sheet in sorted(failed, key=lambda s: s.sheet_num)[:10]:
        code = f"[{sheet.error_code}] " if sheet.error_code else ""
        notes.append(
            f"Sheet {sheet.sheet_num} failed after {sheet.attempt_count} attempt(s): "
            f"{code}{redact(sheet.error_message or '')}"
        )
    if len(failed) > 10:
        notes.append(f"… and {len(failed) - 10} more failed sheets.")
    blocked = sorted(
        n for n, s in state.sheets.items() if s.status == SheetStatus.SKIPPED and s.error_code
    )
    if blocked:
        notes.append(f"Not run, blocked by failed dependencies: sheets {spans(blocked)}.")
    if state.status == JobStatus.PAUSED and liveness.verdict != LiveVerdict.DEAD:
        notes.append(f"Paused: {redact(state.error_message or 'no reason recorded')}.")
    for record in rate_limit_records(state) if limits is None else limits:
        if record["active"] and record["affects_job"]:
            notes.append(
                f"{record['instrument']} is rate-limited until {record['limited_until']} "
                f"({record['reason']})."
            )
    owed = hook_rounds.owed(state.hook_results)
    for result in hook_rounds.failures(state.hook_results):
        notes.append(
            f"on_success hook {result.get('index')} ({result.get('type')}) failed: "
            f"{redact(str(result.get('error') or 'no reason recorded'))}"
        )
    if state.status == JobStatus.COMPLETED and liveness.verdict != LiveVerdict.ALIVE:
        if owed:
            notes.append(
                f"The job completed, but {len(owed)} on_success hook(s) did not run to success; "
                "`mzt resume` fires them again without running sheets."
            )
        else:
            notes.append("The job completed; there is nothing to continue.")
    return notes


def _in_progress(state: CheckpointState) -> str:
    parts = []
    for num in state.sheets_in_progress:
        sheet = state.sheets.get(num)
        if sheet is not None:
            parts.append(f"sheet {num} (attempt {sheet.attempt_count})")
    return ", ".join(parts)


def rate_limit_records(state: CheckpointState) -> list[dict[str, Any]]:
    """Shared rate-limit records, newest first, each saying whether it concerns this job."""
    now = datetime.now(UTC)
    records = []
    for limit in ratelimits.all_records():
        left = limit.seconds_left(now)
        doc: dict[str, Any] = dict(limit.to_json())
        doc["reason"] = redact(doc["reason"])
        doc["active"] = left > 0
        doc["seconds_left"] = round(max(left, 0.0), 1)
        doc["affects_job"] = (
            limit.set_by_job == state.job_id or limit.instrument in state.instruments_used
        )
        records.append(doc)
    return records


def validation_failures(state: CheckpointState) -> list[dict[str, Any]]:
    """Failed validations of the sheets that did not complete."""
    failures = []
    for num in sorted(state.sheets):
        sheet = state.sheets[num]
        if sheet.status == SheetStatus.COMPLETED or not sheet.validation_details:
            continue
        failed = [dict(d) for d in sheet.validation_details if not d.get("passed", True)]
        if failed:
            failures.append(
                {"sheet_num": num, "status": sheet.status.value, "details": _redact_tree(failed)}
            )
    return failures


def _redact_tree(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [_redact_tree(v) for v in value]
    if isinstance(value, dict):
        return {k: _redact_tree(v) for k, v in value.items()}
    return value


def score_file(view: JobView) -> Path | None:
    """The job's score file when it is known and still there."""
    candidates = [view.location.score_path]
    config = view.state.config_path
    if config and Path(config).is_absolute():
        candidates.append(Path(config))
    for candidate in candidates:
        if candidate is not None and candidate.is_file():
            return candidate
    return None


def continue_command(view: JobView, score: Path | None) -> str | None:
    """The exact command that continues the job; ``None`` when there is nothing to do.

    With the score file at hand this is ``mzt run <score>`` (which continues an unfinished
    job), with ``-w`` when the job lives elsewhere than the score says; otherwise
    ``mzt resume <job> -w <workspace>``.
    """
    state = view.state
    ws = str(view.workspace)
    if view.alive is False and hook_rounds.owed(state.hook_results):
        # Only resume fires owed hooks (a held chain too): `mzt run` leaves them be.
        return f"mzt resume {shlex.quote(view.job_id)} -w {shlex.quote(ws)}"
    if view.alive is not False or state.status == JobStatus.COMPLETED:
        return None
    if score is not None:
        from mzt.score.loader import load_score
        from mzt.score.preparation import resolve_workspace

        try:
            loaded = load_score(score)
        except MztError:
            loaded = None  # the score no longer loads: resume from the stored snapshot
        if loaded is not None and loaded.job_id == view.job_id:
            command = f"mzt run {shlex.quote(str(score))}"
            if resolve_workspace(loaded, None).resolve() != view.workspace.resolve():
                command += f" -w {shlex.quote(ws)}"
            return command
    return f"mzt resume {shlex.quote(view.job_id)} -w {shlex.quote(ws)}"
