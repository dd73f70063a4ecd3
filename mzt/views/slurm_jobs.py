"""Which Slurm job each running attempt of a live run is, and where Slurm has it now.

The job id comes from the checkpoint: the conductor journals it before it waits on the
job. The state and the node come from Slurm (``squeue``) at the moment of asking, since
nothing in the workspace changes when a job goes from pending to running. The views that
redraw on every file event (`watch`, `top`) keep the answer in a :class:`SlurmLookup`,
which asks again only when the recorded ids change or :data:`ASK_EVERY` has passed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple

from mzt.execute import slurm_cli
from mzt.execute.base import AttemptHandle
from mzt.state import CheckpointState

ASK_EVERY = 2.0  # seconds between two questions to Slurm from one watching view

Places = Mapping[str, tuple[str, str | None]]  # job id → (state, node or None)


class SlurmJob(NamedTuple):
    """A running attempt that is a Slurm job; ``state`` None once Slurm no longer lists it."""

    sheet_num: int
    attempt: int
    job_id: str
    state: str | None = None
    node: str | None = None

    def to_json(self) -> dict[str, Any]:
        return self._asdict()


def recorded_jobs(state: CheckpointState, sheets: Iterable[int] | None = None) -> list[SlurmJob]:
    """The Slurm jobs the state's attempt handles name (of ``sheets`` only, if given), in
    sheet order, without their state or node."""
    found = []
    for num in sorted(state.sheets if sheets is None else sheets):
        sheet = state.sheets.get(num)
        record = sheet.attempt_handle if sheet is not None else None
        handle = AttemptHandle.from_record(record) if record else None
        if handle is None or handle.executor != slurm_cli.EXECUTOR:
            continue
        job_id = str(handle.extra.get("job_id") or "")
        if job_id:
            found.append(SlurmJob(num, handle.attempt, job_id))
    return found


def slurm_attempts(state: CheckpointState) -> list[dict[str, Any]]:
    """``status`` and ``diagnose``: every recorded Slurm attempt of a live run, located now."""
    return [job.to_json() for job in SlurmLookup().jobs(state, state.sheets)]


class SlurmLookup:
    """The running attempts' Slurm jobs for a view that redraws often: Slurm is asked when
    the recorded ids change, else at most every ``every`` seconds."""

    def __init__(
        self,
        *,
        every: float = ASK_EVERY,
        clock: Callable[[], float] = time.monotonic,
        ask: Callable[[Iterable[str]], Places] = slurm_cli.job_places,
    ) -> None:
        self.every = every
        self.clock = clock
        self.ask = ask
        self._ids: tuple[str, ...] = ()
        self._places: dict[str, tuple[str, str | None]] = {}
        self._asked_at = float("-inf")

    def jobs(self, checkpoint: CheckpointState, sheets: Iterable[int]) -> tuple[SlurmJob, ...]:
        """The Slurm jobs of ``sheets``, each with its last known state and node (None for
        both when Slurm does not answer or no longer lists the job)."""
        recorded = recorded_jobs(checkpoint, sheets)
        ids = tuple(sorted({job.job_id for job in recorded}))
        if not ids:
            self._ids = ()
            return ()
        if ids != self._ids or self.clock() - self._asked_at >= self.every:
            self._ids, self._asked_at = ids, self.clock()
            try:
                self._places = dict(self.ask(ids))
            except slurm_cli.SlurmError:
                self._places = {}
        located = []
        for job in recorded:
            state, node = self._places.get(job.job_id, (None, None))
            located.append(job._replace(state=state, node=node))
        return tuple(located)
