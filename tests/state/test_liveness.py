"""Process identity and the pid-based evidence behind zombie messages."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mzt.state import liveness
from mzt.state.liveness import (
    ProcessIdentity,
    Verdict,
    current_identity,
    examine,
    format_timestamp,
    pid_alive,
    process_start_time,
)
from mzt.support import procinfo


@pytest.fixture(scope="module")
def dead_pid() -> int:
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(child.stdout)


def test_current_identity_describes_this_process() -> None:
    me = current_identity()
    assert me.pid == os.getpid()
    assert me.start_time is not None and me.start_time == process_start_time(os.getpid())
    assert me.host and me.boot_id == procinfo.boot_id()
    assert me.describe() == {"pid": me.pid, "host": me.host, "started_at": me.started_at}


def test_the_host_is_the_name_other_programs_see() -> None:
    import socket

    # Recorded in every run's identity and attempt handle, and compared across processes.
    assert procinfo.host() == socket.gethostname()


def test_identity_round_trips_through_json_form() -> None:
    me = current_identity()
    assert ProcessIdentity.from_dict(me.to_dict()) == me


@pytest.mark.parametrize(
    "data",
    [None, [], {}, {"pid": "1", "host": "h"}, {"pid": True, "host": "h"}, {"pid": 1}],
)
def test_malformed_identity_is_none(data: object) -> None:
    assert ProcessIdentity.from_dict(data) is None


def test_pid_alive(dead_pid: int) -> None:
    assert pid_alive(os.getpid())
    assert pid_alive(1)  # exists even if it belongs to someone else
    assert not pid_alive(dead_pid)
    assert not pid_alive(None)
    assert not pid_alive(0)  # never probe our own process group
    assert not pid_alive(-5)


def test_defunct_child_is_not_alive() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # exited, not reaped yet
    try:
        assert not pid_alive(child.pid)
    finally:
        child.wait()


def test_process_start_time_of_missing_process(dead_pid: int) -> None:
    assert process_start_time(dead_pid) is None
    assert process_start_time(0) is None


def test_start_times_are_the_ones_psutil_reports() -> None:
    import psutil

    for pid in (os.getpid(), 1):
        assert liveness.process_start_time(pid) == pytest.approx(
            psutil.Process(pid).create_time(), abs=0.01
        )


def test_boot_id_absent(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(procinfo, "BOOT_ID_PATH", tmp_path / "none")
    assert procinfo.boot_id() is None


def test_format_timestamp() -> None:
    assert format_timestamp(0) == "1970-01-01T00:00:00Z"
    assert format_timestamp(None) is None


def test_examine_verdicts(dead_pid: int) -> None:
    me = current_identity()
    assert examine(None).verdict == Verdict.UNKNOWN
    assert examine(me).verdict == Verdict.ALIVE
    far = ProcessIdentity(me.pid, me.start_time, "far.example", me.boot_id)
    assert examine(far).verdict == Verdict.FOREIGN
    gone = ProcessIdentity(dead_pid, 1.0, me.host, me.boot_id)
    evidence = examine(gone)
    assert evidence.verdict == Verdict.DEAD and "no longer exists" in evidence.reason
    earlier_boot = ProcessIdentity(me.pid, me.start_time, me.host, "another-boot")
    assert examine(earlier_boot).verdict == Verdict.DEAD
    reused = ProcessIdentity(me.pid, (me.start_time or 0) - 600, me.host, me.boot_id)
    evidence = examine(reused)
    assert evidence.verdict == Verdict.DEAD
    assert "now belongs to another process" in evidence.reason


def test_identity_is_recomputed_after_fork() -> None:
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.write(write_end, str(current_identity().pid).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    reported = int(os.read(read_end, 64))
    os.close(read_end)
    os.waitpid(pid, 0)
    assert reported == pid != current_identity().pid
