"""`mzt modify`: the checks a new score must pass before a job is touched at all.

Modifying a job means continuing it with another score, as `mzt resume JOB -c NEW.yaml`
does. Before anything is paused or written, the new score must be valid (else exit 2,
as `mzt validate` reports it), name the same job (the job id comes from the score's
``name``), and expand to the same number of sheets: a continuation with another count
would start the job fresh (see `mzt.run.opening`) and lose the progress modify is meant to
keep, so that is refused with the command that starts fresh on purpose. A completed job
has nothing to continue (its next `mzt run` starts fresh with a changed score anyway) and
a job that never started has nothing to modify; both are refused too.
"""

from __future__ import annotations

from pathlib import Path

from mzt.run.launch import locate_job
from mzt.score.preparation import prepare_score
from mzt.state import JobStatus, JsonStateBackend
from mzt.state.takeover import foreign_error, is_foreign
from mzt.support import records
from mzt.support.errors import JobNotFoundError, UsageError


@records.record(frozen=True)
class Modification:
    """A new score checked against the job it is to continue."""

    job_id: str
    workspace: Path
    config: Path
    total_sheets: int
    status: str  # the job's status when it was checked
    foreign: bool = False  # another host marks it running (only with take_over)

    @property
    def resume_command(self) -> str:
        return f"mzt resume {self.job_id} -w {self.workspace} -c {self.config}"


def check_modification(
    job: str, *, config: Path, workspace: Path | None = None, take_over: bool = False
) -> Modification:
    """Check that ``config`` can continue ``job``; raise (exit 2) what stops it.

    A job another host marks running raises ForeignHostError (exit 75) unless
    ``take_over`` (the resume then takes it over).
    """
    job_id, ws = locate_job(job, workspace)
    store = JsonStateBackend(ws)
    state = store.load(job_id)
    if state is None:
        raise JobNotFoundError(job_id, [str(store.state_path(job_id))])
    foreign = state.status == JobStatus.RUNNING and is_foreign(store.liveness(state))
    if foreign and not take_over:
        raise foreign_error(state, store.liveness(state), store.state_path(job_id))
    prepared = prepare_score(config, workspace=ws)
    if prepared.job_id != job_id:
        raise UsageError(
            f"{config} is the score of job {prepared.job_id}, not of {job_id}: modify "
            "continues a job with a new version of its own score",
            hint=f"keep `name` as the job's (it gives the job id {job_id}), or run the "
            f"other job with `mzt run {config}`",
        )
    total = prepared.plan.total_sheets
    if total != state.total_sheets:
        raise UsageError(
            f"{config} expands to {total} sheets, job {job_id} has {state.total_sheets}: "
            "continuing with another number of sheets would start the job over",
            hint=f"to start over on purpose: `mzt run {config} -w {ws} --fresh`",
        )
    if state.status == JobStatus.COMPLETED:
        raise UsageError(
            f"job {job_id} already completed; there is nothing left to continue",
            hint=f"`mzt run {config} -w {ws}` runs it again with the new score",
        )
    if state.status == JobStatus.PENDING:
        raise UsageError(
            f"job {job_id} never started", hint=f"start it with `mzt run {config} -w {ws}`"
        )
    return Modification(job_id, ws, config.resolve(), total, state.status.value, foreign)
