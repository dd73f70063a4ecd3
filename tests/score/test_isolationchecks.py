from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mzt.api import validate_score
from tests.helpers import minimal, write_score


def warnings(tmp_path: Path, **overrides: Any) -> dict[str, list[Any]]:
    result = validate_score(write_score(tmp_path, minimal(**overrides)))
    assert result.errors == []  # never an error: the folder may become a repository
    found: dict[str, list[Any]] = {}
    for issue in result.warnings:
        found.setdefault(issue.code, []).append(issue)
    return found


def test_no_repository_warns_what_the_run_will_do(tmp_path: Path) -> None:
    [issue] = warnings(tmp_path, isolation={"enabled": True})["V231"]
    assert "not inside a git repository" in issue.message and "runs in place" in issue.message
    [stops] = warnings(tmp_path, isolation={"enabled": True, "fallback_on_error": False})["V231"]
    assert "the run stops (exit 2)" in stops.message
    assert stops.path == "isolation.enabled" and stops.line is not None


def test_a_repository_or_isolation_off_gives_no_warning(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()  # what the check looks for: the folder or one above it
    assert "V231" not in warnings(tmp_path, workspace="./ws/deeper", isolation={"enabled": True})
    assert "V231" not in warnings(tmp_path / "..", isolation={"enabled": False})
    assert "V231" not in warnings(tmp_path, isolation={"enabled": True, "mode": "none"})


def test_the_repository_is_the_instrument_s_working_directory(tmp_path: Path) -> None:
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    (tmp_path / "plain").mkdir()
    isolation = {"enabled": True}
    inside = warnings(tmp_path, backend={"working_directory": "./repo"}, isolation=isolation)
    assert "V231" not in inside
    [issue] = warnings(tmp_path, backend={"working_directory": "./plain"}, isolation=isolation)[
        "V231"
    ]
    assert str(tmp_path / "plain") in issue.message


def test_without_git_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    [issue] = warnings(tmp_path, isolation={"enabled": True})["V231"]
    assert "git is not installed" in issue.message


def test_parallel_sheets_sharing_one_worktree(tmp_path: Path) -> None:
    parallel = {"enabled": True, "max_concurrent": 3}
    shared = warnings(tmp_path, isolation={"enabled": True}, parallel=parallel)
    [issue] = shared["V230"]
    assert "per_sheet" in (issue.hint or "")
    own = warnings(tmp_path, isolation={"enabled": True, "per_sheet": True}, parallel=parallel)
    assert "V230" not in own
    assert "V230" not in warnings(tmp_path, isolation={"enabled": True})
