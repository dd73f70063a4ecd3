"""The rows of a `mzt top` frame: why a sheet waits, and the waits for machine slots."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from mzt.machine.slot_waits import SlotWait
from mzt.state import CheckpointState, JobStatus, SheetState, reading
from mzt.views import top_rows
from mzt.views.liveness import Liveness

NOW = datetime.now(UTC)
WAITS = {
    None: SlotWait("jobs", "waiting for a job slot: 2/2 held by jobs a, b"),
    4: SlotWait("instrument-cli", "waiting for a cli slot: 1/1 held by job a"),
    3: SlotWait("sheets", "waiting for a sheet slot: 4/4 held by jobs a, b"),
}


def checkpoint(tmp_path: Path) -> reading.Checkpoint:
    state = CheckpointState(job_id="j", job_name="j", total_sheets=4, status=JobStatus.RUNNING)
    for num in range(1, 5):
        state.sheets[num] = SheetState(sheet_num=num)
    return reading.Checkpoint(reading.JobRef("j", tmp_path), state)


def test_a_live_runs_row_lists_its_slot_waits_in_sheet_order(tmp_path: Path) -> None:
    alive = Liveness(True, "alive", "probed", None)
    row = top_rows.job_row(checkpoint(tmp_path), alive, NOW, waits=WAITS)
    assert row["waiting_for_slot"] == [
        {"sheet": None, "limit": "jobs", "text": WAITS[None].text},
        {"sheet": 3, "limit": "sheets", "text": WAITS[3].text},
        {"sheet": 4, "limit": "instrument-cli", "text": WAITS[4].text},
    ]
    assert row["waiting"] == []  # pending sheets: nothing the checkpoint says they wait for


def test_a_stopped_runs_row_waits_for_nothing(tmp_path: Path) -> None:
    dead = Liveness(False, "dead", "probed", None)
    row = top_rows.job_row(checkpoint(tmp_path), dead, NOW, waits=WAITS)
    assert row["waiting_for_slot"] == []
    assert top_rows.corrupt_row(reading.JobRef("j", tmp_path), "bad")["waiting_for_slot"] == []


@pytest.mark.parametrize(
    ("status", "mode", "limited", "reason"),
    [
        ("retry_scheduled", None, False, "retry"),
        ("retry_scheduled", "completion", False, "completion"),
        ("waiting", None, True, "rate_limited"),
        ("waiting", None, False, "circuit_open"),
        ("fermata", None, False, "fermata"),
        ("pending", None, False, None),
        ("in_progress", None, False, None),
    ],
)
def test_wait_reasons(status: str, mode: str | None, limited: bool, reason: str | None) -> None:
    assert top_rows.wait_reason(status, mode, limited) == reason


def test_a_running_sheet_names_its_slurm_job(tmp_path: Path) -> None:
    from mzt.state import SheetStatus
    from mzt.views.slurm_jobs import SlurmJob

    made = checkpoint(tmp_path)
    for num in (1, 2):
        made.sheets[num].status = SheetStatus.IN_PROGRESS
    alive = Liveness(True, "alive", "probed", None)
    job = SlurmJob(1, 1, "812", "RUNNING", "node07")
    row = top_rows.job_row(made, alive, NOW, slurm={1: job})
    assert [item["slurm"] for item in row["running"]] == [
        {"job_id": "812", "state": "RUNNING", "node": "node07"},
        None,
    ]
