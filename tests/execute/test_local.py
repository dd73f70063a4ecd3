"""The local executor: held starts, handles, and stopping leftovers only when they match."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mzt.execute.base import ATTEMPT_VARIABLE, AttemptHandle, Finished
from mzt.execute.leftovers import live_leftovers, recorded_handles, stop_leftovers
from mzt.execute.local import LocalExecutor, _scan
from mzt.state import CheckpointState
from mzt.support import procinfo, records
from mzt.support.process import ProcessRequest, run_process
from mzt.support.spawnhold import Hold, current_hold
from tests.e2e.conftest import wait_for


def _alive(pid: int) -> bool:
    stat = procinfo.read_stat(pid)
    return stat is not None and stat.alive


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    """A process in its own session, as an attempt's instrument is."""
    proc = subprocess.Popen(["sleep", "60"], start_new_session=True)
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def _handle_of(proc: subprocess.Popen[bytes], **changes: object) -> AttemptHandle:
    stat = procinfo.read_stat(proc.pid)
    assert stat is not None
    handle = AttemptHandle(
        executor="local",
        token="t" * 24,
        sheet_num=1,
        attempt=1,
        host=procinfo.host(),
        boot_id=procinfo.boot_id(),
        pid=proc.pid,
        pgid=proc.pid,
        start_time=stat.start_time,
    )
    return records.replace(handle, **changes)  # type: ignore[arg-type]


def test_handle_survives_its_record() -> None:
    handle = AttemptHandle("local", "abc", 3, 2, "host", "boot", 10, 10, 99, 1.5, {"k": 1})
    assert AttemptHandle.from_record(handle.to_record()) == handle
    assert set(handle.to_record()) == {f.name for f in records.fields(AttemptHandle)}
    assert AttemptHandle.from_record({"executor": "local"}) is None


def test_a_pid_whose_start_time_differs_is_never_signalled(
    sleeper: subprocess.Popen[bytes],
) -> None:
    stale = _handle_of(sleeper, start_time=_handle_of(sleeper).start_time - 1)  # type: ignore[operator]
    executor = LocalExecutor()
    try:
        # Neither found nor stopped: the pid now names some other process.
        assert executor.find_leftovers([stale]) == []
        assert executor.stop_leftovers([stale]) == []
    finally:
        executor.close()
    time.sleep(0.1)
    assert sleeper.poll() is None


def test_another_boot_or_host_is_not_touched(sleeper: subprocess.Popen[bytes]) -> None:
    executor = LocalExecutor()
    try:
        assert executor.stop_leftovers([_handle_of(sleeper, boot_id="another-boot")]) == []
        [elsewhere] = executor.stop_leftovers([_handle_of(sleeper, host="elsewhere.example")])
        assert elsewhere.pids == () and "elsewhere.example" in elsewhere.note
    finally:
        executor.close()
    assert sleeper.poll() is None


def test_matching_leftovers_are_stopped(sleeper: subprocess.Popen[bytes]) -> None:
    handle = _handle_of(sleeper)
    executor = LocalExecutor(grace=1.0)
    try:
        [found] = executor.find_leftovers([handle])
        assert found.pids == (sleeper.pid,)
        [stopped] = executor.stop_leftovers([handle])
        assert stopped.pids == (sleeper.pid,)
    finally:
        executor.close()
    assert sleeper.wait(timeout=5) == -signal.SIGTERM


def test_a_process_that_left_the_session_is_found_by_its_token(tmp_path: Path) -> None:
    token = "e" * 24
    env = {**os.environ, ATTEMPT_VARIABLE: token}
    escaped = subprocess.Popen(["sleep", "60"], env=env, start_new_session=True)
    try:
        # Popen returns once the exec has begun; /proc shows the new environment only once
        # it has finished, which a loaded machine can delay.
        entry = f"{ATTEMPT_VARIABLE}={token}".encode()
        wait_for(lambda: entry in procinfo.read_environ(escaped.pid))
        stat = procinfo.read_stat(escaped.pid)
        assert stat is not None
        # The attempt's own leader is long gone; only the token ties the process to it.
        handle = AttemptHandle(
            "local", token, 1, 1, procinfo.host(), procinfo.boot_id(), 1, 1, stat.start_time
        )
        assert [t.pid for t in _scan([handle])[token]] == [escaped.pid]
        later = records.replace(handle, start_time=stat.start_time + 10_000)
        assert _scan([later]) == {}  # started before the attempt: not one of its processes
    finally:
        escaped.kill()
        escaped.wait()


def test_held_child_runs_only_after_release(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    seen: list[tuple[int, int, int | None]] = []

    def hook(pid: int, pgid: int, start: int | None) -> bool:
        seen.append((pid, pgid, start))
        assert not marker.exists()  # held: nothing of the program has run yet
        return True

    request = ProcessRequest(
        argv=("sh", "-c", f"touch {marker}"), cwd=tmp_path, env=dict(os.environ), on_spawned=hook
    )
    outcome = run_process(request)
    assert outcome.succeeded and marker.exists()
    [(pid, pgid, start)] = seen
    assert pid == pgid and start is not None


def test_held_child_let_go_by_another_thread_runs_once(tmp_path: Path) -> None:
    marker = tmp_path / "ran"

    def hook(pid: int, pgid: int, start: int | None) -> bool:
        hold = current_hold()
        assert hold is not None and not marker.exists()
        thread = threading.Thread(target=hold.go)
        thread.start()
        thread.join()
        assert not hold.cancel()  # let go already: a late refusal changes nothing
        return False

    request = ProcessRequest(
        argv=("sh", "-c", f"cat; touch {marker}"),
        cwd=tmp_path,
        env=dict(os.environ),
        stdin=b"prompt",
        stdout_log=tmp_path / "out",
        on_spawned=hook,
    )
    outcome = run_process(request)
    # The program read its prompt alone: the release line was sent once, not twice.
    assert outcome.succeeded and marker.exists() and outcome.stdout_tail == "prompt"
    assert current_hold() is None


def test_a_cancelled_hold_is_never_let_go(tmp_path: Path) -> None:
    read, write = os.pipe()
    try:
        hold = Hold(write)
        assert hold.cancel() and not hold.go()
        os.set_blocking(read, False)
        with pytest.raises(BlockingIOError):
            os.read(read, 1)
    finally:
        os.close(read)
        os.close(write)


def test_held_child_refused_never_runs(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    request = ProcessRequest(
        argv=("sh", "-c", f"touch {marker}"),
        cwd=tmp_path,
        env=dict(os.environ),
        on_spawned=lambda *_: False,
    )
    outcome = run_process(request)
    assert outcome.reason == "interrupted" and not marker.exists()


def test_held_child_exits_unstarted_when_its_releaser_dies(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    code = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "from mzt.support.process import ProcessRequest, run_process\n"
        f"hook = lambda pid, pgid, start: (print(pid, flush=True), os._exit(9))\n"
        f"run_process(ProcessRequest(argv=('sh', '-c', 'touch {marker}'), cwd=Path('.'),"
        " env=dict(os.environ), on_spawned=hook))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=False
    )
    pid = int(result.stdout.split()[0])
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid) and not marker.exists()


def test_missing_program_fails_as_before(tmp_path: Path) -> None:
    request = ProcessRequest(
        argv=("no-such-program-here",),
        cwd=tmp_path,
        env=dict(os.environ),
        on_spawned=lambda *_: True,
    )
    outcome = run_process(request)
    assert outcome.reason == "error" and "not found" in (outcome.error or "")


def test_state_handles_are_stopped_and_cleared(sleeper: subprocess.Popen[bytes]) -> None:
    state = CheckpointState(job_id="j", job_name="j", total_sheets=2)
    state.sheet(1).attempt_handle = _handle_of(sleeper).to_record()
    assert [h.pid for h in recorded_handles(state)] == [sleeper.pid]
    assert [item.pids for item in live_leftovers(state)] == [(sleeper.pid,)]
    stopped = stop_leftovers(state)
    assert [item.pids for item in stopped] == [(sleeper.pid,)]
    assert state.sheet(1).attempt_handle is None
    sleeper.wait(timeout=10)


def test_a_spawned_attempt_is_placed_at_launch_and_runs_only_once_released(
    tmp_path: Path,
) -> None:
    from tests.execute.specs import shell_spec

    executor = LocalExecutor()
    try:
        spec = shell_spec(tmp_path, f'echo "${{{ATTEMPT_VARIABLE}}}" > {tmp_path}/token')
        handle = executor.launch(spec, lambda: None)
        assert handle.pid is not None  # placed: no Placed event follows
        stat = procinfo.read_stat(handle.pid)
        assert stat is not None and stat.start_time == handle.start_time
        assert executor.wait(0.3) is None and not (tmp_path / "token").exists()
        executor.release(handle)
        finished = executor.wait(30)
        assert isinstance(finished, Finished)
        assert finished.report.outcome.succeeded
        assert (tmp_path / "token").read_text().strip() == handle.token
    finally:
        executor.close()


def test_a_placed_attempt_stopped_before_its_release_never_runs(tmp_path: Path) -> None:
    from tests.execute.specs import shell_spec

    executor = LocalExecutor()
    try:
        spec = shell_spec(tmp_path, f"touch {tmp_path}/ran")
        handle = executor.launch(spec, lambda: None)
        assert handle.pid is not None
        reports = executor.stop_all()
        assert [r.outcome.reason for r in reports] == ["interrupted"]
        assert reports[0].outcome.error == "stopped before it started"
        assert not (tmp_path / "ran").exists()
        assert not _alive(handle.pid)
    finally:
        executor.close()


def test_a_cancelled_attempt_that_was_let_go_runs_no_more(tmp_path: Path) -> None:
    from tests.execute.specs import shell_spec

    executor = LocalExecutor()
    try:
        handle = executor.launch(shell_spec(tmp_path, "sleep 60"), lambda: None)
        assert handle.pid is not None
        executor.release(handle)
        executor.stop(handle, immediate=True)
        finished = executor.wait(30)
        assert isinstance(finished, Finished)
        assert finished.report.outcome.reason == "cancelled"
    finally:
        executor.close()
