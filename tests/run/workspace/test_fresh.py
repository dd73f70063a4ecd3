from __future__ import annotations

import fcntl
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mzt.run.workspace.fresh import fresh_start
from mzt.score.preparation import prepare_score
from tests.helpers import minimal, write_score

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def prepared(folder: Path, **overrides: Any) -> Any:
    data = minimal(workspace="./ws", instrument="cli", **overrides)
    return prepare_score(write_score(folder, data))


def archiving(**lifecycle: Any) -> dict[str, Any]:
    return {"workspace_lifecycle": {"archive_on_fresh": True, **lifecycle}}


def test_without_archiving_a_note_names_files_validations_would_accept(tmp_path: Path) -> None:
    rules = [
        {"type": "file_exists", "path": "{workspace}/out-{sheet_num}.md"},
        {"type": "content_contains", "path": "report.md", "pattern": "done"},
        {"type": "file_modified", "path": "{workspace}/touched"},  # stale files fail it
        {"type": "file_exists", "path": "{workspace}/late", "condition": "sheet_num >= 9"},
    ]
    score = prepared(tmp_path, validations=rules)
    ws = tmp_path / "ws"
    ws.mkdir()
    assert fresh_start(score).notes == ()
    for name in ("out-1.md", "out-3.md", "report.md", "touched", "late"):
        (ws / name).write_text("done")
    start = fresh_start(score)
    [note] = start.notes
    assert note.startswith(
        "--fresh keeps the workspace's files: 3 files that validations check are already "
        "there (out-1.md, out-3.md, report.md)"
    )
    assert "workspace_lifecycle.archive_on_fresh" in note
    assert start.event == "stale_outputs" and start.fields["count"] == 3
    assert sorted(p.name for p in ws.iterdir()) == [  # nothing moved
        "late",
        "out-1.md",
        "out-3.md",
        "report.md",
        "touched",
    ]


def test_archiving_keeps_mzt_folder_score_and_template_in_the_workspace(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    (ws / ".marianne").mkdir(parents=True)
    (ws / ".marianne" / "t.lock").write_text("")
    (ws / "prompt.j2").write_text("sheet {{ sheet_num }}")
    (ws / "old.txt").write_text("old")
    data = minimal(workspace=".", instrument="cli", **archiving())
    data["prompt"] = {"template_file": "prompt.j2"}
    score = prepare_score(write_score(ws, data))
    start = fresh_start(score, now=NOW)
    assert start.notes == ("archived 1 entry of the workspace into archive/20260102-030405/",)
    assert start.event == "workspace_archived"
    assert start.fields == {"folder": "archive/20260102-030405", "moved": 1}
    assert sorted(p.name for p in ws.iterdir()) == [
        ".marianne",
        "archive",
        "prompt.j2",
        "score.yaml",
    ]


def test_no_archive_while_another_job_runs_in_the_workspace(tmp_path: Path) -> None:
    score = prepared(tmp_path, **archiving())
    ws = tmp_path / "ws"
    (ws / ".marianne").mkdir(parents=True)
    (ws / "old.txt").write_text("old")
    fd = os.open(ws / ".marianne" / "other.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        start = fresh_start(score)
    finally:
        os.close(fd)
    assert start.notes == (
        "not archiving the workspace: the job 'other' is running in this workspace",
    )
    assert start.event == "workspace_not_archived"
    assert (ws / "old.txt").exists()
    assert fresh_start(score).event == "workspace_archived"  # the lock was let go


def test_skips_and_prunes_are_said_line_by_line(tmp_path: Path) -> None:
    score = prepared(tmp_path, **archiving(max_archives=1, archive_naming="timestamp"))
    ws = tmp_path / "ws"
    (ws / "archive" / "0").mkdir(parents=True)
    (ws / "new.txt").write_text("x")
    start = fresh_start(score, now=NOW)
    assert start.notes == (
        "archived 1 entry of the workspace into archive/20260102-030405/",
        "removed 1 old archive beyond max_archives 1: archive/0",
    )
    assert start.fields["pruned"] == ["archive/0"]


def test_the_jobs_worktree_stays_even_without_a_pattern_for_it(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    (ws / ".worktrees" / "t").mkdir(parents=True)
    (ws / ".worktrees" / "t" / "edited.py").write_text("agent's work")
    (ws / ".worktrees" / "stale").mkdir()
    data = minimal(
        workspace=".",
        instrument="cli",
        isolation={"enabled": True},
        **archiving(preserve_patterns=[], archive_naming="timestamp"),
    )
    score = prepare_score(write_score(ws, data))
    start = fresh_start(score, now=NOW)
    assert start.fields["moved"] == 1
    assert sorted(p.name for p in (ws / ".worktrees").iterdir()) == ["t"]
    assert (ws / "archive" / "20260102-030405" / ".worktrees" / "stale").is_dir()
