"""`mzt.views.steering` against real runs: pause and cancel from another process."""

from __future__ import annotations

import os
import signal
import time

import pytest

from mzt.state import JobStatus, JsonStateBackend
from mzt.support import paths
from mzt.support.errors import ForeignHostError, MztError, UsageError
from mzt.views import clearing, steering
from mzt.views.lookup import read_job
from tests import live_runs
from tests.e2e.conftest import Project, alive, wait_for
from tests.e2e.other_host import OLD_HOST, leave_running
from tests.live_runs import exit_code, finish, on_disk, outputs, running, score, stop

project = live_runs.project  # a project whose MZT_HOME this process shares with its runs


# --- pause ----------------------------------------------------------------------------------


def test_pause_and_wait_returns_once_the_run_has_exited_paused(project: Project) -> None:
    proc = running(project, score(project))
    try:
        view = read_job("job")
        started = time.monotonic()
        final = steering.pause_and_wait(view, timeout=30, poll=0.05)
        assert time.monotonic() - started < 5
        assert final.status == JobStatus.PAUSED and final.alive is False
        # The lock is released as the run exits: it is gone (or going) with code 3.
        assert exit_code(proc, 5) == 3
    finally:
        stop(proc)
    assert 1 <= len(outputs(project)) < 10
    assert not paths.pause_file(project.workspace, "job").exists()  # the run consumed it


def test_pause_refuses_a_job_that_is_not_running(project: Project) -> None:
    path = score(project, n=1, template="true")
    assert finish(project, path).returncode == 0
    with pytest.raises(UsageError) as caught:
        steering.request_pause(read_job("job"))
    assert caught.value.exit_code == 2
    assert "not running" in caught.value.message and "completed" in caught.value.message
    assert not paths.pause_file(project.workspace, "job").exists()


def test_wait_times_out_with_exit_1_and_leaves_the_request(project: Project) -> None:
    # The first sheet holds until the gate file appears, so however slow the machine the
    # pause cannot be honoured before the wait gives up.
    gate, started = project.workspace / "gate", project.workspace / "started"
    hold = f"touch {started}; while [ ! -e {gate} ]; do sleep 0.05; done"
    proc = running(project, score(project, n=2, template=hold), first_sheet=False)
    try:
        wait_for(started.exists)  # a pause asked before the sheet starts is honoured at once
        view = read_job("job")
        with pytest.raises(steering.WaitTimeoutError) as caught:
            steering.pause_and_wait(view, timeout=0.3, poll=0.05)
        assert caught.value.exit_code == 1
        assert paths.pause_file(project.workspace, "job").is_file()
        gate.touch()
        assert exit_code(proc, 30) == 3  # the run still honours it
    finally:
        stop(proc)


@pytest.mark.parametrize("dangling", [False, True])
def test_a_symlink_at_the_pause_path_is_never_followed(project: Project, dangling: bool) -> None:
    target = project.root / "precious.txt"
    if not dangling:
        target.write_text("do not touch\n")
        target.chmod(0o644)
    before = (target.read_bytes(), target.stat().st_mode) if not dangling else None
    proc = running(project, score(project, n=4, template="sleep 0.2"))
    try:
        link = paths.pause_file(project.workspace, "job")
        link.symlink_to(target)
        with pytest.raises(steering.SignalFileError) as caught:
            steering.request_pause(read_job("job"))
        assert caught.value.exit_code == 2 and "symbolic link" in caught.value.message
        if dangling:
            assert not target.exists()
        else:
            assert (target.read_bytes(), target.stat().st_mode) == before
        assert link.is_symlink()
        # The run does not take the symlink as a pause request either: it carries on.
        assert exit_code(proc, 30) == 0
    finally:
        stop(proc)


def test_pause_is_idempotent_and_the_file_is_private(project: Project) -> None:
    proc = running(project, score(project, n=3, template="sleep 0.5"))
    try:
        view = read_job("job")
        first = steering.request_pause(view)
        assert steering.request_pause(view) == first
        assert first.stat().st_mode & 0o777 == 0o600 and not first.is_symlink()
        assert exit_code(proc, 15) == 3
    finally:
        stop(proc)


# --- cancel ---------------------------------------------------------------------------------


def test_cancel_of_a_running_job_kills_the_grandchild_and_the_run_exits_4(
    project: Project,
) -> None:
    pidfile = project.root / "grandchild.pid"
    path = score(project, n=2, template=f"sleep 300 & echo $! > {pidfile}; wait")
    proc = project.start("run", path)
    wait_for(lambda: pidfile.exists() and pidfile.read_text().strip() != "")
    grandchild = int(pidfile.read_text())
    try:
        outcome = steering.cancel_and_wait(read_job("job"), timeout=30, poll=0.05)
        assert outcome.action == "cancelled" and outcome.status == JobStatus.CANCELLED
        assert outcome.previous_status == JobStatus.RUNNING
        assert exit_code(proc, 5) == 4
        wait_for(lambda: not alive(grandchild), timeout=5)
        assert not alive(proc.pid)
        assert on_disk(project)["status"] == "cancelled"
        assert not paths.cancel_file(project.workspace, "job").exists()
    finally:
        stop(proc)
        if alive(grandchild):
            os.kill(grandchild, signal.SIGKILL)


def test_cancel_of_a_paused_job_marks_it_cancelled_without_a_run(project: Project) -> None:
    path = score(project, n=5)
    proc = running(project, path)
    try:
        paths.pause_file(project.workspace, "job").touch()
        assert exit_code(proc, 30) == 3
    finally:
        stop(proc)
    done = outputs(project)
    stale = paths.pause_file(project.workspace, "job")
    stale.touch()  # a request nobody will act on
    outcome = steering.request_cancel(read_job("job"))
    assert outcome.action == "cancelled" and outcome.previous_status == JobStatus.PAUSED
    state = on_disk(project)
    assert state["status"] == "cancelled" and state["pid"] is None
    statuses = {s["status"] for s in state["sheets"].values()}
    assert statuses == {"completed", "cancelled"}
    assert "mzt cancel" in state["error_message"]
    events = JsonStateBackend(project.workspace).read_history("job", kinds=("event",))
    assert events[-1]["event"] == "cancelled"
    assert not stale.exists()
    time.sleep(0.3)
    assert outputs(project) == done  # nothing ran
    # The lock is free again: the job resumes normally.
    assert project.mzt("resume", path).returncode == 0
    assert len(outputs(project)) == 5


def test_cancel_of_a_dead_job_marks_it_cancelled(project: Project) -> None:
    pidfile = project.root / "child.pid"
    path = score(project, n=3, template=f"echo $$ > {pidfile}; exec sleep 300")
    proc = project.start("run", path)
    wait_for(lambda: pidfile.exists() and pidfile.read_text().strip() != "")
    child = int(pidfile.read_text())
    try:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=10)
        assert project.state("job")["status"] == "running"  # what the dead run left
        view = read_job("job")
        assert view.alive is False
        outcome = steering.request_cancel(view)
        assert outcome.action == "cancelled"
        state = on_disk(project)
        assert state["status"] == "cancelled"
        assert {s["status"] for s in state["sheets"].values()} == {"cancelled"}
        assert "stale running state" in state["error_message"]
    finally:
        if alive(child):
            os.kill(child, signal.SIGKILL)


def test_cancel_of_completed_is_exit_2_and_of_cancelled_is_a_no_op(project: Project) -> None:
    path = score(project, n=1, template="true")
    assert finish(project, path).returncode == 0
    with pytest.raises(UsageError) as caught:
        steering.request_cancel(read_job("job"))
    assert caught.value.exit_code == 2 and "completed" in caught.value.message
    assert on_disk(project)["status"] == "completed"

    failing = score(project, name="bad", n=1, template="exit 1", retry={"max_retries": 1})
    assert finish(project, failing).returncode == 1
    first = steering.request_cancel(read_job("bad"))
    assert first.action == "cancelled" and first.previous_status == JobStatus.FAILED
    again = steering.request_cancel(read_job("bad"))
    assert again.action == "already_cancelled"


def test_errors_carry_their_exit_codes() -> None:
    assert steering.WaitTimeoutError("x").exit_code == 1
    assert steering.SignalFileError("x").exit_code == 2
    assert isinstance(clearing.DeclinedError("x"), MztError)
    assert clearing.DeclinedError("x").exit_code == 1


def test_cancel_of_another_hosts_job_is_refused_unless_taken_over(project: Project) -> None:
    pidfile = project.root / "child.pid"
    path = score(project, n=2, template=f"echo $$ > {pidfile}; exec sleep 300")
    run_pid = leave_running(project, path, pidfile)
    child = int(pidfile.read_text())
    try:
        before = on_disk(project)
        view = read_job("job")
        assert view.alive is None  # another host's run: nothing to probe here
        for call in (steering.request_cancel, steering.cancel_and_wait):
            with pytest.raises(ForeignHostError) as caught:
                call(view)
            assert caught.value.exit_code == 75 and f"pid {run_pid}" in caught.value.message
        assert on_disk(project) == before
        assert not paths.cancel_file(project.workspace, "job").exists()

        outcome = steering.request_cancel(view, take_over=True)
        assert outcome.action == "cancelled" and outcome.previous_status == JobStatus.RUNNING
        assert outcome.taken_over is not None and outcome.taken_over.from_host == OLD_HOST
        assert [item.note for item in outcome.stopped] == [f"ran on {OLD_HOST}; not checked here"]
        assert alive(child)  # recorded by the other host: never signalled from here
        state = on_disk(project)
        assert state["status"] == "cancelled" and state["taken_over"]["command"] == "cancel"
        assert OLD_HOST in state["error_message"]
        events = [e["event"] for e in JsonStateBackend(project.workspace).read_history("job")]
        assert events[-3:] == ["taken_over", "cancelled", "leftover_unchecked"]
    finally:
        os.kill(child, signal.SIGKILL)
