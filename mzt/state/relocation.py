"""A score's ``state_path``: the job's state kept in a folder of the user's choosing.

Everything that belongs to the job's state moves together — checkpoint, run lock, history,
attempt logs and outputs — so the lock always sits beside what it guards. The workspace
keeps a one-line pointer (``.marianne/<job>.state-dir``) naming that folder, and every
command finds the state from the workspace alone, as it always does; pause and cancel
files stay in the workspace.

A run moves the pointer only while it holds the lock of the place the state is now, and
never away from an existing checkpoint: a score whose ``state_path`` changed while the job
has state elsewhere is refused with the two places named, and nothing is touched.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from mzt.state.atomic import atomic_write
from mzt.state.lock import RunLock
from mzt.support import paths
from mzt.support.errors import MztError
from mzt.support.exitcodes import ExitCode
from mzt.support.fsutil import ensure_private_dir, entry_exists

# Marianne's file-style values (`.marianne-state.json`, `state.db`) name a file in the
# folder that is meant; mzt keeps one file per job there, named after the job.
_FILE_SUFFIXES = (".json", ".db")


class StateMoveError(MztError):
    """The score puts the job's state somewhere else than where its state already is."""

    exit_code = ExitCode.USAGE
    code = "STATE_MOVED"


def target_dir(workspace: Path, state_path: str | None) -> Path:
    """The folder ``state_path`` names (relative to the workspace), or ``.marianne/``."""
    default = paths.state_dir(workspace)
    if not state_path or not state_path.strip():
        return default
    path = Path(state_path.strip()).expanduser()
    if path.suffix in _FILE_SUFFIXES:
        path = path.parent
    if not path.is_absolute():
        path = workspace / path
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # a symlink loop: the run's folder check names it
        return path


def settle_state_dir(workspace: Path, job_id: str, target: Path) -> str | None:
    """Make ``target`` the job's state folder; returns a line for the run's output when
    the pointer changed, ``None`` when it already pointed there.

    Raises :class:`StateMoveError` when the job's checkpoint exists in another folder, and
    :class:`~mzt.support.errors.JobLockedError` when a run of the job holds its lock."""
    paths.forget_state_dirs()
    current = paths.job_state_dir(workspace, job_id)
    if current == target:
        return None
    pointer = paths.state_pointer(workspace, job_id)
    lock = paths.lock_file(workspace, job_id)
    # A run of the job at the current place holds its lock file; with none there, no run
    # can be live there, and no lock file is left behind in a place the state leaves.
    guard = RunLock(lock, job_id=job_id) if entry_exists(lock) else contextlib.nullcontext()
    with guard:
        here = current / f"{job_id}.json"
        if entry_exists(here):
            raise StateMoveError(
                f"The state of job '{job_id}' is in {current}, but the score now puts it in "
                f"{target} (state_path). mzt does not move a job's state by itself.",
                hint=(
                    f"Move the folder's `{job_id}.*`, `logs/{job_id}` and `outputs/{job_id}` "
                    f"there and delete {pointer}, or set state_path back to where it was."
                    if current != paths.state_dir(workspace)
                    else f"Move `.marianne/{job_id}.*` and its logs/outputs there, or remove "
                    "state_path from the score."
                ),
            )
        ensure_private_dir(paths.state_dir(workspace))
        if target == paths.state_dir(workspace):
            pointer.unlink(missing_ok=True)
        else:
            ensure_private_dir(target)
            atomic_write(pointer, f"{target}\n".encode())
    paths.forget_state_dirs()
    return f"state kept in {target} (state_path)"


def confirm_state_dir(workspace: Path, job_id: str, locked: Path) -> None:
    """Under the run lock at ``locked``: the job's state must still be there (a run of the
    score with another ``state_path`` may have moved the pointer between look and lock)."""
    paths.forget_state_dirs()
    if paths.lock_file(workspace, job_id) != locked:
        raise StateMoveError(
            f"The state of job '{job_id}' moved to {paths.job_state_dir(workspace, job_id)} "
            "while this run started (a run of the score with another state_path).",
            hint="Run the command again; use one state_path for the job.",
        )
