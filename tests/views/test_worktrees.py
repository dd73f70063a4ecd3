from __future__ import annotations

from mzt.views.worktrees import isolation_json


def test_a_job_never_isolated_has_none() -> None:
    assert isolation_json({"job_id": "j"}) is None
    assert isolation_json({"isolation_mode": None, "isolation_fallback_used": False}) is None


def test_the_recorded_worktree() -> None:
    head = {
        "isolation_mode": "worktree",
        "worktree_path": "/ws/.worktrees/j",
        "worktree_base_commit": "a" * 40,
        "worktree_locked": True,
    }
    assert isolation_json(head) == {
        "mode": "worktree",
        "worktree_path": "/ws/.worktrees/j",
        "branch": None,
        "base_commit": "a" * 40,
        "locked": True,
        "fallback_used": False,
    }


def test_a_fallback_says_so() -> None:
    document = isolation_json({"isolation_mode": "none", "isolation_fallback_used": True})
    assert document is not None and document["fallback_used"] and document["mode"] == "none"
