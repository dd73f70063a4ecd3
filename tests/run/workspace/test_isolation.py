"""Which folders isolation moves into the worktree, and that a run without it runs no git."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from mzt import api
from mzt.support import git
from tests.helpers import minimal, write_score


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "home"
    monkeypatch.setenv("MZT_HOME", str(folder))
    return folder


def _repo(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "a.txt").write_text("a\n")
    for args in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "one"]):
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
            cwd=folder,
            check=True,
        )
    return folder


def _run(tmp_path: Path, **overrides: Any) -> int:
    settings: dict[str, Any] = {
        "workspace": "./ws",
        "instrument": "cli",
        "pause_between_sheets_seconds": 0,
        "sheet": {"size": 1, "total_items": 2},
        "prompt": {"template": "pwd > {{ workspace }}/pwd-{{ sheet_num }}"},
        **overrides,
    }
    data = minimal(**settings)
    return api.run_score(write_score(tmp_path, data)).exit_code


@pytest.mark.skipif(not git.available(), reason="git is needed")
def test_a_folder_outside_the_repository_is_left_where_it_is(tmp_path: Path) -> None:
    _repo(tmp_path / "repo")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code = _run(
        tmp_path,
        backend={"working_directory": "./repo"},
        sheet={
            "size": 1,
            "total_items": 2,
            "per_sheet_instrument_config": {2: {"working_directory": str(elsewhere)}},
        },
        isolation={"enabled": True, "cleanup_on_success": False},
    )
    assert code == 0
    tree = (tmp_path / "ws" / ".worktrees" / "t").resolve()
    assert (tmp_path / "ws" / "pwd-1").read_text().strip() == str(tree)
    assert (tmp_path / "ws" / "pwd-2").read_text().strip() == str(elsewhere)


@pytest.mark.parametrize(
    "isolation", [{}, {"enabled": False}, {"enabled": True, "mode": "none"}], ids=str
)
def test_without_isolation_no_git_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolation: dict[str, Any]
) -> None:
    def refuse(*_: object, **__: object) -> str:
        raise AssertionError("git ran")

    monkeypatch.setattr(git, "run", refuse)
    monkeypatch.setattr(git, "available", refuse)
    assert _run(tmp_path, **({"isolation": isolation} if isolation else {})) == 0
    assert (tmp_path / "ws" / "pwd-2").read_text().strip() == str((tmp_path / "ws").resolve())
