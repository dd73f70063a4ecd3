"""End to end: a stop while four sheets run names all four; a killed run's sheets read as
interrupted.

Four parallel `cli` sheets each touch a marker and then wait a minute. Once every marker
is there, the run is stopped (SIGINT, SIGTERM or the cancel file): each sheet the stop cut
short is named on stderr and in `--json`'s `stopped_sheets`. After a `kill -9`, `mzt
status` shows those sheets as interrupted (the stored status stays `in_progress`), and
their time stops at the dead run's last write.
"""

from __future__ import annotations

import json
import signal
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from mzt.state import JsonStateBackend
from tests.e2e.conftest import Project, wait_for
from tests.helpers import side_by_side

SHEETS = [1, 2, 3, 4]
WAITING = "touch {{ workspace }}/started-{{ sheet_num }}\nsleep 60\n"


def _score(project: Project) -> Path:
    return project.score(side_by_side("job", len(SHEETS), WAITING))


def _markers(project: Project) -> list[Path]:
    return [project.workspace / f"started-{n}" for n in SHEETS]


def _placed(project: Project) -> bool:
    """Every sheet's attempt is recorded as running (the last line its start writes)."""
    state = JsonStateBackend(project.workspace).load("job")
    return state is not None and all(state.sheet(n).attempt_handle for n in SHEETS)


def _start_all_four(project: Project, *args: object) -> subprocess.Popen[str]:
    for marker in _markers(project):
        marker.unlink(missing_ok=True)
    proc = project.start("run", *args, _score(project))
    wait_for(lambda: all(m.exists() for m in _markers(project)), timeout=60)
    wait_for(lambda: _placed(project), timeout=60)
    assert proc.poll() is None, "the run ended before the stop"
    return proc


def _stop(project: Project, proc: subprocess.Popen[str], how: str) -> None:
    if how == "cancel":
        (project.workspace / ".marianne-cancel-job").touch()
    else:
        proc.send_signal(getattr(signal, how))


@pytest.mark.parametrize(
    ("how", "code", "status", "said"),
    [
        ("SIGINT", 130, "paused", "interrupted"),
        ("SIGTERM", 143, "paused", "interrupted"),
        ("cancel", 4, "cancelled", "cancelled"),
    ],
)
def test_a_stop_names_every_sheet_it_cut_short(
    project: Project, how: str, code: int, status: str, said: str
) -> None:
    proc = _start_all_four(project)
    _stop(project, proc, how)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert "Traceback" not in err
    named = [line.strip() for line in err.splitlines() if line.startswith("  sheet")]
    assert named == [f"sheet {n}: stopped ({said})" for n in SHEETS], err

    # The next run continues the same four sheets; stopped again, --json carries them.
    proc = _start_all_four(project, "--json")
    _stop(project, proc, how)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    doc = json.loads(out)
    assert (doc["status"], doc["exit_code"]) == (status, code)
    assert doc["stopped_sheets"] == SHEETS


def test_a_run_that_ends_by_itself_stopped_nothing(project: Project) -> None:
    score = project.score(
        {
            "name": "quick",
            "instrument": "cli",
            "sheet": {"size": 1, "total_items": 2},
            "prompt": {"template": "true"},
        }
    )
    result = project.mzt("run", "--json", score)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["stopped_sheets"] == []


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _status_rows(text: str) -> dict[int, str]:
    """Sheet number → the STATUS column of `mzt status`'s sheet table."""
    rows = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) > 2 and fields[0].isdigit():
            rows[int(fields[0])] = fields[1]
    return rows


def _status(project: Project, *args: str) -> subprocess.CompletedProcess[str]:
    result = project.mzt("status", "job", "-w", project.workspace, *args)
    assert result.returncode == 0, result.stderr
    return result


def test_status_after_kill_9_shows_the_running_sheets_as_interrupted(project: Project) -> None:
    proc = _start_all_four(project)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    try:
        text = _status(project).stdout
        assert "interrupted — its run died" in text, text
        assert _status_rows(text) == dict.fromkeys(SHEETS, "interrupted"), text
        assert "4 interrupted" in text
        doc: dict[str, Any] = json.loads(_status(project, "--json").stdout)
        assert doc["interrupted_sheets"] == SHEETS
        last_write = _when(doc["updated_at"])
        for num in SHEETS:
            sheet = doc["sheets"][str(num)]
            assert (sheet["status"], sheet["interrupted"]) == ("in_progress", True), sheet
            # Its time stops where the dead run last wrote, however late status is asked.
            spent = (last_write - _when(sheet["started_at"])).total_seconds()
            assert sheet["duration_seconds"] == pytest.approx(max(0.0, spent), abs=0.002)
    finally:
        # Cancelling stops the attempts the dead run left running.
        cancelled = project.mzt("cancel", "job", "-w", project.workspace)
        assert cancelled.returncode == 0, cancelled.stderr
    doc = json.loads(_status(project, "--json").stdout)
    assert doc["interrupted_sheets"] == []
    assert not any(sheet["interrupted"] for sheet in doc["sheets"].values())


def test_a_signal_the_moment_the_checkpoint_appears_pauses_the_run(project: Project) -> None:
    """A watcher that signals a run as soon as its checkpoint exists finds it listening."""
    checkpoint = project.workspace / ".marianne" / "job.json"
    for _ in range(5):
        JsonStateBackend(project.workspace).delete("job")
        proc = project.start("run", _score(project))
        while not checkpoint.exists() and proc.poll() is None:
            pass  # no sleep: the signal must land as close to the first write as it can
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
        assert proc.returncode == 143
        state = JsonStateBackend(project.workspace).load("job")
        assert state is not None and state.status.value == "paused"
