"""The run lock: exclusion, holder messages, probes, kernel release, no inheritance."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest

from mzt.state import lock as lock_module
from mzt.state.liveness import ProcessIdentity, current_identity
from mzt.state.lock import LiveVerdict, RunLock, job_liveness, read_holder, settled_probe
from mzt.state.lockprobe import LockProbe, probe_lock
from mzt.support.errors import JobLockedError, LockFileError
from mzt.support.exitcodes import ExitCode
from tests.state.lock_child import lock_held_elsewhere


@pytest.fixture
def lock_path(tmp_path: Path) -> Path:
    return tmp_path / "ws" / ".marianne" / "job.lock"


def test_acquire_release_and_reacquire(lock_path: Path) -> None:
    lock = RunLock(lock_path, job_id="job")
    with lock:
        assert lock.held
        assert probe_lock(lock_path) == LockProbe.HELD_HERE
    assert not lock.held
    assert probe_lock(lock_path) == LockProbe.FREE
    assert lock_path.exists()  # never deleted
    with RunLock(lock_path, job_id="job") as again:
        assert again.held


@pytest.mark.parametrize("umask", [0o000, 0o022])
def test_lock_file_and_folder_are_private(lock_path: Path, umask: int) -> None:
    previous = os.umask(umask)
    try:
        with RunLock(lock_path, job_id="job"):
            pass
    finally:
        os.umask(previous)
    assert stat.S_IMODE(lock_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(lock_path.parent.stat().st_mode) == 0o700


def test_existing_wide_lock_file_is_tightened(lock_path: Path) -> None:
    lock_path.parent.mkdir(parents=True)
    lock_path.write_text("")
    lock_path.chmod(0o644)
    with RunLock(lock_path, job_id="job"):
        assert stat.S_IMODE(lock_path.stat().st_mode) == 0o600


def test_holder_identity_is_recorded_in_the_lock_file(lock_path: Path) -> None:
    with RunLock(lock_path, job_id="job"):
        holder = read_holder(lock_path)
    assert holder == current_identity()


def test_second_process_is_refused_with_the_holders_identity(lock_path: Path) -> None:
    with lock_held_elsewhere(lock_path) as child:
        assert probe_lock(lock_path) == LockProbe.HELD_ELSEWHERE
        started = time.monotonic()
        with pytest.raises(JobLockedError) as caught:
            RunLock(lock_path, job_id="job").acquire()
        assert time.monotonic() - started < 10  # fails fast, never waits for the holder
        error = caught.value
        assert error.exit_code == ExitCode.LOCKED == 75
        assert error.holder is not None and error.holder["pid"] == child.pid
        assert f"pid {child.pid}" in error.message
        assert f"on host {current_identity().host}" in error.message
        assert "started 20" in error.message
        assert "mzt pause job" in (error.hint or "")
        # The probe and the refused attempt left the holder undisturbed.
        assert probe_lock(lock_path) == LockProbe.HELD_ELSEWHERE


def test_holder_falls_back_to_the_state_writer_block(tmp_path: Path) -> None:
    lock_path = tmp_path / "job.lock"
    lock_path.write_text("")  # a holder that has not written its record yet
    state = tmp_path / "job.json"
    state.write_text('{"writer": {"pid": 31337, "host": "box", "start_time": 0, "boot_id": null}}')
    holder = read_holder(lock_path, state)
    assert holder == ProcessIdentity(31337, 0.0, "box", None)
    assert read_holder(tmp_path / "missing.lock") is None


def test_lock_is_released_when_the_holder_is_killed(lock_path: Path) -> None:
    with lock_held_elsewhere(lock_path) as child:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
        assert probe_lock(lock_path) == LockProbe.FREE
        with RunLock(lock_path, job_id="job") as lock:
            assert lock.held


_LEAKY_PARENT = """
import subprocess, sys
from pathlib import Path
from mzt.state.lock import RunLock
RunLock(Path(sys.argv[1]), job_id="job").acquire()
# A careless child spawn (close_fds=False) must still not carry the lock descriptor.
grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"],
                              close_fds=False, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(grandchild.pid, flush=True)
"""


def test_lock_is_not_inherited_by_children(lock_path: Path) -> None:
    parent = subprocess.run(
        [sys.executable, "-c", _LEAKY_PARENT, str(lock_path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    grandchild = int(parent.stdout)
    try:
        os.kill(grandchild, 0)  # still running after its parent exited
        assert probe_lock(lock_path) == LockProbe.FREE
        with RunLock(lock_path, job_id="job"):
            pass
    finally:
        os.kill(grandchild, signal.SIGKILL)


def test_probe_never_creates_the_lock_file(lock_path: Path) -> None:
    assert probe_lock(lock_path) == LockProbe.FREE
    assert not lock_path.exists()


def test_symlink_at_the_lock_path_is_not_trusted(lock_path: Path, tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.write_text("")
    lock_path.parent.mkdir(parents=True)
    lock_path.symlink_to(target)
    assert probe_lock(lock_path) == LockProbe.HELD_ELSEWHERE
    with pytest.raises(LockFileError, match="ELOOP") as caught:
        RunLock(lock_path, job_id="job").acquire()
    assert caught.value.exit_code == 5
    assert target.read_text() == ""


# --- job liveness ---------------------------------------------------------------------------


def test_liveness_of_a_running_job_with_free_lock_is_dead(lock_path: Path) -> None:
    verdict = job_liveness(lock_path, running=True, writer=current_identity())
    assert verdict.verdict == LiveVerdict.DEAD and verdict.alive is False
    assert "run lock is free" in verdict.reason


def test_liveness_without_writer_record(lock_path: Path) -> None:
    verdict = job_liveness(lock_path, running=True, writer=None)
    assert verdict.verdict == LiveVerdict.DEAD
    assert "no writer process was recorded" in verdict.reason


def test_liveness_of_an_idle_job(lock_path: Path) -> None:
    assert job_liveness(lock_path, running=False, writer=None).verdict == LiveVerdict.IDLE


def test_liveness_with_the_lock_held_elsewhere(lock_path: Path) -> None:
    with lock_held_elsewhere(lock_path) as child:
        verdict = job_liveness(lock_path, running=True, writer=None)
    assert verdict.alive is True and verdict.holder is not None
    assert verdict.holder.pid == child.pid


def test_liveness_when_this_process_holds_the_lock(lock_path: Path) -> None:
    me = current_identity()
    predecessor = ProcessIdentity(me.pid + 1, 1.0, me.host, me.boot_id)
    with RunLock(lock_path, job_id="job"):
        assert job_liveness(lock_path, running=True, writer=me).verdict == LiveVerdict.ALIVE
        dead = job_liveness(lock_path, running=True, writer=predecessor)
        assert dead.verdict == LiveVerdict.DEAD


def test_liveness_of_another_hosts_run_is_unknown(lock_path: Path) -> None:
    remote = ProcessIdentity(1, 1.0, "elsewhere.example", None)
    verdict = job_liveness(lock_path, running=True, writer=remote)
    assert verdict.verdict == LiveVerdict.FOREIGN and verdict.alive is None
    assert "another host" in verdict.reason


# A run killed while spawning: its child, between fork and exec, still shares the lock.
_KILLED_WHILE_SPAWNING = """
import os, sys, time
from pathlib import Path
from mzt.state.lock import RunLock
RunLock(Path(sys.argv[1]), job_id="job").acquire()
release = Path(sys.argv[2])
if os.fork() == 0:
    while not release.exists():
        time.sleep(0.01)
    os._exit(0)
print("forked", flush=True)
time.sleep(300)
"""


def test_a_dead_runs_unexeced_child_is_waited_for_not_called_alive(
    lock_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = tmp_path / "release"
    run = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WHILE_SPAWNING, str(lock_path), str(release)],
        stdout=subprocess.PIPE,
        text=True,
    )
    with run:
        try:
            assert run.stdout is not None and run.stdout.readline().strip() == "forked"
        finally:
            run.kill()
            run.wait(timeout=30)
    try:
        assert probe_lock(lock_path) == LockProbe.HELD_ELSEWHERE  # the child's copy holds it
    finally:
        release.touch()
    monkeypatch.setattr(lock_module, "SETTLE_SECONDS", 60.0)  # however slow the machine
    assert settled_probe(lock_path) == LockProbe.FREE
    assert job_liveness(lock_path, running=True, writer=None).verdict == LiveVerdict.DEAD


def test_a_live_holder_is_not_waited_for(lock_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_sleep(seconds: float) -> None:
        raise AssertionError(f"slept {seconds} s for a live holder")

    clock = types.SimpleNamespace(monotonic=time.monotonic, sleep=no_sleep)
    with lock_held_elsewhere(lock_path):
        monkeypatch.setattr(lock_module, "time", clock)  # the lock module's clock alone
        assert settled_probe(lock_path) == LockProbe.HELD_ELSEWHERE
