"""Taking over a job that another host has marked running (``--take-over``).

A running checkpoint whose writer names another host cannot be judged from here: that
host may still be running the job on storage it shares with this machine, or it may be
gone for good (a container that gets a new host name after a crash finds its own jobs
so). mzt refuses such a job with :class:`~mzt.support.errors.ForeignHostError` (exit 75)
unless told to take it over. Only the holder of this machine's run lock may take a job
over, so a live run here always wins; the take-over is kept in the checkpoint
(``taken_over``) and in the history (a ``taken_over`` event).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mzt.state.liveness import current_identity, format_timestamp
from mzt.state.lock import JobLiveness, LiveVerdict
from mzt.state.records import utc_now
from mzt.state.writer import TakeOver
from mzt.support.errors import ForeignHostError

if TYPE_CHECKING:
    from pathlib import Path

    from mzt.state.checkpoint import CheckpointState
    from mzt.state.json_store import JsonStateBackend


def is_foreign(liveness: JobLiveness) -> bool:
    """Whether the job is marked running by another host (and not held here)."""
    return liveness.verdict == LiveVerdict.FOREIGN


def foreign_error(
    state: CheckpointState, liveness: JobLiveness, state_path: Path
) -> ForeignHostError:
    """The refusal for a job another host marks running: who, since when, what to do."""
    holder = liveness.holder.describe() if liveness.holder else None
    return ForeignHostError(
        state.job_id,
        str(state_path),
        holder,
        last_written=format_timestamp(state.updated_at.timestamp()),
        here=current_identity().host,
    )


def take_over_record(state: CheckpointState, liveness: JobLiveness, command: str) -> TakeOver:
    """What a take-over of ``state`` by this process with ``command`` is recorded as.

    Built before the state is touched: ``last_written_at`` is when the other host last
    wrote it.
    """
    holder = liveness.holder
    here = current_identity()
    return TakeOver(
        from_host=holder.host if holder else "an unknown host",
        from_pid=holder.pid if holder else None,
        from_started_at=holder.started_at if holder else None,
        last_written_at=format_timestamp(state.updated_at.timestamp()),
        at=format_timestamp(utc_now().timestamp()) or "",
        by_host=here.host,
        by_pid=here.pid,
        command=command,
    )


def record_take_over(store: JsonStateBackend, state: CheckpointState, take: TakeOver) -> None:
    """Put the take-over in the history; the caller has put it in ``state`` and saved it."""
    store.record_event(
        state,
        "taken_over",
        from_host=take.from_host,
        from_pid=take.from_pid,
        last_written_at=take.last_written_at,
        by_host=take.by_host,
        command=take.command,
    )
