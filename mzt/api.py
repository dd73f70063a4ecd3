"""The library facade: what the command line (or any program) calls. Nothing here prints.

Functions take keyword arguments and return typed results; problems the user can act
on are raised as `MztError` subclasses with a hint and an exit code.
"""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path

from mzt.errors import JobNotFoundError, ScoreError, UsageError
from mzt.loader import load_score, validate_document
from mzt.preparation import (
    PreparedScore,
    Preview,
    Validation,
    check_loaded,
    prepare_score,
    prepared_or_raise,
    preview_prompt,
    resolve_workspace,
    validate_score,
)
from mzt.reporting import Reporter
from mzt.runner import Runner, RunOptions, RunResult
from mzt.state import CheckpointState, JobStatus, JsonStateBackend
from mzt.yamlsafe import Document

__all__ = [
    "PreparedScore",
    "Preview",
    "RunOptions",
    "RunResult",
    "Validation",
    "clear_rate_limits",
    "init_score",
    "prepare_score",
    "preview_prompt",
    "resolve_workspace",
    "resume_job",
    "run_score",
    "validate_score",
]

_INIT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


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
    return Runner(
        prepared, instruments=load_instruments(), options=options, reporter=reporter
    ).run()


def resume_job(
    job: str,
    *,
    workspace: Path | None = None,
    config: Path | None = None,
    reload: bool = True,
    force: bool = False,
    reporter: Reporter | None = None,
) -> RunResult:
    """Continue a paused, failed, cancelled or dead job (``force``: restart a completed one).

    The score comes from ``config`` if given, else from the file the job was started
    with (unless ``reload`` is false or it is gone), else from the copy in the checkpoint.
    """
    from mzt.instruments import load_instruments
    from mzt.registry import find_job

    job_id, ws = _locate(job, workspace)
    if ws is None:
        ws = find_job(job_id, workspace=workspace, cwd=Path.cwd()).workspace
    state = JsonStateBackend(ws).load(job_id)
    if state is None:
        raise JobNotFoundError(job_id, [str(ws)])
    _check_resumable(state, force)
    prepared = _prepare_for_resume(state, ws, config, reload=reload)
    options = RunOptions(resume=True, force=force)
    return Runner(
        prepared, instruments=load_instruments(), options=options, reporter=reporter
    ).run()


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


def clear_rate_limits(instrument: str | None = None) -> list[str]:
    """Delete shared rate-limit records (all, or one instrument's); returns what was cleared."""
    from mzt import ratelimits

    return ratelimits.clear(instrument)


def init_score(name: str, *, folder: Path, force: bool = False) -> Path:
    """Write a starter score ``<folder>/<name>.yaml`` and return its path."""
    if not _INIT_NAME.match(name):
        raise UsageError(
            f"{name!r} is not a usable score name",
            hint="use letters, digits, '-' and '_' (at most 64, starting with a letter or digit)",
        )
    if not folder.is_dir():
        raise UsageError(f"the folder {folder} does not exist")
    target = folder / f"{name}.yaml"
    if target.exists() and not force:
        raise UsageError(f"{target} already exists", hint="pass --force to overwrite it")
    text = resources.files("mzt").joinpath("data/starter.yaml").read_text(encoding="utf-8")
    target.write_text(text.format(name=name, filename=target.name), encoding="utf-8")
    return target
