"""Odd things where mzt expects a file or a folder: one paragraph and exit 5 or 2, never a crash.

A FIFO or a folder in place of a job's checkpoint or history, a regular file in place of
MZT_HOME's registry, a workspace on a read-only file system, under a regular file or in
/proc, and a backend working directory that does not exist.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Project


def _score(project: Project, **extra: Any) -> Path:
    return project.score(
        {
            "name": "job",
            "instrument": "cli",
            "sheet": {"size": 1, "total_items": 2},
            "prompt": {"template": "echo sheet {{ sheet_num }}"},
            **extra,
        }
    )


def _plant(path: Path, kind: str) -> None:
    """Replace whatever is at ``path`` with a ``kind`` ("fifo" or "dir")."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path.mkdir()


def _no_crash(done: subprocess.CompletedProcess[str], what: str) -> list[str]:
    problems = []
    if "Traceback" in done.stderr or "unexpected error" in done.stderr:
        problems.append(f"{what}: crashed: {done.stderr.strip()[-300:]}")
    return problems


@pytest.fixture
def completed(project: Project) -> Path:
    score = _score(project)
    done = project.mzt("run", score)
    assert done.returncode == 0, done.stderr
    return score


JOB_COMMANDS: list[tuple[str, ...]] = [
    ("status", "job", "-w", "ws"),
    ("status", "job", "-w", "ws", "--json"),
    ("errors", "job", "-w", "ws"),
    ("diagnose", "job", "-w", "ws"),
    ("logs", "job", "-w", "ws"),
    ("history", "job", "-w", "ws"),
    ("resume", "job", "-w", "ws"),
    ("resume", "job", "-w", "ws", "--json"),
    ("run", "score.yaml"),
    ("run", "score.yaml", "--json"),
    ("cancel", "job", "-w", "ws"),
    ("watch", "job", "-w", "ws"),
    ("clear", "--job", "job", "-y"),
]


@pytest.mark.parametrize("name", ["job.json", "job.history.jsonl"])
@pytest.mark.parametrize("kind", ["fifo", "dir"])
def test_a_checkpoint_file_that_is_not_a_file_is_exit_5_everywhere(
    project: Project, completed: Path, name: str, kind: str
) -> None:
    target = project.workspace / ".marianne" / name
    _plant(target, kind)
    problems: list[str] = []
    for args in JOB_COMMANDS:
        done = project.mzt(*args, timeout=30)
        what = " ".join(args)
        problems += _no_crash(done, what)
        if done.returncode != 5:
            problems.append(f"{what}: exit {done.returncode}: {done.stderr.strip()[:200]}")
        shown = done.stdout if "--json" in args else done.stderr
        if str(target) not in shown:
            problems.append(f"{what}: does not name {target}")
        if "--json" in args:
            assert json.loads(done.stdout)["schema"] == "mzt.error/1", what
    for args in (("list", "--all", "--json"), ("status", "--json")):
        done = project.mzt(*args, timeout=30)
        problems += _no_crash(done, " ".join(args))
        doc = json.loads(done.stdout)
        rows = [r for r in doc["jobs"] if r["job_id"] == "job"]
        if done.returncode != 0 or [r["status"] for r in rows] != ["corrupt"]:
            problems.append(f"{args}: exit {done.returncode}, rows {rows}")
        elif str(target) not in rows[0]["error"]:
            problems.append(f"{args}: the row does not name {target}")
    assert not problems, "\n".join(problems)
    # Nothing was replaced or removed.
    assert target.is_dir() if kind == "dir" else target.is_fifo()


def test_a_registry_that_is_a_file_is_exit_5_for_run_and_resume(project: Project) -> None:
    score = _score(project)
    registry = project.home / "registry"
    registry.write_text("not a folder\n")
    for args in (("run", score), ("run", score, "--json")):
        done = project.mzt(*args)
        assert done.returncode == 5, done.stderr
        assert not _no_crash(done, "run"), done.stderr
        text = done.stdout if "--json" in args else done.stderr
        assert str(registry) in text
        if "--json" in args:
            assert json.loads(done.stdout)["schema"] == "mzt.error/1"
    assert registry.read_text() == "not a folder\n"
    # The same for a job that has a checkpoint but no registry folder to record it in.
    registry.unlink()
    assert project.mzt("run", score).returncode == 0
    shutil.rmtree(registry)
    registry.write_text("x")
    done = project.mzt("resume", "job", "-w", project.workspace, "--force")
    assert done.returncode == 5, done.stderr
    assert str(registry) in done.stderr


def _unshare_works() -> bool:
    if not shutil.which("unshare"):
        return False
    probe = subprocess.run(["unshare", "-rm", "true"], capture_output=True, timeout=30, check=False)
    return probe.returncode == 0


def _read_only(project: Project, folder: Path, *args: object) -> subprocess.CompletedProcess[str]:
    """Run mzt with ``folder`` bind-mounted read-only, in a private mount namespace."""
    script = 'mount --bind "$1" "$1" && mount -o remount,ro,bind "$1" && shift && exec "$@"'
    return subprocess.run(
        [
            "unshare",
            "-rm",
            "sh",
            "-c",
            script,
            "sh",
            str(folder),
            sys.executable,
            "-m",
            "mzt",
            *map(str, args),
        ],
        cwd=project.root,
        env=project.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.skipif(not _unshare_works(), reason="needs unshare -rm for a read-only mount")
def test_a_read_only_workspace_is_exit_5_with_one_paragraph(project: Project) -> None:
    score = _score(project)
    project.workspace.mkdir()
    for args in (("run", score), ("run", score, "--json")):
        done = _read_only(project, project.workspace, *args)
        assert done.returncode == 5, done.stderr
        assert not _no_crash(done, "run"), done.stderr
        text = done.stdout if "--json" in args else done.stderr
        assert str(project.workspace) in text
        assert "read-only" in text.lower()
        if "--json" in args:
            assert json.loads(done.stdout)["schema"] == "mzt.error/1"
    assert not any(project.workspace.iterdir())
    # A job that ran, then lost write access to its workspace.
    assert project.mzt("run", score, "--fresh").returncode == 0
    for args in (("run", score, "--fresh"), ("resume", "job", "-w", "ws", "--force", "--json")):
        done = _read_only(project, project.workspace, *args)
        assert done.returncode == 5, done.stderr
        assert not _no_crash(done, "resume"), done.stderr
        if "--json" in args:
            assert json.loads(done.stdout)["schema"] == "mzt.error/1"


def test_a_workspace_below_a_regular_file_is_an_error_in_validate_and_run(
    project: Project,
) -> None:
    blocker = project.root / "afile"
    blocker.write_text("hello\n")
    for workspace in ("./afile/ws", "./afile"):
        score = _score(project, workspace=workspace)
        checked = project.mzt("validate", score, "--json")
        assert checked.returncode == 2, checked.stdout
        errors = json.loads(checked.stdout)["errors"]
        assert [e["code"] for e in errors] == ["V002"]
        assert str(blocker) in errors[0]["message"]
        for args in (("run", score), ("run", score, "--json")):
            done = project.mzt(*args)
            assert done.returncode == 2, done.stderr
            assert not _no_crash(done, "run"), done.stderr
            text = done.stdout if "--json" in args else done.stderr
            assert str(blocker) in text
            if "--json" in args:
                assert json.loads(done.stdout)["schema"] == "mzt.error/1"
    assert blocker.read_text() == "hello\n"


def test_a_workspace_in_proc_is_exit_5(project: Project) -> None:
    score = _score(project, workspace="/proc/self")
    for args in (("run", score), ("run", score, "--json")):
        done = project.mzt(*args)
        assert done.returncode in (2, 5), done.stderr
        assert not _no_crash(done, "run"), done.stderr
        text = done.stdout if "--json" in args else done.stderr
        assert "/proc/" in text
        if "--json" in args:
            assert json.loads(done.stdout)["schema"] == "mzt.error/1"


def test_a_missing_working_directory_is_v005_and_named_by_the_run(project: Project) -> None:
    score = _score(project, backend={"working_directory": "./nowhere"})
    missing = project.root / "nowhere"
    checked = project.mzt("validate", score, "--json")
    assert checked.returncode == 2, checked.stdout
    errors = json.loads(checked.stdout)["errors"]
    assert [(e["code"], e["path"]) for e in errors] == [("V005", "backend.working_directory")]
    assert str(missing) in errors[0]["message"]
    # The run is refused by the same check, before anything is written.
    for args in (("run", score), ("run", score, "--json")):
        refused = project.mzt(*args)
        assert refused.returncode == 2, refused.stderr
        text = refused.stdout if "--json" in args else refused.stderr
        assert "V005" in text and str(missing) in text
        assert "Executable not found" not in text
    assert not project.workspace.exists()
    missing.mkdir()
    assert project.mzt("run", score).returncode == 0
