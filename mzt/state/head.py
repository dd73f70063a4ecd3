"""A job's head — status, score hash, sheet counts — for `mzt run`'s no-op answer.

Cron runs `mzt run score.yaml` again and again for jobs long completed; `read_head`
gives the run what it needs to say "nothing to do" without the score models or the plan.
It reads through the store's one loader (:mod:`mzt.state.loader`), so it never sees a
state that the loader would refuse: anything the loader rejects returns ``None`` and the
caller takes the full path, which reports the damage (exit 5).
"""

from __future__ import annotations

from pathlib import Path

from mzt.support import paths
from mzt.support.errors import StateCorruptionError
from mzt.support.frozen import Frozen


class Head(Frozen):
    """What a job's checkpoint says about the job as a whole."""

    __slots__ = (
        "completed_sheets",
        "config_path",
        "error_message",
        "failed_sheets",
        "job_id",
        "score_hash",
        "status",
        "total_sheets",
    )
    job_id: str
    status: str
    score_hash: str | None  # SHA-256 of the score file's bytes (see CheckpointState)
    config_path: str | None
    total_sheets: int
    completed_sheets: int
    failed_sheets: tuple[int, ...]
    error_message: str | None

    def __init__(
        self,
        *,
        job_id: str,
        status: str,
        score_hash: str | None,
        config_path: str | None,
        total_sheets: int,
        completed_sheets: int,
        failed_sheets: tuple[int, ...],
        error_message: str | None,
    ) -> None:
        self._set(
            job_id=job_id,
            status=status,
            score_hash=score_hash,
            config_path=config_path,
            total_sheets=total_sheets,
            completed_sheets=completed_sheets,
            failed_sheets=failed_sheets,
            error_message=error_message,
        )


def read_head(workspace: Path, job_id: str) -> Head | None:
    """The head of ``job_id``'s checkpoint in ``workspace``; None when it cannot be read."""
    from mzt.state.loader import read_state
    from mzt.state.statuses import SheetStatus

    try:
        state = read_state(
            job_id, paths.state_file(workspace, job_id), paths.history_file(workspace, job_id)
        )
    except (OSError, StateCorruptionError):
        return None
    if state is None:
        return None
    statuses = {num: sheet.status for num, sheet in state.sheets.items()}
    return Head(
        job_id=job_id,
        status=str(state.status),
        score_hash=state.config_file_hash,
        config_path=state.config_path,
        total_sheets=state.total_sheets,
        completed_sheets=sum(1 for s in statuses.values() if s == SheetStatus.COMPLETED),
        failed_sheets=tuple(sorted(n for n, s in statuses.items() if s == SheetStatus.FAILED)),
        error_message=state.error_message,
    )
