"""The checks of `mzt validate` for `isolation`: can the job have its git worktree?

Only the file system is looked at (a ``.git`` entry in the folder or above it, ``git`` on
PATH): the folder may still become a repository before the run, so these are warnings
that say what the run will do, whatever ``fallback_on_error`` says.
"""

from __future__ import annotations

import os
from pathlib import Path

from mzt.score.findings import Findings
from mzt.score.plan import Plan


def check_isolation(found: Findings, plan: Plan, workspace: Path) -> None:
    cfg = found.loaded.score.isolation
    if not cfg.enabled or cfg.mode != "worktree":
        return
    score = found.loaded.score
    if score.parallel.enabled and score.parallel.max_concurrent > 1 and not cfg.per_sheet:
        found.add(
            "V230",
            "parallel sheets share the job's one worktree, so agents running at the same "
            "time edit the same checkout",
            ("isolation", "enabled"),
            hint="set isolation.per_sheet: true to give every sheet its own worktree",
        )
    then = (
        "the run stops (exit 2)"
        if not cfg.fallback_on_error
        else "the job runs in place, without a worktree"
    )
    import shutil  # here: only a score with isolation asks for git

    if shutil.which("git") is None:
        found.add("V231", f"git is not installed, so {then}", ("isolation", "enabled"))
        return
    folder = _repository_folder(found, plan, workspace)
    if folder is not None and not _in_repository(folder):
        found.add(
            "V231",
            f"{folder} is not inside a git repository, so {then}",
            ("isolation", "enabled"),
            hint="run `git init` and commit there, or point backend.working_directory "
            "at a repository",
        )


def _repository_folder(found: Findings, plan: Plan, workspace: Path) -> Path | None:
    """The folder the run makes its worktree of (None: one only the run can tell)."""
    if not plan.total_sheets:
        return None
    configured = plan.sheet(1).instrument.config.get("working_directory")
    if not isinstance(configured, str) or not configured:
        return workspace
    if "{" in configured:
        return None  # filled in at run time
    folder = Path(configured).expanduser()
    return folder if folder.is_absolute() else found.loaded.base_dir / folder


def _in_repository(folder: Path) -> bool:
    return any(os.path.lexists(probe / ".git") for probe in (folder, *folder.parents))
