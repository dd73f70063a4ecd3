"""Real runs driven from this test process: the project they share, starting and stopping them.

Used by the tests of `mzt.requests`, `mzt.views.clearing` and `mzt.views.doctor`; a test module takes
the fixture with ``project = live_runs.project``.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from mzt.state import JsonStateBackend
from mzt.support import paths
from mzt.views.lookup import read_job
from tests.e2e.conftest import Project, wait_for


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    """A project whose MZT_HOME this (in-process) test shares with the runs it starts."""
    home = tmp_path / "home"
    home.mkdir()
    root = tmp_path / "proj"
    root.mkdir()
    monkeypatch.setenv("MZT_HOME", str(home))
    monkeypatch.chdir(root)
    return Project(root, home)


def score(
    project: Project, name: str = "job", n: int = 10, template: str = "", **extra: Any
) -> Path:
    """A score of ``n`` shell sheets; each writes out-<name>-<N>.txt after its template."""
    body = template or "sleep 0.2"
    return project.score(
        {
            "name": name,
            "instrument": "cli",
            "sheet": {"size": 1, "total_items": n},
            "prompt": {
                "template": f"{body}; echo ok > {{{{ workspace }}}}/out-{name}-{{{{ sheet_num }}}}.txt"
            },
            **extra,
        },
        name=f"{name}.yaml",
    )


def outputs(project: Project, name: str = "job") -> list[Path]:
    return sorted(project.workspace.glob(f"out-{name}-*.txt"))


def finish(project: Project, path: Path) -> subprocess.CompletedProcess[str]:
    return project.mzt("run", path, timeout=60)


def running(
    project: Project, path: Path, name: str = "job", *, first_sheet: bool = True
) -> subprocess.Popen[str]:
    """Start a run; return once its first sheet has finished (or, without ``first_sheet``,
    once its checkpoint says it runs)."""
    proc = project.start("run", path)
    state = paths.state_file(project.workspace, name)

    def ready() -> bool:
        if proc.poll() is not None:
            return True
        if first_sheet:
            return len(outputs(project, name)) >= 1
        return state.exists() and read_job(name, workspace=project.workspace).alive is True

    wait_for(ready)
    assert proc.poll() is None, proc.communicate()
    return proc


def exit_code(proc: subprocess.Popen[str], timeout: float) -> int:
    """Wait for the run to exit (reading its pipes to the end) and return its exit code."""
    proc.communicate(timeout=timeout)
    return proc.returncode


def stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.kill()
    if proc.stdout is not None and not proc.stdout.closed:
        proc.communicate(timeout=10)


def on_disk(project: Project, job: str = "job") -> dict[str, Any]:
    state = JsonStateBackend(project.workspace).load(job)
    assert state is not None
    return state.model_dump(mode="json")
