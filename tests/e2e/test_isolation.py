"""End to end: `isolation` runs the agents in git worktrees, never in the user's checkout."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Project, wait_for

pytestmark = pytest.mark.skipif(
    subprocess.run(["git", "--version"], capture_output=True, check=False).returncode != 0,
    reason="git is needed",
)


def git(folder: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def make_repo(folder: Path) -> Path:
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "file.txt").write_text("orig\n")
    git(folder, "init", "-q")
    git(folder, "add", ".")
    git(folder, "commit", "-q", "-m", "start")
    return folder


def worktrees(repo: Path) -> list[dict[str, str]]:
    """`git worktree list --porcelain`, one dict per worktree (`locked` present when locked)."""
    found: list[dict[str, str]] = []
    for block in git(repo, "worktree", "list", "--porcelain").strip().split("\n\n"):
        entry = {}
        for line in block.splitlines():
            key, _, value = line.partition(" ")
            entry[key] = value
        found.append(entry)
    return found


def score(project: Project, template: str, **extra: Any) -> Path:
    isolation = {"enabled": True, **extra.pop("isolation", {})}
    return project.score(
        {
            "name": "job",
            "instrument": "cli",
            "backend": {"working_directory": "./repo/sub"},
            "sheet": {"size": 1, "total_items": extra.pop("sheets", 1)},
            "retry": {"max_retries": 1, "base_delay_seconds": 0.05, "jitter": False},
            "isolation": isolation,
            "prompt": {"template": template},
            **extra,
        }
    )


def status(project: Project, *args: str) -> dict[str, Any]:
    result = project.mzt("status", "job", "-w", project.workspace, "--json", *args)
    assert result.returncode == 0, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def test_the_job_edits_only_its_locked_worktree_which_goes_on_success(project: Project) -> None:
    repo = make_repo(project.root / "repo")
    template = (
        "echo changed > file.txt; pwd > {{ workspace }}/where; "
        "git worktree list --porcelain > {{ workspace }}/during"
    )
    result = project.mzt("run", score(project, template))
    assert result.returncode == 0, result.stderr
    tree = (project.workspace / ".worktrees" / "job").resolve()
    # The instrument's folder, moved to the same place inside the worktree.
    assert (project.workspace / "where").read_text().strip() == str(tree / "sub")
    assert (repo / "sub" / "file.txt").read_text() == "orig\n"
    assert git(repo, "status", "--porcelain") == ""
    during = (project.workspace / "during").read_text()
    assert f"worktree {tree}\n" in during and "locked mzt run job pid " in during
    assert "new worktree" in result.stdout + result.stderr
    # Removed on success (cleanup_on_success defaults to true), and pruned from git.
    assert not tree.exists()
    assert [w["worktree"] for w in worktrees(repo)] == [str(repo.resolve())]
    state = project.state("job")
    assert state["isolation_mode"] == "worktree" and state["worktree_path"] is None
    assert state["worktree_locked"] is False and state["isolation_fallback_used"] is False


def test_failure_keeps_the_unlocked_worktree_and_resume_reuses_it(project: Project) -> None:
    repo = make_repo(project.root / "repo")
    template = (
        "cat file.txt >> {{ workspace }}/seen; echo changed >> file.txt; test -f {{ workspace }}/go"
    )
    path = score(project, template, retry={"max_retries": 0})
    assert project.mzt("run", path).returncode == 1
    tree = (project.workspace / ".worktrees" / "job").resolve()
    assert (tree / "sub" / "file.txt").read_text() == "orig\nchanged\n"
    assert (repo / "sub" / "file.txt").read_text() == "orig\n"
    [kept] = [w for w in worktrees(repo) if w["worktree"] == str(tree)]
    assert "locked" not in kept and "detached" in kept
    isolation = status(project)["isolation"]
    assert isolation["worktree_path"] == str(tree) and isolation["locked"] is False
    assert isolation["base_commit"] == git(repo, "rev-parse", "HEAD").strip()
    text = project.mzt("status", "job", "-w", project.workspace).stdout
    assert f"worktree   {tree}" in text

    (project.workspace / "go").touch()
    result = project.mzt("resume", "job", "-w", project.workspace)
    assert result.returncode == 0, result.stderr
    assert "continuing in the worktree" in result.stdout + result.stderr
    # The second attempt saw the first one's change: the same checkout, not a new one.
    assert (project.workspace / "seen").read_text() == "orig\norig\nchanged\n"
    assert not tree.exists()


def test_a_paused_job_keeps_its_worktree(project: Project) -> None:
    repo = make_repo(project.root / "repo")
    template = "echo {{ sheet_num }} >> file.txt; touch {{ workspace }}/.marianne-pause-job"
    path = score(project, template, sheets=2)
    assert project.mzt("run", path).returncode == 3
    tree = (project.workspace / ".worktrees" / "job").resolve()
    assert (tree / "sub" / "file.txt").read_text() == "orig\n1\n"
    [kept] = [w for w in worktrees(repo) if w["worktree"] == str(tree)]
    assert "locked" not in kept
    assert project.state("job")["worktree_path"] == str(tree)

    project.score(_without_pause(path))
    result = project.mzt("resume", "job", "-w", project.workspace)
    assert result.returncode == 0, result.stderr
    assert not tree.exists()


def _without_pause(path: Path) -> dict[str, Any]:
    import yaml

    data: dict[str, Any] = yaml.safe_load(path.read_text())
    data["prompt"]["template"] = "echo {{ sheet_num }} >> file.txt"
    return data


def test_not_a_repository_with_fallback_runs_in_place_with_a_note(project: Project) -> None:
    (project.root / "repo" / "sub").mkdir(parents=True)
    result = project.mzt("run", score(project, "pwd > {{ workspace }}/where"))
    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    assert "not inside a git repository" in output and "running without a worktree" in output
    where = (project.workspace / "where").read_text().strip()
    assert where == str((project.root / "repo" / "sub").resolve())
    state = project.state("job")
    assert state["isolation_fallback_used"] is True and state["isolation_mode"] == "none"
    assert status(project)["isolation"]["fallback_used"] is True


def test_not_a_repository_without_fallback_stops_with_exit_2(project: Project) -> None:
    folder = project.root / "repo"
    (folder / "sub").mkdir(parents=True)
    path = score(project, "pwd > {{ workspace }}/where", isolation={"fallback_on_error": False})
    result = project.mzt("run", path)
    assert result.returncode == 2
    assert "must run in a git worktree" in result.stderr
    assert "not inside a git repository" in result.stderr and "fallback_on_error" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (project.workspace / "where").exists()
    assert status(project)["status"] == "paused"

    # Nothing was lost: once the folder is a repository the same command runs the job.
    (folder / "sub" / "file.txt").write_text("orig\n")
    git(folder, "init", "-q")
    git(folder, "add", ".")
    git(folder, "commit", "-q", "-m", "start")
    again = project.mzt("run", path)
    assert again.returncode == 0, again.stderr
    tree = (project.workspace / ".worktrees" / "job").resolve()
    assert (project.workspace / "where").read_text().strip() == str(tree / "sub")


def test_an_unknown_source_branch_is_git_s_message_in_the_error(project: Project) -> None:
    make_repo(project.root / "repo")
    path = score(
        project, "true", isolation={"fallback_on_error": False, "source_branch": "no-such-branch"}
    )
    result = project.mzt("run", path)
    assert result.returncode == 2
    assert "'no-such-branch' names no commit" in result.stderr


def test_per_sheet_worktrees_for_parallel_sheets(project: Project) -> None:
    repo = make_repo(project.root / "repo")
    # Each sheet reads its own worktree's lock, not `git worktree list`: that reads every
    # worktree's admin folder and fails (git's own race) on one that mzt is adding for a
    # sheet launched beside it.
    template = (
        "pwd > {{ workspace }}/pwd-{{ sheet_num }}; echo s{{ sheet_num }} > file.txt; "
        'echo "locked $(cat "$(git rev-parse --git-dir)/locked")"'
        " > {{ workspace }}/during-{{ sheet_num }}"
    )
    path = score(
        project,
        template,
        sheets=2,
        isolation={"per_sheet": True, "cleanup_on_success": False},
        sheet={"size": 1, "total_items": 2, "fan_out": {2: 3}},
        parallel={"enabled": True, "max_concurrent": 3},
    )
    result = project.mzt("run", path)
    assert result.returncode == 0, result.stderr
    base = (project.workspace / ".worktrees" / "job").resolve()
    head = git(repo, "rev-parse", "HEAD").strip()
    document = status(project)
    assert document["isolation"]["mode"] == "worktree_per_sheet"
    text = project.mzt("status", "job", "-w", project.workspace).stdout
    assert "Worktrees:" in text
    for num in range(1, 5):
        tree = base / f"sheet-{num}"
        assert (project.workspace / f"pwd-{num}").read_text().strip() == str(tree / "sub")
        assert (tree / "sub" / "file.txt").read_text() == f"s{num}\n"
        assert "locked mzt run job pid " in (project.workspace / f"during-{num}").read_text()
        assert document["sheets"][str(num)]["worktree"] == {"path": str(tree), "base_commit": head}
        assert f"sheet {num}  {tree}  (from {head[:12]})" in text
    assert (repo / "sub" / "file.txt").read_text() == "orig\n"
    assert not any("locked" in w for w in worktrees(repo))


def test_per_sheet_cleanup_follows_each_sheet_s_outcome(project: Project) -> None:
    repo = make_repo(project.root / "repo")
    template = "echo s{{ sheet_num }} > file.txt; test {{ sheet_num }} = 1"
    path = score(
        project,
        template,
        sheets=2,
        retry={"max_retries": 0},
        isolation={"per_sheet": True},
    )
    assert project.mzt("run", path).returncode == 1
    base = (project.workspace / ".worktrees" / "job").resolve()
    # Sheet 1 completed: its worktree went (cleanup_on_success); sheet 2 failed: kept.
    assert not (base / "sheet-1").exists()
    assert (base / "sheet-2" / "sub" / "file.txt").read_text() == "s2\n"
    sheets = status(project)["sheets"]
    assert sheets["1"]["worktree"] is None
    assert sheets["2"]["worktree"]["path"] == str(base / "sheet-2")
    assert [w["worktree"] for w in worktrees(repo)] == [
        str(repo.resolve()),
        str(base / "sheet-2"),
    ]


def test_an_interrupted_run_keeps_its_worktree_unlocked(project: Project) -> None:
    repo = make_repo(project.root / "repo")
    template = "echo {{ sheet_num }} >> file.txt; touch {{ workspace }}/started; sleep 60"
    proc = project.start("run", score(project, template))
    try:
        wait_for(lambda: (project.workspace / "started").exists(), timeout=60)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 143
    finally:
        proc.kill()
        proc.communicate()
    tree = (project.workspace / ".worktrees" / "job").resolve()
    assert (tree / "sub" / "file.txt").read_text() == "orig\n1\n"
    [kept] = [w for w in worktrees(repo) if w["worktree"] == str(tree)]
    assert "locked" not in kept
    assert project.state("job")["worktree_locked"] is False


@pytest.mark.parametrize("fallback", [True, False])
def test_a_sheet_whose_worktree_cannot_be_made(project: Project, fallback: bool) -> None:
    make_repo(project.root / "repo")
    blocker = project.workspace / ".worktrees" / "job" / "sheet-2"
    blocker.parent.mkdir(parents=True)
    blocker.write_text("in the way\n")
    path = score(
        project,
        "pwd > {{ workspace }}/pwd-{{ sheet_num }}",
        sheets=2,
        isolation={"per_sheet": True, "fallback_on_error": fallback},
    )
    result = project.mzt("run", path)
    assert "already exists and is not a worktree" in result.stdout + result.stderr
    sheets = project.sheets("job")
    if fallback:
        assert result.returncode == 0, result.stderr
        where = (project.workspace / "pwd-2").read_text().strip()
        assert where == str((project.root / "repo" / "sub").resolve())
        assert project.state("job")["isolation_fallback_used"] is True
    else:
        assert result.returncode == 1
        assert sheets[2]["status"] == "failed" and sheets[2]["error_code"] == "E603"
        assert not (project.workspace / "pwd-2").exists()
    assert sheets[1]["status"] == "completed"
    assert blocker.read_text() == "in the way\n"
