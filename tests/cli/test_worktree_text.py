from __future__ import annotations

from typing import Any

from mzt.cli.worktree_text import worktree_fields, worktree_lines


def _doc(isolation: dict[str, Any] | None, **sheets: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "isolation": isolation,
        "sheets": {num: {"worktree": tree} for num, tree in sheets.items()},
    }


def test_fields_say_where_the_job_works() -> None:
    assert worktree_fields(_doc(None)) == []
    job = {"mode": "worktree", "worktree_path": "/w/j", "base_commit": "b" * 40, "locked": True}
    assert worktree_fields(_doc(job)) == [("worktree", f"/w/j (from {'b' * 12}), locked")]
    gone = {**job, "worktree_path": None}
    assert worktree_fields(_doc(gone)) == [("worktree", "removed when the job ended")]
    [(_, text)] = worktree_fields(_doc({"mode": "none", "fallback_used": True}))
    assert "ran in place" in text
    [(_, text)] = worktree_fields(_doc({"mode": "worktree_per_sheet", "base_commit": "c" * 40}))
    assert text == f"one per sheet, from {'c' * 12}"


def test_lines_name_each_sheet_s_checkout() -> None:
    assert worktree_lines(_doc(None, **{"1": None})) == []
    lines = worktree_lines(
        _doc(
            {"mode": "worktree_per_sheet"},
            **{"1": {"path": "/w/j/sheet-1", "base_commit": "e" * 40}, "2": None},
        )
    )
    assert lines == ["", "Worktrees:", f"  sheet 1  /w/j/sheet-1  (from {'e' * 12})"]
