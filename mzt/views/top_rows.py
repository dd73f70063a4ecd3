"""The rows of a `mzt top` frame: one per job, and the machine's shared records.

A job's row says what its sheets do (from its checkpoint, scanned once while its files do
not change), what waits and why (a retry, a rate limit, an open circuit, a machine slot:
the last read from the slot queues, since a slot wait is not recorded in the checkpoint),
its progress and its cost. :mod:`mzt.views.top` puts the rows together into frames.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from mzt.state.models import SheetState
from mzt.state.reading import ACTIVE_SHEET, Checkpoint, JobRef
from mzt.state.statuses import SheetStatus
from mzt.support import paths
from mzt.views.circuits import circuit_records
from mzt.views.liveness import Liveness
from mzt.views.status import CORRUPT
from mzt.views.status_document import elapsed_seconds

if TYPE_CHECKING:
    from collections.abc import Mapping

    from mzt.machine.slot_waits import SlotWait
    from mzt.views.slurm_jobs import SlurmJob

# Why a sheet waits, from its status (and, for a waiting sheet, what it waits for): the
# same reading as the run's own output gives ("retry in 4s", "rate limited; next try").
WAIT_RETRY = "retry"
WAIT_COMPLETION = "completion"
WAIT_RATE_LIMIT = "rate_limited"
WAIT_CIRCUIT = "circuit_open"
WAIT_FERMATA = "fermata"


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _seconds(since: datetime | None, until: datetime | None) -> float | None:
    if since is None or until is None:
        return None
    return round(max(0.0, (until - since).total_seconds()), 1)


def wait_reason(status: str, mode: str | None, rate_limited: bool) -> str | None:
    """Why a sheet in ``status`` waits (``None``: it does not wait)."""
    if status == SheetStatus.RETRY_SCHEDULED:
        return WAIT_COMPLETION if mode == "completion" else WAIT_RETRY
    if status == SheetStatus.WAITING:
        # A rate-limit wait records when the limit expires; a circuit wait only when to look.
        return WAIT_RATE_LIMIT if rate_limited else WAIT_CIRCUIT
    if status == SheetStatus.FERMATA:
        return WAIT_FERMATA
    return None


class Scan(msgspec.Struct):
    """What one pass over a job's sheets found; kept while the job's files do not change."""

    counts: dict[str, int]
    active: list[SheetState]
    waiting: list[tuple[SheetState, str]]


def scan(checkpoint: Checkpoint) -> Scan:
    """Sheets per status, the sheets that run and those that wait (with why), in order."""
    counts: dict[str, int] = {}
    active: list[SheetState] = []
    waiting: list[tuple[SheetState, str]] = []
    for num in sorted(checkpoint.sheets):
        sheet = checkpoint.sheets[num]
        value = sheet.status.value
        counts[value] = counts.get(value, 0) + 1
        if sheet.status in ACTIVE_SHEET:
            active.append(sheet)
            continue
        mode = None if sheet.execution_mode is None else str(sheet.execution_mode)
        why = wait_reason(value, mode, sheet.rate_limit_expires_at is not None)
        if why is not None:
            waiting.append((sheet, why))
    return Scan(counts, active, waiting)


def job_row(
    checkpoint: Checkpoint,
    liveness: Liveness,
    now: datetime,
    found: Scan | None = None,
    waits: dict[int | None, SlotWait] | None = None,
    slurm: Mapping[int, SlurmJob] | None = None,
) -> dict[str, Any]:
    """One job in a frame: what runs, what waits and why, progress and cost.

    ``found``: the :func:`scan` of this very checkpoint, if one was kept. ``waits``: the
    job's waits for machine slots (:func:`mzt.machine.slot_waits.waiting_sheets`).
    ``slurm``: the running sheets whose attempts are Slurm jobs, by sheet.
    """
    slurm = slurm or {}
    head = checkpoint.head
    status = checkpoint.status
    dead = liveness.verdict == "dead"
    if status == "running" and dead:
        status = "paused"  # as the loader shows a run that died
    found = found or scan(checkpoint)
    # Only a live run runs or waits for anything: a dead or stopped run's sheets keep
    # their stored status, but nothing will start them until the job is resumed.
    acting = bool(liveness.alive) and not dead
    running = [
        {
            "sheet": sheet.sheet_num,
            "instrument": sheet.instrument_name,
            "attempt": sheet.attempt_count,
            "started_at": _iso(sheet.started_at),
            "seconds": _seconds(sheet.started_at, now),
            "slurm": _slurm(slurm.get(sheet.sheet_num)),
        }
        for sheet in (found.active if acting else [])
    ]
    waiting = [
        {
            "sheet": sheet.sheet_num,
            "instrument": sheet.instrument_name,
            "reason": why,
            "until": _iso(sheet.fire_at),
            "seconds_left": _seconds(now, sheet.fire_at),
        }
        for sheet, why in (found.waiting if acting else [])
    ]
    slot_waits = [
        {"sheet": sheet, **wait.to_json()}
        for sheet, wait in sorted((waits or {}).items(), key=lambda item: item[0] or 0)
        if acting
    ]
    counts = found.counts
    elapsed = elapsed_seconds(head, now)
    return {
        "job_id": checkpoint.ref.job_id,
        "job_name": head.get("job_name"),
        "workspace": str(checkpoint.ref.workspace),
        "status": status,
        "alive": liveness.alive,
        "pid": None if dead else head.get("pid"),
        "progress": {
            "completed": counts.get("completed", 0),
            "total": checkpoint.total,
            "failed": counts.get("failed", 0),
        },
        "running": running,
        "waiting": waiting,
        # Sheets (and, as sheet null, the run itself) waiting for machine slots.
        "waiting_for_slot": slot_waits,
        "cost_usd": round(float(head.get("total_estimated_cost") or 0.0), 6),
        "elapsed_seconds": None if elapsed is None else round(elapsed, 1),
        "updated_at": head.get("updated_at"),
        "error": None,
    }


def _slurm(job: SlurmJob | None) -> dict[str, Any] | None:
    return None if job is None else {"job_id": job.job_id, "state": job.state, "node": job.node}


def corrupt_row(ref: JobRef, message: str) -> dict[str, Any]:
    """A job whose checkpoint the loader refuses: shown, with the loader's reason."""
    return {
        "job_id": ref.job_id,
        "job_name": None,
        "workspace": str(ref.workspace),
        "status": CORRUPT,
        "alive": None,
        "pid": None,
        "progress": {"completed": None, "total": None, "failed": None},
        "running": [],
        "waiting": [],
        "waiting_for_slot": [],
        "cost_usd": 0.0,
        "elapsed_seconds": None,
        "updated_at": None,
        "error": message,
    }


def active_rate_limits(now: datetime) -> list[dict[str, Any]]:
    """Shared rate-limit records still in force, the soonest to clear first."""
    if not _has_records(paths.ratelimits_dir()):
        return []
    from mzt.instruments import ratelimits  # only when there are records (see status)

    found = [
        {**limit.to_json(), "seconds_left": round(left, 1)}
        for limit in ratelimits.all_records()
        if (left := limit.seconds_left(now)) > 0
    ]
    return sorted(found, key=lambda item: item["seconds_left"])


def open_circuits(now: datetime) -> list[dict[str, Any]]:
    """Shared circuits that are not closed (open, or half open: a trial may run)."""
    return [doc for doc in circuit_records(now=now) if doc["state"] != "closed"]


def _has_records(folder: Path) -> bool:
    try:
        with os.scandir(folder) as entries:
            return any(entry.name.endswith(".json") for entry in entries)
    except OSError:
        return False
