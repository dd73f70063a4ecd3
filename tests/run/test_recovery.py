"""Recovery: which failed sheets it completes, and what it refuses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mzt import api
from mzt.run.recovery import recover_job
from mzt.support.errors import UsageError
from tests.helpers import minimal, write_score


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "home"
    monkeypatch.setenv("MZT_HOME", str(folder))
    return folder


def failed_job(tmp_path: Path, **extra: Any) -> Path:
    """Three independent sheets; 2 and 3 exit 1 without writing their file."""
    data = minimal(
        workspace="./ws",
        instrument="cli",
        pause_between_sheets_seconds=0,
        sheet={"size": 1, "total_items": 3, "dependencies": {2: [1], 3: [1]}},
        retry={"max_retries": 0, "max_completion_attempts": 0},
        prompt={"template": "[ {{ sheet_num }} = 1 ] || exit 1; touch out-{{ sheet_num }}"},
        validations=[{"type": "file_exists", "path": "{workspace}/out-{sheet_num}"}],
    )
    data.update(extra)
    result = api.run_score(write_score(tmp_path, data))
    assert result.failed_sheets == [2, 3], result.message
    return tmp_path / "ws"


def test_only_the_sheets_whose_work_is_there_complete(tmp_path: Path) -> None:
    ws = failed_job(tmp_path)
    (ws / "out-3").touch()
    report = recover_job("t", workspace=ws)
    assert (report.recovered, report.still_failed, report.exit_code) == ([3], [2], 1)
    assert report.status == "failed"
    doc = report.to_json()
    assert doc["schema"] == "mzt.recover/1"
    assert doc["sheets"][0]["failures"] and "out-2" in doc["sheets"][0]["failures"][0]


def test_the_dry_run_predicts_and_keeps_the_state(tmp_path: Path) -> None:
    ws = failed_job(tmp_path)
    (ws / "out-2").touch()
    (ws / "out-3").touch()
    report = recover_job("t", workspace=ws, dry_run=True)
    assert (report.recovered, report.status, report.exit_code) == ([2, 3], "completed", 0)
    again = recover_job("t", workspace=ws, dry_run=True)
    assert again.previous_status == "failed"  # nothing was written


def test_a_sheet_without_validations_is_never_recovered(tmp_path: Path) -> None:
    ws = failed_job(tmp_path, validations=[])
    report = recover_job("t", workspace=ws)
    assert report.recovered == [] and report.exit_code == 1
    assert all("no validations" in s.reason for s in report.sheets)


def test_a_sheet_out_of_range_is_a_usage_error(tmp_path: Path) -> None:
    ws = failed_job(tmp_path)
    with pytest.raises(UsageError, match="has no sheet 7"):
        recover_job("t", workspace=ws, sheet=7)
