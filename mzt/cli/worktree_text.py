"""`mzt status`'s text about an isolated job: where its (or each sheet's) worktree is."""

from __future__ import annotations

# Not `typing`: `mzt status` with no job prints before importing it (see status_text).
TYPE_CHECKING = False

if TYPE_CHECKING:
    from typing import Any


def worktree_fields(doc: dict[str, Any]) -> list[tuple[str, str]]:
    """The ``worktree`` line of the job's fields (none for a job never isolated)."""
    iso = doc.get("isolation")
    if not iso:
        return []
    base = (iso.get("base_commit") or "")[:12]
    if iso["mode"] == "worktree_per_sheet":
        text = f"one per sheet, from {base}" if base else "one per sheet"
    elif iso["mode"] == "worktree" and iso.get("worktree_path"):
        text = iso["worktree_path"] + (f" (from {base})" if base else "")
        text += ", locked" if iso.get("locked") else ""
    elif iso["mode"] == "worktree":
        text = "removed when the job ended"
    else:
        text = "none: isolation could not be set up, the job ran in place"
    return [("worktree", text)]


def worktree_lines(doc: dict[str, Any]) -> list[str]:
    """A ``Worktrees:`` section naming each sheet's checkout (per-sheet isolation only)."""
    rows = [
        (num, sheet["worktree"])
        for num, sheet in doc.get("sheets", {}).items()
        if sheet.get("worktree")
    ]
    if not rows:
        return []
    lines = ["", "Worktrees:"]
    for num, tree in rows:
        base = (tree.get("base_commit") or "")[:12]
        lines.append(f"  sheet {num}  {tree['path']}" + (f"  (from {base})" if base else ""))
    return lines
