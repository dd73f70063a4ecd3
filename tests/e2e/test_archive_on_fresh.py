"""`mzt run --fresh` with `workspace_lifecycle.archive_on_fresh`, through the real command."""

from __future__ import annotations

import json
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.conftest import Project


def score(project: Project, **lifecycle: Any) -> Path:
    ws = "{{ workspace }}"
    return project.score(
        {
            "name": "job",
            "instrument": "cli",
            "sheet": {"size": 1, "total_items": 2},
            "prompt": {"template": f"echo new > {ws}/out-{{{{ sheet_num }}}}.txt"},
            "validations": [{"type": "file_exists", "path": "{workspace}/out-{sheet_num}.txt"}],
            "workspace_lifecycle": {"archive_on_fresh": True, **lifecycle},
        }
    )


def events(project: Project, kind: str) -> list[dict[str, Any]]:
    history = project.workspace / ".marianne" / "job.history.jsonl"
    lines = [json.loads(line) for line in history.read_text().splitlines()]
    return [line for line in lines if line.get("event") == kind]


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_fresh_archives_by_iteration_suffixes_collisions_and_prunes(project: Project) -> None:
    path = score(project, max_archives=2, preserve_patterns=[".iteration", "keep/**"])
    first = project.mzt("run", path)
    assert first.returncode == 0, first.stderr
    ws = project.workspace
    (ws / ".iteration").write_text("4\n")
    (ws / "keep").mkdir()
    (ws / "keep" / "notes.md").write_text("mine")
    (ws / "scratch").mkdir()
    (ws / "scratch" / "tmp.txt").write_text("old")

    second = project.mzt("run", "--fresh", path)
    assert second.returncode == 0, second.stderr
    assert "archived 3 entries of the workspace into archive/4/" in second.stdout
    assert names(ws / "archive" / "4") == ["out-1.txt", "out-2.txt", "scratch"]
    assert names(ws) == [".iteration", ".marianne", "archive", "keep", "out-1.txt", "out-2.txt"]
    assert (ws / "keep" / "notes.md").read_text() == "mine"
    assert stat.S_IMODE((ws / "archive").stat().st_mode) == 0o700
    [event] = events(project, "workspace_archived")
    assert (event["folder"], event["moved"]) == ("archive/4", 3)
    assert project.state("job")["status"] == "completed"

    third = project.mzt("run", "--fresh", path)
    assert "into archive/4-2/" in third.stdout, third.stdout
    assert names(ws / "archive") == ["4", "4-2"]

    fourth = project.mzt("run", "--fresh", path)
    assert fourth.returncode == 0, fourth.stderr
    assert "into archive/4-3/" in fourth.stdout
    assert "removed 1 old archive beyond max_archives 2: archive/4" in fourth.stdout
    assert names(ws / "archive") == ["4-2", "4-3"]
    assert events(project, "workspace_archived")[0]["pruned"] == ["archive/4"]


def test_timestamp_naming_and_a_run_without_fresh_archives_nothing(project: Project) -> None:
    path = score(project, archive_naming="timestamp")
    assert project.mzt("run", path).returncode == 0
    (project.workspace / ".iteration").write_text("9")
    changed = score(project, archive_naming="timestamp", max_archives=5)  # new score: fresh
    again = project.mzt("run", changed)
    assert "starting fresh" in again.stdout and "archived" not in again.stdout
    fresh = project.mzt("run", "--fresh", changed)
    [folder] = (project.workspace / "archive").iterdir()
    assert len(folder.name) == len("20260101-000000") and folder.name[8] == "-"
    assert f"into archive/{folder.name}/" in fresh.stdout


def test_an_entry_that_cannot_move_is_reported_and_the_run_goes_on(project: Project) -> None:
    path = score(project)
    assert project.mzt("run", path).returncode == 0
    stuck = project.workspace / "stuck.txt"
    stuck.write_text("old")
    made = subprocess.run(["chattr", "+i", str(stuck)], capture_output=True, check=False)
    if made.returncode != 0:
        pytest.skip("chattr +i is not available here")
    try:
        result = project.mzt("run", "--fresh", path)
    finally:
        subprocess.run(["chattr", "-i", str(stuck)], check=True)
    assert result.returncode == 0, result.stderr
    assert "archived 2 entries" in result.stdout
    assert (
        "could not archive stuck.txt (Operation not permitted); it stays in the workspace"
        in result.stdout
    )
    assert stuck.exists()
    [event] = events(project, "workspace_archived")
    assert event["skipped"] == [{"path": "stuck.txt", "error": "Operation not permitted"}]
    assert project.state("job")["status"] == "completed"


def test_a_linked_archive_dir_is_refused_and_nothing_outside_changes(project: Project) -> None:
    path = score(project)
    assert project.mzt("run", path).returncode == 0
    outside = project.root / "outside"
    outside.mkdir()
    (project.workspace / "archive").symlink_to(outside)
    result = project.mzt("run", "--fresh", path)
    assert result.returncode == 0, result.stderr
    assert (
        f"not archiving the workspace: archive is a symbolic link (to {outside}); "
        "archives stay inside the workspace" in result.stdout
    )
    assert list(outside.iterdir()) == []
    assert events(project, "workspace_not_archived")[0]["reason"].startswith("archive is a")


def test_without_archiving_fresh_says_which_outputs_are_already_there(project: Project) -> None:
    path = project.score(
        {
            "name": "job",
            "instrument": "cli",
            "sheet": {"size": 1, "total_items": 2},
            "prompt": {"template": "echo {{ sheet_num }} > {{ workspace }}/out-{{ sheet_num }}"},
            "validations": [{"type": "file_exists", "path": "{workspace}/out-{sheet_num}"}],
        }
    )
    assert project.mzt("run", path).returncode == 0
    result = project.mzt("run", "--fresh", path)
    assert result.returncode == 0, result.stderr
    assert (
        "--fresh keeps the workspace's files: 2 files that validations check are already "
        "there (out-1, out-2)" in result.stdout
    )
    assert (project.workspace / "out-1").exists()


def test_a_state_path_inside_the_workspace_is_never_archived(project: Project) -> None:
    path = score(project)
    data = yaml.safe_load(path.read_text())
    data["state_path"] = "jobstate"
    path = project.score(data)
    assert project.mzt("run", path).returncode == 0
    held = project.workspace / "jobstate"
    assert (held / "job.lock").exists()
    result = project.mzt("run", "--fresh", path)
    assert result.returncode == 0, result.stderr
    assert "archived 2 entries of the workspace into archive/" in result.stdout
    assert (held / "job.lock").exists() and (held / "job.json").exists()
    [moved] = (project.workspace / "archive").iterdir()
    assert names(moved) == ["out-1.txt", "out-2.txt"]
