"""The checks a new score passes before `mzt modify` touches a job."""

from __future__ import annotations

from pathlib import Path

import pytest

from mzt import api
from mzt.run.modification import check_modification
from mzt.support.errors import ScoreError, UsageError
from tests.helpers import minimal, write_score


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "home"
    monkeypatch.setenv("MZT_HOME", str(folder))
    return folder


def failed_job(tmp_path: Path) -> Path:
    data = minimal(workspace="./ws", instrument="cli", prompt={"template": "exit 1"})
    data["retry"] = {"max_retries": 0, "max_completion_attempts": 0}
    assert api.run_score(write_score(tmp_path, data)).status == "failed"
    return tmp_path / "ws"


def test_a_new_version_of_the_same_score_passes(tmp_path: Path) -> None:
    ws = failed_job(tmp_path)
    new = write_score(tmp_path, minimal(workspace="./ws", instrument="cli"), "v2.yaml")
    plan = check_modification("t", config=new, workspace=ws)
    assert (plan.job_id, plan.total_sheets, plan.status) == ("t", 3, "failed")
    assert plan.resume_command == f"mzt resume t -w {ws} -c {new}"


@pytest.mark.parametrize(
    ("overrides", "error", "match"),
    [
        ({"name": "other"}, UsageError, "score of job other, not of t"),
        ({"sheet": {"size": 1, "total_items": 4}}, UsageError, "expands to 4 sheets"),
        ({"sheet": {"size": 0, "total_items": 3}}, ScoreError, "size"),
    ],
)
def test_what_cannot_continue_the_job_is_refused(
    tmp_path: Path, overrides: dict[str, object], error: type[Exception], match: str
) -> None:
    ws = failed_job(tmp_path)
    new = write_score(tmp_path, minimal(workspace="./ws", **overrides), "v2.yaml")
    with pytest.raises(error, match=match):
        check_modification("t", config=new, workspace=ws)
