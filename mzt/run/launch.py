"""Starting a run: a score file to a fresh or continued run, or a stopped job to its resumption.

`run_score` prepares a score and runs it; `resume_job` finds a job, checks that it can go
on and picks the score to continue with (the one given, the job's own file, or the copy
stored in its checkpoint). Both refuse a run that cannot possibly work before it writes
anything (`mzt.run.preflight`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from mzt.run.after.chain import wait_for_parent
from mzt.run.after.hooks import owes_hooks, resume_hooks
from mzt.run.opening import runs_again
from mzt.run.preflight import check_runnable
from mzt.run.reporting import NullReporter
from mzt.run.results import RunOptions, RunResult
from mzt.run.runner import Runner
from mzt.score.loader import load_score, validate_document
from mzt.score.preparation import (
    PreparedScore,
    check_loaded,
    prepare_score,
    prepared_or_raise,
    resolve_workspace,
)
from mzt.state import CheckpointState, JobStatus, JsonStateBackend
from mzt.support import paths
from mzt.support.errors import ScoreError, UsageError
from mzt.support.yamlsafe import Document

if TYPE_CHECKING:
    from mzt.run.reporting import Reporter


def run_score(
    path: Path,
    *,
    workspace: Path | None = None,
    options: RunOptions | None = None,
    reporter: Reporter | None = None,
) -> RunResult:
    """Run the score at ``path`` in this process until it completes, fails or stops."""
    from mzt.instruments import load_instruments

    prepared = prepare_score(path, workspace=workspace)
    instruments = load_instruments()
    start = options.start_sheet if options else None
    check_runnable(
        prepared,
        instruments,
        override=options.instrument if options else None,
        sheets=range(start, prepared.plan.total_sheets + 1) if start else None,
    )
    wait_for_parent(paths.lock_file(prepared.workspace, prepared.job_id), os.environ)
    return Runner(prepared, instruments=instruments, options=options, reporter=reporter).run()


def resume_job(
    job: str,
    *,
    workspace: Path | None = None,
    config: Path | None = None,
    reload: bool = True,
    force: bool = False,
    take_over: bool = False,
    no_queue: bool = False,
    executor: str | None = None,
    reporter: Reporter | None = None,
) -> RunResult:
    """Continue a paused, failed, cancelled or dead job (``force``: restart a completed one;
    ``take_over``: also one that another host marked running, see :mod:`mzt.state.takeover`).

    The score comes from ``config`` if given, else from the file the job was started
    with (unless ``reload`` is false or it is gone), else from the copy in the checkpoint.
    """
    from mzt.instruments import load_instruments
    from mzt.state.registry import not_found_error

    job_id, ws = locate_job(job, workspace)
    state = JsonStateBackend(ws).load(job_id)
    if state is None:
        raise not_found_error(job_id, [str(paths.state_file(ws, job_id))], ws, None)
    if not force and owes_hooks(state):
        prepared = _prepare_for_resume(state, ws, config, reload=reload)
        return resume_hooks(prepared, reporter=reporter or NullReporter())
    _check_resumable(state, force)
    prepared = _prepare_for_resume(state, ws, config, reload=reload)
    instruments = load_instruments()
    check_runnable(prepared, instruments, sheets=_sheets_to_run(state, prepared, force))
    options = RunOptions(
        resume=True, force=force, take_over=take_over, no_queue=no_queue, executor=executor
    )
    return Runner(prepared, instruments=instruments, options=options, reporter=reporter).run()


def _sheets_to_run(
    state: CheckpointState, prepared: PreparedScore, force: bool
) -> list[int] | None:
    """The sheets resuming runs again; None for all of them (a restart or a fresh start)."""
    total = prepared.plan.total_sheets
    if force or state.status == JobStatus.COMPLETED or state.total_sheets != total:
        return None
    return [n for n in range(1, total + 1) if n not in state.sheets or runs_again(state.sheets[n])]


def locate_job(job: str, workspace: Path | None) -> tuple[str, Path]:
    """The id and workspace of a job named by id (or score file), as `resume` finds it."""
    from mzt.state.registry import find_job

    job_id, ws = _locate(job, workspace)
    if ws is None:
        ws = find_job(job_id, workspace=workspace, cwd=Path.cwd()).workspace
    return job_id, ws


def score_for_job(state: CheckpointState, workspace: Path) -> PreparedScore:
    """The score the job last ran with: the copy stored in its checkpoint (its file when
    the checkpoint has none)."""
    return _prepare_for_resume(state, workspace, None, reload=state.config_snapshot is None)


def _locate(job: str, workspace: Path | None) -> tuple[str, Path | None]:
    """A job named by a score file gives its own id and workspace."""
    path = Path(job)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        loaded = load_score(path)
        return loaded.job_id, resolve_workspace(loaded, workspace)
    return job, workspace.resolve() if workspace else None


def _check_resumable(state: CheckpointState, force: bool) -> None:
    if state.status == JobStatus.COMPLETED and not force:
        raise UsageError(
            f"job {state.job_id} already completed",
            hint="pass --force to run it again from the start",
        )
    if state.status == JobStatus.PENDING:
        raise UsageError(f"job {state.job_id} never started", hint="start it with `mzt run`")


def _prepare_for_resume(
    state: CheckpointState, workspace: Path, config: Path | None, *, reload: bool
) -> PreparedScore:
    """The score to continue with: --config, else the job's file, else its stored copy."""
    if config is not None:
        return prepare_score(config, workspace=workspace)
    recorded = Path(state.config_path) if state.config_path else None
    if reload and recorded is not None and recorded.is_file():
        return prepare_score(recorded, workspace=workspace)
    if state.config_snapshot is None:
        raise UsageError(
            f"job {state.job_id} has no stored score to resume from",
            hint="pass the score with --config",
        )
    base = Path(state.config_path).parent if state.config_path else workspace.parent
    try:
        data = json.loads(json.dumps(state.config_snapshot))
        loaded = validate_document(Document(data, {}), source="<snapshot>", base_dir=base, lax=True)
    except ScoreError as exc:
        raise UsageError(
            f"the score stored in job {state.job_id}'s checkpoint is no longer valid: {exc}",
            hint="pass the score with --config",
        ) from None
    return prepared_or_raise(check_loaded(loaded, workspace=workspace))
