"""What `mzt status`, `mzt list` and `mzt watch` show, built from a job's files.

There is no daemon to ask: the checkpoint is read through the store's own loader
(:mod:`mzt.state.reading`), liveness comes from probing the run lock (never taking it), and
rate limits from the shared records. This module turns those into the status, list and
overview documents.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mzt.instruments import ratelimits
from mzt.state.lock import LockProbe, probe_lock, read_holder
from mzt.state.models import SheetState
from mzt.state.reading import (
    ACTIVE_SHEET,
    Checkpoint,
    JobRef,
    collector_paused,
    file_size,
    read_checkpoint,
    registered_jobs,
)
from mzt.support.errors import JobNotFoundError, StateCorruptionError
from mzt.views.lookup import locate

SCHEMA_STATUS = "mzt.status/1"
SCHEMA_LIST = "mzt.list/1"
SCHEMA_OVERVIEW = "mzt.overview/1"
FINISHED_FOR_LIST = frozenset({"completed", "cancelled"})
RECENT_ERRORS = 10
CORRUPT = "corrupt"


def find(job: str, *, workspace: Path | None = None, cwd: Path | None = None) -> JobRef:
    """The job named by id or score file, by the documented look-up rules."""
    found = locate(job, workspace=workspace, cwd=cwd)
    return JobRef(found.job_id, found.workspace, found.score_path)


# --- liveness --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Liveness:
    """Whether the job's run is alive (``None``: cannot be known from this host)."""

    alive: bool | None
    verdict: str  # alive, dead, foreign, idle
    reason: str
    holder: dict[str, Any] | None


def judge(checkpoint: Checkpoint) -> Liveness:
    """Probe the run lock (never taking it); a running state with a free lock is dead.

    The verdicts are :func:`mzt.state.lock.job_liveness`'s. The common cases (the lock is held:
    alive; the lock is free and the state is not running: idle) are settled here with one
    probe; only a running state under a free lock needs that function's evidence (pid,
    start time, host, boot id), and only then is it imported: importing it costs more
    than a whole read of a small job (filelock, psutil).
    """
    lock_path = checkpoint.ref.lock_path
    writer = checkpoint.head.get("writer")
    if probe_lock(lock_path) != LockProbe.FREE:
        recorded = read_holder(lock_path)
        holder = recorded.describe() if recorded else _identity(writer)
        return Liveness(True, "alive", "the run lock is held", holder)
    if checkpoint.status != "running":
        return Liveness(False, "idle", "not running", _identity(writer))
    from mzt.state.liveness import ProcessIdentity
    from mzt.state.lock import job_liveness

    verdict = job_liveness(lock_path, running=True, writer=ProcessIdentity.from_dict(writer))
    holder = verdict.holder.describe() if verdict.holder else None
    return Liveness(verdict.alive, verdict.verdict.value, verdict.reason, holder)


def _identity(record: Any) -> dict[str, Any] | None:
    """``{pid, host, started_at}`` of a lock file's or a checkpoint's writer record."""
    if not isinstance(record, dict) or not isinstance(record.get("pid"), int):
        return None
    return {
        "pid": record["pid"],
        "host": record.get("host"),
        "started_at": record.get("started_at"),
    }


def settle(checkpoint: Checkpoint, liveness: Liveness) -> None:
    """Show a dead run's state as the loader does: paused, no pid, a note why."""
    head = checkpoint.head
    if head.get("status") != "running" or liveness.verdict != "dead":
        return
    previous = head.get("pid")
    head["status"] = "paused"
    head["pid"] = None
    if not head.get("error_message"):
        who = f"pid {previous}" if previous is not None else "the recorded process"
        head["error_message"] = (
            f"Recovered from a stale running state ({who} is no longer running this job); "
            f"the job is paused and can be resumed. Evidence: {liveness.reason}."
        )


def observe(ref: JobRef) -> tuple[Checkpoint, Liveness, bool]:
    """Read ``ref``, judge its liveness and settle a dead run's status.

    Returns the checkpoint, the verdict, and whether the files said "running". A run that
    finishes between the read and the lock probe would look dead (its files said running,
    its lock is free by the time it is probed); so a "dead" verdict only stands if the
    files did not change meanwhile, else they are read again.
    """
    for _ in range(3):
        before = _files_of(ref)
        checkpoint = read_checkpoint(ref)
        liveness = judge(checkpoint)
        if liveness.verdict != "dead" or _files_of(ref) == before:
            break
    was_running = checkpoint.status == "running"
    settle(checkpoint, liveness)
    return checkpoint, liveness, was_running


def _files_of(ref: JobRef) -> tuple[int, ...]:
    try:
        st = ref.state_path.stat()
    except OSError:
        return ()
    return (st.st_ino, st.st_size, st.st_mtime_ns, file_size(ref.history_path))


def exit_code_for(status: str) -> int:
    """The exit code `mzt run` gives for a job that ended in ``status``."""
    return {"completed": 0, "failed": 1, "cancelled": 4}.get(status, 3)


# --- rate limits ------------------------------------------------------------------------------


def rate_limits(instruments: Iterable[str], *, now: datetime | None = None) -> list[dict[str, Any]]:
    """Shared rate-limit records of these instruments, newest first."""
    wanted = set(instruments)
    moment = now or datetime.now(UTC)
    found = []
    for limit in ratelimits.all_records():
        if limit.instrument not in wanted:
            continue
        left = limit.seconds_left(moment)
        found.append(
            {
                **limit.to_json(),
                "active": left > 0,
                "seconds_left": round(max(0.0, left), 1),
            }
        )
    return found


# --- the status document ---------------------------------------------------------------------


def _when(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def elapsed_seconds(head: dict[str, Any], now: datetime) -> float | None:
    """Run time of the current (or last) run: to now while running, else to its end."""
    started = _when(head.get("started_at"))
    if started is None:
        return None
    if head.get("status") == "running":
        end = now
    else:
        end = _when(head.get("completed_at")) or _when(head.get("updated_at")) or now
    return max(0.0, (end - started).total_seconds())


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def _category(sheet: SheetState) -> str | None:
    return None if sheet.error_category is None else sheet.error_category.value


def pass_rate(sheet: SheetState) -> float | None:
    """Share of validations that passed in the last check, 0–100 (``None``: none ran)."""
    if sheet.last_pass_percentage is not None:
        return sheet.last_pass_percentage
    total = len(sheet.passed_validations) + len(sheet.failed_validations)
    if total:
        return len(sheet.passed_validations) / total * 100
    if sheet.validation_passed is not None:
        return 100.0 if sheet.validation_passed else 0.0
    return None


def sheet_duration(sheet: SheetState, now: datetime) -> float | None:
    """Time spent on the sheet: its attempts so far, plus the one running now."""
    spent = sheet.total_duration_seconds or sheet.execution_duration_seconds or 0.0
    if sheet.status in ACTIVE_SHEET and sheet.started_at is not None:
        spent += max(0.0, (now - sheet.started_at).total_seconds())
    return round(spent, 3) if spent or sheet.attempt_count else None


def sheet_json(sheet: SheetState, now: datetime) -> dict[str, Any]:
    """One sheet in the status document (the documented fields first)."""
    rate = pass_rate(sheet)
    waiting = sheet.fire_at or sheet.rate_limit_expires_at
    return {
        "status": sheet.status.value,
        "attempt_count": sheet.attempt_count,
        "validation_passed": sheet.validation_passed,
        "instrument_name": sheet.instrument_name,
        "error_code": sheet.error_code,
        "error_message": sheet.error_message,
        "error_category": _category(sheet),
        "movement": sheet.movement,
        "voice": sheet.voice,
        "started_at": _iso(sheet.started_at),
        "completed_at": _iso(sheet.completed_at),
        "duration_seconds": sheet_duration(sheet, now),
        "cost_usd": round(sheet.total_cost_usd, 6),
        "validation_pass_rate": None if rate is None else round(rate, 1),
        "completion_attempts": sheet.completion_attempts,
        "waiting_until": _iso(waiting),
        "fallbacks": [_fallback_json(dict(f)) for f in sheet.instrument_fallback_history],
    }


def _fallback_json(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "from": record.get("from"),
        "to": record.get("to"),
        "reason": record.get("reason"),
        "timestamp": record.get("timestamp"),
    }


def recent_errors(sheets: Iterable[SheetState], limit: int = RECENT_ERRORS) -> list[dict[str, Any]]:
    """The newest errors across sheets (same fields as the `errors` document), newest first.

    A failed sheet whose failure left no error record (a prompt that could not be
    rendered, say) contributes its own message.
    """
    found: list[dict[str, Any]] = []
    for sheet in sheets:
        for record in sheet.error_history:
            context = record.context if isinstance(record.context, dict) else {}
            found.append(
                {
                    "sheet_num": sheet.sheet_num,
                    "attempt": record.attempt_number,
                    "error_code": record.error_code,
                    "category": context.get("category") or record.error_type,
                    "message": record.error_message,
                    "timestamp": _iso(record.timestamp),
                }
            )
        if sheet.status == "failed" and not sheet.error_history:
            found.append(
                {
                    "sheet_num": sheet.sheet_num,
                    "attempt": sheet.attempt_count,
                    "error_code": sheet.error_code,
                    "category": _category(sheet),
                    "message": sheet.error_message,
                    "timestamp": _iso(sheet.completed_at),
                }
            )
    found.sort(key=lambda e: str(e.get("timestamp") or ""), reverse=True)
    return found[:limit]


def movements(sheets: Iterable[SheetState]) -> list[dict[str, Any]]:
    """Per movement (stage), sheets given in order: how many, and how many in each status."""
    # Per-movement accumulators as lists, turned into documents once at the end: a job of
    # ten thousand one-sheet movements makes ten thousand of them.
    groups: dict[int | None, list[Any]] = {}
    for sheet in sheets:
        movement = sheet.movement
        group = groups.get(movement)
        if group is None:
            group = groups[movement] = [sheet.sheet_num, 0, 0, {}, 0, 0.0, 0.0, []]
        group[1] = sheet.sheet_num
        group[2] += 1
        counts = group[3]
        status = sheet.status
        counts[status] = counts.get(status, 0) + 1
        group[4] += sheet.attempt_count
        group[5] += sheet.total_duration_seconds or sheet.execution_duration_seconds or 0.0
        group[6] += sheet.total_cost_usd
        name = sheet.instrument_name
        if name and name not in group[7]:
            group[7].append(name)
    return [
        {
            "movement": movement,
            "first_sheet": first,
            "last_sheet": last,
            "sheets": count,
            "counts": {str(k): v for k, v in counts.items()},
            "attempts": attempts,
            "duration_seconds": round(duration, 3),
            "cost_usd": round(cost, 6),
            "instruments": names,
        }
        for movement, (
            first,
            last,
            count,
            counts,
            attempts,
            duration,
            cost,
            names,
        ) in groups.items()
    ]


def next_steps(
    checkpoint: Checkpoint, liveness: Liveness, *, was_running: bool
) -> list[dict[str, str]]:
    """What to do next, as exact commands, most useful first."""
    ref = checkpoint.ref
    target = f"{shlex.quote(ref.job_id)} -w {shlex.quote(str(ref.workspace))}"
    status = checkpoint.status
    steps: list[dict[str, str]] = []

    def add(command: str, reason: str) -> None:
        steps.append({"command": command, "reason": reason})

    if liveness.alive is None and status == "running":
        holder = liveness.holder or {}
        add(
            "",
            f"the run was started on host {holder.get('host', '?')}; check it there "
            f"({liveness.reason})",
        )
    elif liveness.alive and status in ("running", "pending"):
        add(f"mzt watch {target}", "follow it live")
        add(f"mzt pause {target}", "stop it at the next sheet boundary")
    elif liveness.alive:
        add(f"mzt watch {target}", f"its run is finishing ({status})")
    elif status == "completed":
        pass
    elif status == "failed":
        add(f"mzt diagnose {target}", "see why sheets failed")
        add(f"mzt resume {target}", "run failed and blocked sheets again")
    elif was_running:
        add(f"mzt resume {target}", "its run died; continue from the checkpoint")
        add(f"mzt diagnose {target}", "see what it was doing when it died")
    elif status in ("paused", "pending"):
        resume_at = checkpoint.head.get("resume_at")
        when = f" (the rate limit should clear at {resume_at})" if resume_at else ""
        add(f"mzt resume {target}", f"continue from the checkpoint{when}")
    elif status == "cancelled":
        add(f"mzt resume {target}", "continue the cancelled sheets")
    return steps


def status_document(
    checkpoint: Checkpoint,
    liveness: Liveness,
    *,
    was_running: bool,
    now: datetime | None = None,
    sheet_limit: int | None = None,
) -> dict[str, Any]:
    """The ``mzt.status/1`` document of one job (the documented fields plus extras).

    ``sheet_limit``: above this many sheets, ``sheets`` is left empty and
    ``sheets_omitted`` is true (a terminal view of a big job shows movements instead; the
    JSON document always carries every sheet).
    """
    now = now or datetime.now(UTC)
    head = checkpoint.head
    ordered = [checkpoint.sheets[n] for n in sorted(checkpoint.sheets)]
    total = checkpoint.total
    done = checkpoint.completed
    counts: dict[str, int] = {}
    for sheet in ordered:
        counts[sheet.status] = counts.get(sheet.status, 0) + 1
    counts = {str(k): v for k, v in counts.items()}
    instruments = set(head.get("instruments_used") or [])
    for sheet in ordered:
        if sheet.instrument_name:
            instruments.add(sheet.instrument_name)
        instruments.update(sheet.fallback_chain)
    elapsed = elapsed_seconds(head, now)
    steps = next_steps(checkpoint, liveness, was_running=was_running)
    omit = sheet_limit is not None and len(ordered) > sheet_limit
    by_status: dict[str, list[int]] = {}
    for sheet in ordered:
        by_status.setdefault(sheet.status, []).append(sheet.sheet_num)
    by_status = {str(k): v for k, v in by_status.items()}
    return {
        "schema": SCHEMA_STATUS,
        "job_id": checkpoint.ref.job_id,
        "job_name": head.get("job_name"),
        "status": checkpoint.status,
        "alive": liveness.alive,
        "liveness": {
            "verdict": liveness.verdict,
            "reason": liveness.reason,
            "holder": liveness.holder,
        },
        "pid": head.get("pid"),
        "workspace": str(checkpoint.ref.workspace),
        "state_path": str(checkpoint.ref.state_path),
        "score_path": str(checkpoint.ref.score_path) if checkpoint.ref.score_path else None,
        "config_path": head.get("config_path"),
        "progress": {
            "completed": done,
            "total": total,
            "percent": round(done / total * 100, 1) if total else 0.0,
            "counts": counts,
        },
        "sheets": {} if omit else {str(s.sheet_num): sheet_json(s, now) for s in ordered},
        "sheets_omitted": omit,
        "sheets_by_status": by_status,
        "error_message": head.get("error_message"),
        "total_cost_usd": round(float(head.get("total_estimated_cost") or 0.0), 6),
        "cost": {
            "total_usd": round(float(head.get("total_estimated_cost") or 0.0), 6),
            "input_tokens": head.get("total_input_tokens"),
            "output_tokens": head.get("total_output_tokens"),
            "limit_reached": bool(head.get("cost_limit_reached")),
        },
        "created_at": head.get("created_at"),
        "started_at": head.get("started_at"),
        "updated_at": head.get("updated_at"),
        "completed_at": head.get("completed_at"),
        "elapsed_seconds": None if elapsed is None else round(elapsed, 3),
        "resume_at": head.get("resume_at"),
        "current_sheet": head.get("current_sheet"),
        "running_sheets": [s.sheet_num for s in ordered if s.status in ACTIVE_SHEET],
        "total_retry_count": head.get("total_retry_count"),
        "rate_limit_waits": head.get("rate_limit_waits"),
        "quota_waits": head.get("quota_waits"),
        "total_movements": head.get("total_movements"),
        "movements": movements(ordered),
        "recent_errors": recent_errors(ordered),
        "rate_limits": rate_limits(instruments, now=now),
        "next_step": steps[0]["command"] if steps and steps[0]["command"] else None,
        "next_steps": steps,
        "seq": head.get("seq"),
    }


def job_status(
    job: str,
    *,
    workspace: Path | None = None,
    cwd: Path | None = None,
    now: datetime | None = None,
    sheet_limit: int | None = None,
) -> dict[str, Any]:
    """Find ``job``, read it, judge its liveness: its ``mzt.status/1`` document.

    ``sheet_limit`` as in :func:`status_document`.
    """
    ref = find(job, workspace=workspace, cwd=cwd)
    with collector_paused():
        checkpoint, liveness, was_running = observe(ref)
        document = status_document(
            checkpoint, liveness, was_running=was_running, now=now, sheet_limit=sheet_limit
        )
    leftovers = []
    if liveness.alive is False:
        # Only a dead run can leave attempts behind; the loader this needs costs a live one
        # nothing then.
        from mzt.execute.leftovers import job_leftovers

        leftovers = [item.to_json() for item in job_leftovers(ref.workspace, ref.job_id)]
    document["leftover_attempts"] = leftovers
    return document


# --- list and overview -----------------------------------------------------------------------


def list_row(ref: JobRef) -> dict[str, Any] | None:
    """One ``list`` row; a damaged checkpoint is a ``corrupt`` row.

    ``None`` when the workspace no longer holds the job's checkpoint.
    """
    try:
        with collector_paused():
            checkpoint, liveness, _ = observe(ref)
    except JobNotFoundError:
        return None
    except StateCorruptionError as exc:
        return _corrupt_row(ref, exc)
    head = checkpoint.head
    return {
        "job_id": ref.job_id,
        "job_name": head.get("job_name"),
        "status": checkpoint.status,
        "alive": liveness.alive,
        "liveness": liveness.verdict,
        "pid": head.get("pid"),
        "workspace": str(ref.workspace),
        "progress": {"completed": checkpoint.completed, "total": checkpoint.total},
        "failed": checkpoint.count("failed"),
        "running_sheets": checkpoint.running_sheets,
        "updated_at": head.get("updated_at"),
        "started_at": head.get("started_at"),
        "score_path": str(ref.score_path) if ref.score_path else None,
        "error": None,
    }


def _corrupt_row(ref: JobRef, exc: StateCorruptionError) -> dict[str, Any]:
    try:
        mtime = datetime.fromtimestamp(ref.state_path.stat().st_mtime, UTC)
        updated: str | None = mtime.isoformat().replace("+00:00", "Z")
    except OSError:
        updated = None
    return {
        "job_id": ref.job_id,
        "job_name": None,
        "status": CORRUPT,
        "alive": None,
        "liveness": None,
        "pid": None,
        "workspace": str(ref.workspace),
        "progress": {"completed": None, "total": None},
        "failed": None,
        "running_sheets": [],
        "updated_at": updated,
        "started_at": None,
        "score_path": str(ref.score_path) if ref.score_path else None,
        "error": exc.message,
    }


def list_rows(
    *, statuses: Iterable[str] | None = None, include_all: bool = False
) -> list[dict[str, Any]]:
    """Rows of every registered job, newest first.

    By default completed and cancelled jobs are left out; ``include_all`` keeps them;
    ``statuses`` keeps only those statuses (``corrupt`` included).
    """
    wanted = set(statuses) if statuses else None
    rows = [row for ref in registered_jobs() if (row := list_row(ref)) is not None]
    if wanted is not None:
        rows = [r for r in rows if r["status"] in wanted]
    elif not include_all:
        rows = [r for r in rows if r["status"] not in FINISHED_FOR_LIST]
    rows.sort(
        key=lambda r: _when(r["updated_at"]) or datetime.min.replace(tzinfo=UTC), reverse=True
    )
    return rows


def list_document(
    *, statuses: Iterable[str] | None = None, include_all: bool = False
) -> dict[str, Any]:
    """The ``mzt.list/1`` document."""
    return {"schema": SCHEMA_LIST, "jobs": list_rows(statuses=statuses, include_all=include_all)}


def overview_document(*, recent: int = 5) -> dict[str, Any]:
    """``mzt status`` without a job: every registered job, grouped for a glance.

    ``active`` are jobs whose run is alive; ``attention`` those that stopped short
    (failed, paused, dead, corrupt, cancelled); ``recent`` the newest completed ones.
    """
    rows = list_rows(include_all=True)
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    active = [r for r in rows if r["alive"]]
    attention = [r for r in rows if not r["alive"] and r["status"] != "completed"]
    done = [r for r in rows if not r["alive"] and r["status"] == "completed"]
    return {
        "schema": SCHEMA_OVERVIEW,
        "counts": counts,
        "total": len(rows),
        "active": active,
        "attention": attention,
        "recent": done[:recent],
        "jobs": rows,
    }
