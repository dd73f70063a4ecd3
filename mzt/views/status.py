"""What `mzt status`, `mzt list` and `mzt watch` show, built from a job's files.

There is no daemon to ask: the checkpoint is read through the store's own loader
(:mod:`mzt.state.reading`), liveness comes from probing the run lock (never taking it, in
:mod:`mzt.views.liveness`), and rate limits from the shared records. This module finds the
job and reads it; :mod:`mzt.views.status_document` builds its status document, and the
list and overview documents are built here.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mzt.state.reading import (
    JobRef,
    collector_paused,
    registered_jobs,
)
from mzt.support.errors import JobNotFoundError, StateCorruptionError
from mzt.support.moments import parse_moment
from mzt.views.liveness import observe
from mzt.views.lookup import locate
from mzt.views.registered import SCHEMA_OVERVIEW
from mzt.views.status_document import status_document

SCHEMA_LIST = "mzt.list/1"
FINISHED_FOR_LIST = frozenset({"completed", "cancelled"})
CORRUPT = "corrupt"


def find(job: str, *, workspace: Path | None = None, cwd: Path | None = None) -> JobRef:
    """The job named by id or score file, by the documented look-up rules."""
    found = locate(job, workspace=workspace, cwd=cwd)
    return JobRef(found.job_id, found.workspace, found.score_path)


def job_status(
    job: str,
    *,
    workspace: Path | None = None,
    cwd: Path | None = None,
    now: datetime | None = None,
    sheet_limit: int | None = None,
    movement_rows: int | None = None,
) -> dict[str, Any]:
    """Find ``job``, read it, judge its liveness: its ``mzt.status/1`` document.

    ``sheet_limit`` and ``movement_rows`` as in :func:`status_document`.
    """
    ref = find(job, workspace=workspace, cwd=cwd)
    with collector_paused():
        checkpoint, liveness, was_running = observe(ref)
        document, has_handles = status_document(
            checkpoint,
            liveness,
            was_running=was_running,
            now=now,
            sheet_limit=sheet_limit,
            movement_rows=movement_rows,
        )
    leftovers = []
    if liveness.alive is False and has_handles:
        # Only a dead run can leave attempts behind, and only where a sheet recorded one:
        # the executors are imported for nothing else.
        from mzt.execute.leftovers import view_leftovers

        leftovers = [item.to_json() for item in view_leftovers(ref.lock_path, checkpoint.state)]
    document["leftover_attempts"] = leftovers
    attempts = []
    if liveness.alive and has_handles:
        from mzt.views.slurm_jobs import slurm_attempts

        attempts = slurm_attempts(checkpoint.state)
    document["slurm_attempts"] = attempts
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
    dead = liveness.verdict == "dead"
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
        "running_sheets": [] if dead else checkpoint.running_sheets,
        "interrupted_sheets": checkpoint.running_sheets if dead else [],
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
        "interrupted_sheets": [],
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
        key=lambda r: parse_moment(r["updated_at"]) or datetime.min.replace(tzinfo=UTC),
        reverse=True,
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
