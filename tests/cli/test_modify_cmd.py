"""`mzt modify` of a job with no run: it checks, changes nothing, and says how to go on."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from mzt import api
from tests.cli.conftest import Result
from tests.helpers import minimal, write_score


@pytest.fixture
def failed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MZT_HOME", str(tmp_path / "home"))
    data = minimal(workspace="./ws", instrument="cli", prompt={"template": "exit 1"})
    data["retry"] = {"max_retries": 0, "max_completion_attempts": 0}
    assert api.run_score(write_score(tmp_path, data)).status == "failed"
    return tmp_path / "ws"


def test_a_stopped_job_is_checked_and_left_as_it_was(
    failed: Path, tmp_path: Path, mzt: Callable[..., Result]
) -> None:
    state = failed / ".marianne" / "t.json"
    before = state.read_bytes()
    new = write_score(tmp_path, minimal(workspace="./ws", instrument="cli"), "v2.yaml")
    result = mzt("modify", "t", "-w", failed, "-c", new)
    assert result.code == 0, result.err
    assert f"{new}: valid, 3 sheets, job t" in result.out
    assert f"t is failed; continue it with `mzt resume t -w {failed} -c {new}`" in result.out
    doc = mzt("modify", "t", "-w", failed, "-c", new, "-j").json()
    assert doc["schema"] == "mzt.modify/1"
    assert (doc["pause_requested"], doc["waited"], doc["resumed"], doc["run"]) == (
        False,
        False,
        False,
        None,
    )
    assert state.read_bytes() == before


def test_the_config_is_required(failed: Path, mzt: Callable[..., Result]) -> None:
    result = mzt("modify", "t", "-w", failed)
    assert result.code == 2 and "--config" in result.err
