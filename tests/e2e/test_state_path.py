"""End to end: a score's `state_path` keeps the job's state in another folder.

Checkpoint, lock, history, logs and outputs all live there; the workspace keeps a pointer,
so every command finds the job as usual; a changed `state_path` never strands or
overwrites the state it moved away from.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

from tests.e2e.conftest import Project

JOB = "relocated"


def _score(project: Project, state_path: str | None, template: str = "echo hi") -> Path:
    data: dict[str, Any] = {
        "name": JOB,
        "instrument": "cli",
        "sheet": {"size": 1, "total_items": 2},
        "prompt": {"template": template},
    }
    if state_path is not None:
        data["state_path"] = state_path
    return project.score(data)


def test_the_whole_state_lives_in_the_named_folder_and_every_command_finds_it(
    project: Project,
) -> None:
    score = _score(project, "../state")
    first = project.mzt("run", score)
    assert first.returncode == 0, first.stderr
    folder = project.root / "state"
    assert "state kept in" in first.stdout + first.stderr
    for name in (f"{JOB}.json", f"{JOB}.history.jsonl", f"{JOB}.lock"):
        assert (folder / name).is_file(), name
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert (folder / "logs" / JOB / "sheet-1.attempt-1.stdout").read_text() == "hi\n"
    local = project.workspace / ".marianne"
    assert sorted(p.name for p in local.iterdir()) == [f"{JOB}.state-dir"]
    assert (local / f"{JOB}.state-dir").read_text().strip() == str(folder.resolve())

    for args in (["status", JOB, "-j"], ["status", JOB, "-j", "-w", project.workspace]):
        shown = project.mzt(*args)
        assert shown.returncode == 0, shown.stderr
        assert json.loads(shown.stdout)["status"] == "completed"
    listed = json.loads(project.mzt("list", "--all", "-j").stdout)
    assert [j["job_id"] for j in listed["jobs"]] == [JOB]
    assert "hi" in project.mzt("logs", JOB, "--sheet", "1").stdout
    assert project.mzt("history", JOB, "-j").returncode == 0
    again = project.mzt("run", score)
    assert again.returncode == 0 and "state kept in" not in again.stdout + again.stderr

    cleared = project.mzt("clear", "--job", JOB, "-y")
    assert cleared.returncode == 0, cleared.stderr
    assert not (folder / f"{JOB}.json").exists() and not (folder / "logs" / JOB).exists()
    assert not (local / f"{JOB}.state-dir").exists()


def test_a_changed_state_path_is_refused_while_the_state_is_elsewhere(project: Project) -> None:
    assert project.mzt("run", _score(project, None, template="false")).returncode == 1
    checkpoint = project.workspace / ".marianne" / f"{JOB}.json"
    before = checkpoint.read_bytes()
    moved = project.mzt("run", _score(project, "../state", template="false"))
    assert moved.returncode == 2
    assert str(project.workspace / ".marianne") in moved.stderr
    assert "state_path" in moved.stderr and "Traceback" not in moved.stderr
    assert checkpoint.read_bytes() == before
    assert not (project.workspace / ".marianne" / f"{JOB}.state-dir").exists()
    # Back to where the state is: the job continues there.
    assert project.mzt("run", _score(project, None)).returncode == 0


def test_state_moved_by_hand_is_adopted_and_removing_state_path_is_refused(
    project: Project,
) -> None:
    assert project.mzt("run", _score(project, "../a")).returncode == 0
    # The state folder is moved wholesale by the user, the score follows it.
    (project.root / "a").rename(project.root / "b")
    resumed = project.mzt("run", _score(project, "../b", template="echo changed"))
    assert resumed.returncode == 0, resumed.stderr
    assert (project.root / "b" / f"{JOB}.json").is_file()
    dropped = project.mzt("run", _score(project, None))
    assert dropped.returncode == 2 and str(project.root / "b") in dropped.stderr


def test_a_file_style_state_path_names_its_folder(project: Project) -> None:
    result = project.mzt("run", _score(project, ".marianne-state.json"))
    assert result.returncode == 0, result.stderr
    assert (project.workspace / f"{JOB}.json").is_file()
    assert json.loads(project.mzt("status", JOB, "-j").stdout)["status"] == "completed"
