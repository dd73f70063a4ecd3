"""Frames of `mzt top` built from checkpoints, registry records and shared records on disk."""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mzt.instruments import circuits, ratelimits
from mzt.machine import fairshare, slots
from mzt.state import (
    CheckpointState,
    JobStatus,
    JsonStateBackend,
    SheetState,
    SheetStatus,
    registry,
)
from mzt.support import paths
from mzt.views import top
from tests.machine.slot_child import holding

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("MZT_HOME", str(home))
    return home


def write_job(root: Path, job: str, status: JobStatus, sheets: list[SheetState]) -> Path:
    """A job's checkpoint in its own workspace, registered as `mzt run` registers it."""
    ws = root / f"ws-{job}"
    ws.mkdir()
    state = CheckpointState(
        job_id=job,
        job_name=job,
        total_sheets=len(sheets),
        status=status,
        started_at=NOW - timedelta(minutes=2),
        total_estimated_cost=0.25,
    )
    for sheet in sheets:
        state.sheets[sheet.sheet_num] = sheet
    JsonStateBackend(ws).save(state)
    registry.register(job, ws)
    return ws


@pytest.fixture
def held_lock() -> Iterator[list[int]]:
    """Lock files held as a live run holds its own (a second open file, so probes see it)."""
    fds: list[int] = []
    yield fds
    for fd in fds:
        os.close(fd)


def hold(fds: list[int], ws: Path, job: str) -> None:
    fd = os.open(paths.lock_file(ws, job), os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    fds.append(fd)


def busy_sheets() -> list[SheetState]:
    soon = NOW + timedelta(seconds=30)
    return [
        SheetState(sheet_num=1, status=SheetStatus.COMPLETED, instrument_name="cli"),
        SheetState(
            sheet_num=2,
            status=SheetStatus.IN_PROGRESS,
            instrument_name="cli",
            attempt_count=1,
            started_at=NOW - timedelta(seconds=12),
        ),
        SheetState(sheet_num=3, status=SheetStatus.RETRY_SCHEDULED, fire_at=soon),
        SheetState(
            sheet_num=4,
            status=SheetStatus.WAITING,
            instrument_name="claude-code",
            fire_at=soon,
            rate_limit_expires_at=soon,
        ),
        SheetState(sheet_num=5, status=SheetStatus.WAITING, instrument_name="gemini", fire_at=soon),
        SheetState(
            sheet_num=6,
            status=SheetStatus.RETRY_SCHEDULED,
            execution_mode="completion",
            fire_at=soon,
        ),
        SheetState(sheet_num=7, status=SheetStatus.FAILED),
    ]


def by_id(frame: top.TopFrame) -> dict[str, dict[str, Any]]:
    return {job["job_id"]: job for job in frame.jobs}


def test_a_frame_shows_every_kind_of_job_and_the_shared_records(
    home: Path, tmp_path: Path, held_lock: list[int]
) -> None:
    busy = write_job(tmp_path, "busy", JobStatus.RUNNING, busy_sheets())
    hold(held_lock, busy, "busy")
    in_progress = SheetState(sheet_num=1, status=SheetStatus.IN_PROGRESS, started_at=NOW)
    write_job(tmp_path, "dead", JobStatus.RUNNING, [in_progress])  # its lock is free
    write_job(tmp_path, "held", JobStatus.PAUSED, [SheetState(sheet_num=1)])
    done = SheetState(sheet_num=1, status=SheetStatus.COMPLETED)
    write_job(tmp_path, "done", JobStatus.COMPLETED, [done])
    ratelimits.record("claude-code", NOW + timedelta(minutes=5), "usage limit", "busy")
    ratelimits.record("old", NOW - timedelta(minutes=5), "expired", "busy")
    book = circuits.FileCircuits()
    book.update(
        "gemini",
        lambda c: circuits.failed(c, threshold=1, rest=60, now=NOW, reason="500s", job="busy"),
    )
    book.update("cli", lambda c: c)  # closed: not shown

    frame = top.Board().frame(NOW)
    jobs = by_id(frame)
    assert frame.jobs[0]["job_id"] == "busy"  # a live run comes first
    assert set(jobs) == {"busy", "dead", "held"}  # completed jobs are left out by default
    busy_row = jobs["busy"]
    assert (busy_row["status"], busy_row["alive"]) == ("running", True)
    assert busy_row["progress"] == {"completed": 1, "total": 7, "failed": 1}
    assert busy_row["running"] == [
        {
            "sheet": 2,
            "instrument": "cli",
            "attempt": 1,
            "started_at": (NOW - timedelta(seconds=12)).isoformat().replace("+00:00", "Z"),
            "seconds": 12.0,
            "slurm": None,
        }
    ]
    reasons = [(w["sheet"], w["reason"], w["seconds_left"]) for w in busy_row["waiting"]]
    assert reasons == [
        (3, "retry", 30.0),
        (4, "rate_limited", 30.0),
        (5, "circuit_open", 30.0),
        (6, "completion", 30.0),
    ]
    assert busy_row["cost_usd"] == 0.25 and busy_row["elapsed_seconds"] == 120.0
    # A dead run is shown as the loader shows it: paused, nothing running or waiting.
    assert (jobs["dead"]["status"], jobs["dead"]["alive"], jobs["dead"]["running"]) == (
        "paused",
        False,
        [],
    )
    assert (jobs["held"]["status"], jobs["held"]["waiting"]) == ("paused", [])
    assert [(r["instrument"], r["seconds_left"]) for r in frame.rate_limits] == [
        ("claude-code", 300.0)
    ]
    assert [(c["instrument"], c["state"]) for c in frame.circuits] == [("gemini", "open")]
    assert frame.totals == {
        "jobs": 3,
        "jobs_running": 1,
        "sheets_running": 1,
        "sheets_waiting": 4,
        "sheets_waiting_for_slot": 0,
        "cost_usd": 0.75,
    }
    doc = frame.to_json()
    assert doc["schema"] == "mzt.top/1" and doc["jobs"][0]["job_id"] == "busy"
    everything = top.Board(include_all=True).frame(NOW)
    assert set(by_id(everything)) == {"busy", "dead", "held", "done"}


def test_live_runs_come_first(home: Path, tmp_path: Path, held_lock: list[int]) -> None:
    write_job(tmp_path, "idle", JobStatus.PAUSED, [SheetState(sheet_num=1)])
    ws = write_job(tmp_path, "live", JobStatus.RUNNING, [SheetState(sheet_num=1)])
    hold(held_lock, ws, "live")
    assert [job["job_id"] for job in top.Board().frame(NOW).jobs] == ["live", "idle"]


def test_a_job_whose_files_did_not_change_is_not_read_again(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mzt.state import loader

    write_job(tmp_path, "a", JobStatus.PAUSED, [SheetState(sheet_num=1)])
    ws = write_job(tmp_path, "b", JobStatus.PAUSED, [SheetState(sheet_num=1)])
    reads: list[str] = []
    real = loader.read_state_to

    def counted(job_id: str, state_path: Path, history_path: Path) -> Any:
        reads.append(job_id)
        return real(job_id, state_path, history_path)

    monkeypatch.setattr("mzt.state.reading.read_state_to", counted)
    board = top.Board()
    first = board.frame(NOW)
    assert sorted(reads) == ["a", "b"]
    assert board.frame(NOW).key == first.key and sorted(reads) == ["a", "b"]
    state = JsonStateBackend(ws).load("b")
    assert state is not None
    state.sheets[1].status = SheetStatus.FAILED
    JsonStateBackend(ws).save(state)
    changed = board.frame(NOW)
    assert sorted(reads) == ["a", "b", "b"]
    assert by_id(changed)["b"]["progress"]["failed"] == 1 and changed.key != first.key


def test_a_damaged_checkpoint_is_a_corrupt_row_and_a_removed_one_goes(
    home: Path, tmp_path: Path
) -> None:
    ws = write_job(tmp_path, "rotten", JobStatus.PAUSED, [SheetState(sheet_num=1)])
    gone = write_job(tmp_path, "gone", JobStatus.PAUSED, [SheetState(sheet_num=1)])
    state_file = ws / ".marianne" / "rotten.json"
    state_file.write_bytes(state_file.read_bytes()[:-20])
    (gone / ".marianne" / "gone.json").unlink()
    jobs = by_id(top.Board().frame(NOW))
    assert set(jobs) == {"rotten"}
    assert jobs["rotten"]["status"] == "corrupt" and jobs["rotten"]["error"]


def test_frames_come_after_a_change_and_stop_when_asked(home: Path, tmp_path: Path) -> None:
    ws = write_job(tmp_path, "job", JobStatus.PAUSED, [SheetState(sheet_num=1)])
    stop = threading.Event()
    seen: list[top.TopFrame] = []
    for frame in top.frames(interval=0.2, stop=stop):
        seen.append(frame)
        if len(seen) == 1:
            state = JsonStateBackend(ws).load("job")
            assert state is not None
            state.status = JobStatus.FAILED
            JsonStateBackend(ws).save(state)
        elif frame.jobs[0]["status"] == "failed":
            stop.set()
    assert seen[0].jobs[0]["status"] == "paused" and seen[-1].jobs[0]["status"] == "failed"


def test_a_frame_shows_who_holds_each_limit_and_which_sheets_wait_for_one(
    home: Path, tmp_path: Path, held_lock: list[int]
) -> None:
    (home / "config.yaml").write_text("max_concurrent_sheets: 1\nmax_concurrent_jobs: 4\n")
    ws = write_job(tmp_path, "queued", JobStatus.RUNNING, [SheetState(sheet_num=n) for n in (1, 2)])
    hold(held_lock, ws, "queued")
    board = top.Board()
    with holding(home, "holder", "sheets:1", "jobs:4", "instrument-cli:4"):
        idle = board.frame(NOW)
        ticket = fairshare.join("sheets", slots.Holder("queued", str(ws), 1, "cli"), home=home)
        try:
            waiting = board.frame(NOW)
        finally:
            ticket.leave()
        after = board.frame(NOW)
    assert by_id(idle)["queued"]["waiting_for_slot"] == []
    row = by_id(waiting)["queued"]
    assert row["waiting_for_slot"] == [
        {"sheet": 1, "limit": "sheets", "text": "waiting for a sheet slot: 1/1 held by job holder"}
    ]
    assert waiting.totals["sheets_waiting_for_slot"] == 1 and waiting.totals["sheets_waiting"] == 1
    assert waiting.key != idle.key and after.key == idle.key  # a wait begins, then it ends
    doc = waiting.to_json()
    assert doc["pressure"]["schema"] == "mzt.pressure/1"
    assert doc["pressure"]["level"] in ("none", "low", "medium", "high", "critical")
    assert [(s["limit"], s["capacity"], s["held"], s["by_job"]) for s in doc["slots"]] == [
        ("sheets", 1, 1, {"holder": 1}),
        ("jobs", 4, 1, {"holder": 1}),
        ("instrument-cli", 4, 1, {"holder": 1}),
    ]
    assert board.relevant(paths.slot_file("sheets", 0)) and board.relevant(ticket.path)
    assert not board.relevant(paths.lock_file(ws, "queued").with_suffix(".lock"))
    assert paths.slots_dir() / "sheets" / "tickets" in board.folders()


def test_a_dead_runs_tickets_are_not_its_waits(home: Path, tmp_path: Path) -> None:
    ws = write_job(tmp_path, "gone", JobStatus.RUNNING, [SheetState(sheet_num=1)])  # lock free
    ticket = fairshare.join("sheets", slots.Holder("gone", str(ws), 1, "cli"), home=home)
    try:
        frame = top.Board().frame(NOW)
    finally:
        ticket.leave()
    assert by_id(frame)["gone"]["waiting_for_slot"] == []
