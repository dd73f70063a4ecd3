"""Finding a job and reading it without disturbing the run that owns it.

Read commands (status, list, watch, errors, diagnose, history, logs, pause, cancel)
name a job by its id or by its score file. Reading takes no lock and writes nothing: the
checkpoint is replaced atomically and the journal is append-only, so a reader always
sees a whole state, and liveness comes from probing the run lock.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from mzt.state.registry import JobLocation, find_job
from mzt.support.errors import JobNotFoundError

if TYPE_CHECKING:
    from mzt.state import CheckpointState, JobStatus
    from mzt.state.lock import JobLiveness


class JobView(msgspec.Struct, frozen=True):  # a dataclass costs a millisecond to make
    """A job's state as read now, with the verdict on whether its run is alive."""

    location: JobLocation
    state: CheckpointState
    liveness: JobLiveness

    @property
    def job_id(self) -> str:
        return self.location.job_id

    @property
    def workspace(self) -> Path:
        return self.location.workspace

    @property
    def alive(self) -> bool | None:
        return self.liveness.alive

    @property
    def status(self) -> JobStatus:
        """The status to show: a running state whose run is gone reads as paused."""
        return self.state.status


def locate(job: str, *, workspace: Path | None = None, cwd: Path | None = None) -> JobLocation:
    """A job named by id (workspace, current folder, registry) or by its score file."""
    path = Path(job)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        from mzt.score.loader import load_score
        from mzt.score.preparation import resolve_workspace

        loaded = load_score(path)
        ws = resolve_workspace(loaded, workspace)
        return JobLocation(loaded.job_id, ws, path.resolve(), "score")
    return find_job(job, workspace=workspace, cwd=cwd or Path.cwd())


def open_job(location: JobLocation) -> JobView:
    """Read the job's checkpoint (snapshot plus journal) and judge its liveness.

    Missing state raises `JobNotFoundError`; damaged state raises
    `StateCorruptionError` (exit 5) and leaves the file as it was.
    """
    # Imported here: finding a job must stay cheap for commands that read files directly
    # (`mzt status` reads through mzt.state.reading, and never needs the lock's machinery).
    from mzt.state import JsonStateBackend
    from mzt.state.loader import read_state
    from mzt.state.lock import LiveVerdict

    store = JsonStateBackend(location.workspace)
    state_path = store.state_path(location.job_id)
    state = read_state(location.job_id, state_path, store.history_path(location.job_id))
    if state is None:
        raise JobNotFoundError(location.job_id, [str(state_path)])
    # Judged on the stored status: a dead "running" job must read as dead, not idle.
    liveness = store.liveness(state)
    if liveness.verdict == LiveVerdict.DEAD:
        state.mark_zombie_detected(reason=f"Evidence: {liveness.reason}.")
    return JobView(location, state, liveness)


def read_job(job: str, *, workspace: Path | None = None, cwd: Path | None = None) -> JobView:
    """`locate` then `open_job`."""
    return open_job(locate(job, workspace=workspace, cwd=cwd))
