"""`mzt.machine.pressure_probe`: live runs found through their job slots, with real processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from mzt.machine import pressure_probe, slots
from mzt.machine.config import MachineConfig
from mzt.machine.limits import JOBS
from mzt.support import paths, procinfo
from tests.machine.test_slots import held_elsewhere

CONFIG = MachineConfig()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    child = subprocess.Popen(["sleep", "600"])
    yield child
    child.kill()
    child.wait(timeout=30)


def start_time(pid: int) -> int:
    found = procinfo.read_stat(pid)
    assert found is not None
    return found.start_time


def claim_for(home: Path, pid: int, started: int) -> slots.Slot:
    """A jobs slot held here whose record names ``pid`` started at ``started``."""
    slot = slots.take(JOBS, CONFIG.max_concurrent_jobs, slots.Holder("other", "/ws"), home=home)
    assert slot is not None
    record = json.dumps({"job_id": "other", "pid": pid, "start_time": started}).encode()
    os.ftruncate(slot.fd, 0)
    os.pwrite(slot.fd, record, 0)
    return slot


def test_the_caller_is_always_a_live_run(home: Path) -> None:
    assert pressure_probe.live_runs(CONFIG, home=home) == {os.getpid()}
    assert not home.exists()  # reading the slots created nothing


def test_a_holder_and_the_agent_it_started_are_counted(home: Path) -> None:
    with held_elsewhere(home, "nightly", f"{JOBS}:15", spawn=True) as (holder, agent):
        assert agent is not None
        try:
            runs = pressure_probe.live_runs(CONFIG, home=home)
            assert runs == {os.getpid(), holder.pid}
            usage = pressure_probe.usage_of(runs)
            assert agent in usage.descendants and holder.pid not in usage.descendants
            assert usage.processes == len(usage.descendants) >= 1
            own = psutil.Process(holder.pid).memory_info().rss
            assert usage.memory_mb * pressure_probe.MB >= own
        finally:
            os.kill(agent, signal.SIGKILL)


def test_a_record_whose_start_time_differs_is_not_counted(
    home: Path, sleeper: subprocess.Popen[bytes]
) -> None:
    started = start_time(sleeper.pid)
    slot = claim_for(home, sleeper.pid, started + 1)  # the pid, reused by someone else
    try:
        assert pressure_probe.live_runs(CONFIG, home=home) == {os.getpid()}
    finally:
        slot.release()
    slot = claim_for(home, sleeper.pid, started)
    try:
        assert pressure_probe.live_runs(CONFIG, home=home) == {os.getpid(), sleeper.pid}
    finally:
        slot.release()


def test_a_free_slot_with_a_stale_record_is_not_counted(
    home: Path, sleeper: subprocess.Popen[bytes]
) -> None:
    claim_for(home, sleeper.pid, start_time(sleeper.pid)).release()
    record = json.dumps({"pid": sleeper.pid, "start_time": start_time(sleeper.pid)})
    paths.slot_file(JOBS, 0, home).write_text(record)  # left by a holder killed mid-run
    assert pressure_probe.live_runs(CONFIG, home=home) == {os.getpid()}


@pytest.mark.parametrize(
    "record",
    [
        {},
        {"pid": "1", "start_time": 5},
        {"pid": True, "start_time": 5},
        {"pid": -1, "start_time": 1},
    ],
)
def test_a_record_naming_no_checkable_process_is_none(record: dict[str, object]) -> None:
    assert pressure_probe.live_holder(record) is None


def test_an_unreadable_proc_is_a_failed_reading(
    home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(pressure_probe, "PROC", str(tmp_path / "none"))
    found = pressure_probe.measure(CONFIG, home=home)
    assert found.failed and f"{tmp_path}/none/{os.getpid()}/task cannot be read" in found.failure


def test_a_refused_memory_read_is_a_failed_reading(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(pid: int) -> int | None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(procinfo, "rss_bytes", refuse)
    found = pressure_probe.measure(CONFIG, home=home)
    assert found.failed and "cannot be measured: PermissionError" in found.failure


def test_a_process_that_ends_while_measured_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(procinfo, "rss_bytes", lambda pid: None)
    usage = pressure_probe.usage_of(frozenset({os.getpid()}))
    assert not usage.failed and usage.memory_mb == 0


def test_rss_is_what_the_kernel_reports() -> None:
    ours, theirs = procinfo.rss_bytes(os.getpid()), psutil.Process().memory_info().rss
    assert ours is not None and abs(ours - theirs) < 4 * pressure_probe.MB  # it moves a bit
    assert procinfo.rss_bytes(2**22 + 12345) is None  # beyond pid_max: no such process


def test_an_odd_jobs_folder_is_a_failed_reading(home: Path) -> None:
    paths.slots_dir(home).mkdir(parents=True)
    paths.slot_limit_dir(JOBS, home).write_text("")
    found = pressure_probe.measure(CONFIG, home=home)
    assert found.failed and "the job slots cannot be read" in found.failure
