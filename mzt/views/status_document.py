"""The ``mzt.status/1`` document of one job, built from what its files and records say.

:mod:`mzt.views.status` finds the job and judges its liveness; this module turns the
checkpoint, that verdict, the shared rate-limit and circuit records and the machine's slot
queues (:mod:`mzt.machine.slot_waits`, read only while the run is alive: only a live run
waits for a slot) into the document `mzt status` prints or renders.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mzt.state import hook_rounds
from mzt.state.reading import Checkpoint
from mzt.state.statuses import SheetStatus
from mzt.support import paths
from mzt.support.moments import parse_moment
from mzt.views.circuits import job_circuits
from mzt.views.liveness import Liveness
from mzt.views.sheet_summary import sheet_json, summarize
from mzt.views.worktrees import isolation_json

if TYPE_CHECKING:
    from mzt.machine.slot_waits import SlotWait

SCHEMA_STATUS = "mzt.status/1"


# --- rate limits ------------------------------------------------------------------------------


def rate_limits(instruments: Iterable[str], *, now: datetime | None = None) -> list[dict[str, Any]]:
    """Shared rate-limit records of these instruments, newest first."""
    wanted = set(instruments)
    if not _any_records():
        return []
    # Imported only when there are records to read: with its `dataclasses` and `json` it
    # costs `mzt status` milliseconds, and most machines hold no limit at all.
    from mzt.instruments import ratelimits

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


def _any_records() -> bool:
    """Whether the rate-limit folder may hold a record (``*.json``, as the records are named)."""
    try:
        return any(entry.name.endswith(".json") for entry in paths.ratelimits_dir().iterdir())
    except OSError:
        return False


# --- the status document ---------------------------------------------------------------------


def elapsed_seconds(head: dict[str, Any], now: datetime) -> float | None:
    """Run time of the current (or last) run: to now while running, else to its end."""
    started = parse_moment(head.get("started_at"))
    if started is None:
        return None
    if head.get("status") == "running":
        end = now
    else:
        end = parse_moment(head.get("completed_at")) or parse_moment(head.get("updated_at")) or now
    return max(0.0, (end - started).total_seconds())


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
        host = (liveness.holder or {}).get("host", "?")
        add("", f"the run was started on host {host}; check it there ({liveness.reason})")
        add(f"mzt resume {target} --take-over", f"only once the run on {host} is gone")
    elif liveness.alive and status in ("running", "pending"):
        add(f"mzt watch {target}", "follow it live")
        add(f"mzt pause {target}", "stop it at the next sheet boundary")
    elif liveness.alive:
        add(f"mzt watch {target}", f"its run is finishing ({status})")
    elif status == "completed":
        if hook_rounds.owed(checkpoint.head.get("hook_results") or []):
            add(f"mzt resume {target}", "fire the on_success hooks that failed again")
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


# The fields of a take-over record (mzt.state.writer.TakeOver); the file leaves out empty ones.
_TAKE_OVER_FIELDS = (
    "from_host",
    "from_pid",
    "from_started_at",
    "last_written_at",
    "at",
    "by_host",
    "by_pid",
    "command",
)


def _take_over(record: Any) -> dict[str, Any] | None:
    """The checkpoint's last take-over from another host, every field named."""
    if not isinstance(record, dict):
        return None
    return {name: record.get(name) for name in _TAKE_OVER_FIELDS}


def slot_waits(checkpoint: Checkpoint) -> dict[int | None, SlotWait]:
    """The job's waits for machine slots, per sheet and (``None``) for its job slot.

    The checkpoint does not record them (a waiting sheet stays pending): the queues do.
    Read only for a live run; the slot reader is imported only when a queue holds a ticket.
    """
    from mzt.machine.slot_waits import waiting_sheets

    return waiting_sheets(checkpoint.ref.job_id, checkpoint.ref.workspace)


def _pressure() -> dict[str, Any]:
    from mzt.views import pressure_view

    return pressure_view.reading().to_json()


def _numbered(waits: dict[int | None, SlotWait]) -> list[tuple[int, SlotWait]]:
    return [(num, wait) for num, wait in waits.items() if num is not None]


def status_document(
    checkpoint: Checkpoint,
    liveness: Liveness,
    *,
    was_running: bool,
    now: datetime | None = None,
    sheet_limit: int | None = None,
    movement_rows: int | None = None,
) -> tuple[dict[str, Any], bool]:
    """The ``mzt.status/1`` document of one job (the documented fields plus extras), and
    whether any sheet records an attempt handle (see :func:`job_status`).

    ``sheet_limit``: above this many sheets, ``sheets`` is left empty and
    ``sheets_omitted`` is true (a terminal view of a big job shows movements instead; the
    JSON document always carries every sheet). ``movement_rows``: above this many
    movements, each run of movements whose sheets all completed is one entry of
    ``movements``, with a ``label`` (``"12-95"``) and ``movement`` null.
    """
    now = now or datetime.now(UTC)
    head = checkpoint.head
    by_num = checkpoint.sheets
    numbers = sorted(by_num)
    # A checkpoint keeps its sheets in order already: then they need no look-up each.
    ordered = list(by_num.values()) if numbers == list(by_num) else [by_num[n] for n in numbers]
    total = checkpoint.total
    summary = summarize(ordered, movement_rows=movement_rows)
    done = summary.counts.get(SheetStatus.COMPLETED, 0)
    instruments = set(head.get("instruments_used") or []) | summary.instruments
    elapsed = elapsed_seconds(head, now)
    steps = next_steps(checkpoint, liveness, was_running=was_running)
    omit = sheet_limit is not None and len(ordered) > sheet_limit
    # A dead run's attempts ended with it: their sheets still say in_progress (the stored
    # status, kept), but they are interrupted, and their time stops at its last write.
    interrupted = set(summary.running) if liveness.verdict == "dead" else set()
    last_write = parse_moment(head.get("updated_at")) or now
    sheets = {
        str(s.sheet_num): (
            sheet_json(s, last_write, interrupted=True)
            if s.sheet_num in interrupted
            else sheet_json(s, now)
        )
        for s in ([] if omit else ordered)
    }
    waits = slot_waits(checkpoint) if liveness.alive else {}
    for num, sheet in sheets.items():
        wait = waits.get(int(num))
        sheet["waiting_for_slot"] = wait.to_json() if wait else None
    job_wait = waits.get(None)
    document = {
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
            "counts": summary.counts,
        },
        "sheets": {} if omit else sheets,
        "sheets_omitted": omit,
        "sheets_by_status": summary.by_status,
        "error_message": head.get("error_message"),
        "taken_over": _take_over(head.get("taken_over")),
        "isolation": isolation_json(head),
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
        # A dead run runs nothing: its sheets are interrupted, not running.
        "running_sheets": [] if interrupted else summary.running,
        "waiting_for_slot": job_wait.to_json() if job_wait else None,
        # How loaded the machine is, for a run that is alive (``mzt.pressure/1``).
        "pressure": _pressure() if liveness.alive else None,
        # Every sheet's slot wait, also when ``sheets`` is omitted.
        "slot_waits": {str(n): w.to_json() for n, w in sorted(_numbered(waits))},
        "interrupted_sheets": sorted(interrupted),
        "total_retry_count": head.get("total_retry_count"),
        "rate_limit_waits": head.get("rate_limit_waits"),
        "quota_waits": head.get("quota_waits"),
        "total_movements": head.get("total_movements"),
        "movements": summary.movements,
        "recent_errors": summary.recent_errors,
        "rate_limits": rate_limits(instruments, now=now),
        "circuit_breaker": job_circuits(
            head.get("circuit_breaker_history") or [], instruments, now
        ),
        "next_step": steps[0]["command"] if steps and steps[0]["command"] else None,
        "next_steps": steps,
        "seq": head.get("seq"),
        **hook_rounds.status_fields(head.get("hook_results"), checkpoint.state.config_snapshot),
    }
    return document, summary.has_handles
