"""Where an isolated job's changes are: the ``isolation`` part of the status document."""

from __future__ import annotations

from typing import Any


def isolation_json(head: dict[str, Any]) -> dict[str, Any] | None:
    """The job's worktree as its checkpoint records it; None for a job never isolated.

    ``mode`` is ``worktree`` (one for the job), ``worktree_per_sheet`` (each sheet's is
    under ``sheets.<n>.worktree``) or ``none`` (isolation was asked for and could not be
    had: the job ran in place).
    """
    mode = head.get("isolation_mode")
    if mode is None and not head.get("isolation_fallback_used"):
        return None
    return {
        "mode": mode,
        "worktree_path": head.get("worktree_path"),
        "branch": head.get("worktree_branch"),
        "base_commit": head.get("worktree_base_commit"),
        "locked": bool(head.get("worktree_locked")),
        "fallback_used": bool(head.get("isolation_fallback_used")),
    }
