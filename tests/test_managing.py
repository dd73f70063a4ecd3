"""`mzt.managing` against real runs: pause, cancel, clear and doctor from another process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mzt import managing, paths, registry
from mzt.errors import MztError, UsageError
from mzt.jobs import read_job
from mzt.state import JobStatus, JsonStateBackend
from tests.e2e.conftest import Project, alive, wait_for
from tests.state.lock_child import lock_held_elsewhere

SECRET = "sk-ant-api03-" + "Zx9" * 30


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    """A project whose MZT_HOME this (in-process) test shares with the runs it starts."""
    home = tmp_path / "home"
    home.mkdir()
    root = tmp_path / "proj"
    root.mkdir()
    monkeypatch.setenv("MZT_HOME", str(home))
    monkeypatch.chdir(root)
    return Project(root, home)


def score(
    project: Project, name: str = "job", n: int = 10, template: str = "", **extra: Any
) -> Path:
    """A score of ``n`` shell sheets; each writes out-<name>-<N>.txt after its template."""
    body = template or "sleep 0.2"
    return project.score(
        {
            "name": name,
            "instrument": "cli",
            "sheet": {"size": 1, "total_items": n},
            "prompt": {
                "template": f"{body}; echo ok > {{{{ workspace }}}}/out-{name}-{{{{ sheet_num }}}}.txt"
            },
            **extra,
        },
        name=f"{name}.yaml",
    )


def outputs(project: Project, name: str = "job") -> list[Path]:
    return sorted(project.workspace.glob(f"out-{name}-*.txt"))


def finish(project: Project, path: Path) -> subprocess.CompletedProcess[str]:
    return project.mzt("run", path, timeout=60)


def running(
    project: Project, path: Path, name: str = "job", *, first_sheet: bool = True
) -> subprocess.Popen[str]:
    """Start a run; return once its first sheet has finished (or, without ``first_sheet``,
    once its checkpoint says it runs)."""
    proc = project.start("run", path)
    state = paths.state_file(project.workspace, name)

    def ready() -> bool:
        if proc.poll() is not None:
            return True
        if first_sheet:
            return len(outputs(project, name)) >= 1
        return state.exists() and read_job(name).alive is True

    wait_for(ready)
    assert proc.poll() is None, proc.communicate()
    return proc


def exit_code(proc: subprocess.Popen[str], timeout: float) -> int:
    """Wait for the run to exit (reading its pipes to the end) and return its exit code."""
    proc.communicate(timeout=timeout)
    return proc.returncode


def stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.kill()
    if proc.stdout is not None and not proc.stdout.closed:
        proc.communicate(timeout=10)


def on_disk(project: Project, job: str = "job") -> dict[str, Any]:
    state = JsonStateBackend(project.workspace).load(job)
    assert state is not None
    return state.model_dump(mode="json")


# --- pause ----------------------------------------------------------------------------------


def test_pause_and_wait_returns_once_the_run_has_exited_paused(project: Project) -> None:
    proc = running(project, score(project))
    try:
        view = read_job("job")
        started = time.monotonic()
        final = managing.pause_and_wait(view, timeout=30, poll=0.05)
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
        managing.request_pause(read_job("job"))
    assert caught.value.exit_code == 2
    assert "not running" in caught.value.message and "completed" in caught.value.message
    assert not paths.pause_file(project.workspace, "job").exists()


def test_wait_times_out_with_exit_1_and_leaves_the_request(project: Project) -> None:
    proc = running(project, score(project, n=2, template="sleep 1"), first_sheet=False)
    try:
        view = read_job("job")
        with pytest.raises(managing.WaitTimeoutError) as caught:
            managing.pause_and_wait(view, timeout=0.3, poll=0.05)
        assert caught.value.exit_code == 1
        assert paths.pause_file(project.workspace, "job").is_file()
        assert exit_code(proc, 15) == 3  # the run still honours it
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
        with pytest.raises(managing.SignalFileError) as caught:
            managing.request_pause(read_job("job"))
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
        first = managing.request_pause(view)
        assert managing.request_pause(view) == first
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
        outcome = managing.cancel_and_wait(read_job("job"), timeout=30, poll=0.05)
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
    outcome = managing.request_cancel(read_job("job"))
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
        outcome = managing.request_cancel(view)
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
        managing.request_cancel(read_job("job"))
    assert caught.value.exit_code == 2 and "completed" in caught.value.message
    assert on_disk(project)["status"] == "completed"

    failing = score(project, name="bad", n=1, template="exit 1", retry={"max_retries": 1})
    assert finish(project, failing).returncode == 1
    first = managing.request_cancel(read_job("bad"))
    assert first.action == "cancelled" and first.previous_status == JobStatus.FAILED
    again = managing.request_cancel(read_job("bad"))
    assert again.action == "already_cancelled"


# --- clear ----------------------------------------------------------------------------------


def job_files(project: Project, job: str) -> list[Path]:
    ws = project.workspace
    return [paths.state_file(ws, job), paths.history_file(ws, job), paths.logs_dir(ws, job)]


def test_clear_removes_terminal_jobs_and_never_a_running_one(project: Project) -> None:
    assert finish(project, score(project, name="done", n=1, template="true")).returncode == 0
    failing = score(project, name="bad", n=1, template="exit 1", retry={"max_retries": 1})
    assert finish(project, failing).returncode == 1
    live = score(project, name="live", n=3, template="sleep 2")
    proc = running(project, live, name="live", first_sheet=False)
    try:
        assert all(p.exists() for p in job_files(project, "done") + job_files(project, "bad"))
        preview = managing.clear_jobs(dry_run=True)
        assert sorted(j.job_id for j in preview.removed) == ["bad", "done"]
        assert all(p.exists() for p in job_files(project, "done"))  # a preview changes nothing

        only_failed = managing.clear_jobs(statuses=["failed"])
        assert [j.job_id for j in only_failed.removed] == ["bad"]
        assert not any(p.exists() for p in job_files(project, "bad"))
        assert not paths.lock_file(project.workspace, "bad").exists()
        assert paths.state_file(project.workspace, "done").exists()

        report = managing.clear_jobs()
        assert [j.job_id for j in report.removed] == ["done"]
        assert [(j.job_id, j.status) for j in report.skipped] == [("live", "running")]
        assert all(p.exists() for p in job_files(project, "live"))
        assert {r.job_id for r in registry.read_records()} == {"live"}
        assert proc.poll() is None
        managing.request_cancel(read_job("live"))
        assert exit_code(proc, 15) == 4
    finally:
        stop(proc)


def test_a_held_lock_protects_a_job_whose_checkpoint_looks_finished(project: Project) -> None:
    # A new run of a completed job holds the lock before its checkpoint says running.
    path = score(project, n=1, template="true")
    assert finish(project, path).returncode == 0
    lock = paths.lock_file(project.workspace, "job")
    with lock_held_elsewhere(lock):
        report = managing.clear_jobs()
        assert report.removed == [] and [j.status for j in report.skipped] == ["running"]
        assert paths.state_file(project.workspace, "job").exists() and lock.exists()
        # cancel sees a run, so it leaves a request for it instead of writing the state.
        outcome = managing.request_cancel(read_job("job"))
        assert outcome.action == "requested"
        assert paths.cancel_file(project.workspace, "job").is_file()
        assert on_disk(project)["status"] == "completed"
    assert [j.job_id for j in managing.clear_jobs().removed] == ["job"]
    assert not lock.exists() and not paths.cancel_file(project.workspace, "job").exists()


def test_clear_selects_by_age_and_job(project: Project) -> None:
    assert finish(project, score(project, name="a", n=1, template="true")).returncode == 0
    assert finish(project, score(project, name="b", n=1, template="true")).returncode == 0
    week = managing.parse_duration("7d")
    assert managing.clear_jobs(older_than=week).empty
    later = datetime.now(UTC) + timedelta(days=8)
    preview = managing.clear_jobs(older_than=week, now=later, dry_run=True)
    assert sorted(j.job_id for j in preview.removed) == ["a", "b"]
    report = managing.clear_jobs(job="b", older_than=week, now=later)
    assert [j.job_id for j in report.removed] == ["b"]
    assert paths.state_file(project.workspace, "a").exists()
    assert not paths.state_file(project.workspace, "b").exists()


def test_clear_prunes_dead_registry_records_and_skips_corrupt_state(project: Project) -> None:
    gone = project.root / "gone"
    registry.register("ghost", gone)  # its workspace never existed
    project.workspace.mkdir()
    registry.register("lost", project.workspace)  # the workspace is there, its state is not
    corrupt = paths.state_file(project.workspace, "broken")
    corrupt.parent.mkdir(parents=True, exist_ok=True)
    corrupt.write_bytes(b'{"job_id": "broken", "status": ')
    registry.register("broken", project.workspace)

    preview = managing.clear_jobs(dry_run=True)
    assert sorted(r.job_id for r in preview.pruned) == ["ghost", "lost"]
    assert len(registry.read_records()) == 3

    report = managing.clear_jobs()
    assert sorted(r.job_id for r in report.pruned) == ["ghost", "lost"]
    assert [r.job_id for r in registry.read_records()] == ["broken"]
    assert [(j.job_id, j.status) for j in report.skipped] == [("broken", "unreadable")]
    assert corrupt.read_bytes() == b'{"job_id": "broken", "status": '


def test_clear_refuses_non_terminal_statuses() -> None:
    with pytest.raises(UsageError):
        managing.clear_jobs(statuses=["paused"])


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("15m", 900),
        ("12h", 43200),
        ("7d", 604800),
        ("2w", 1209600),
        ("1d12h", 129600),
        ("90", 90),
        (" 1.5h ", 5400),
        ("0s", 0),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert managing.parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["", "d", "7x", "-1d", "7 d", "1d-2h", "seven days", "1e3s"])
def test_parse_duration_rejects_bad_text(text: str) -> None:
    with pytest.raises(UsageError) as caught:
        managing.parse_duration(text)
    assert caught.value.exit_code == 2


# --- doctor ---------------------------------------------------------------------------------


def test_doctor_reports_instruments_by_name_and_never_a_secret(
    project: Project, tmp_path: Path
) -> None:
    project.fake_profile("here-agent")
    project.fake_profile("missing-agent", executable="no-such-agent-binary-xyz")
    environ = {**os.environ, "ANTHROPIC_API_KEY": SECRET}
    report = managing.doctor(cwd=tmp_path, environ=environ)
    document = json.dumps(report.to_json())
    assert SECRET not in document and "Zx9Zx9" not in document
    by_name = {c.name: c for c in report.checks if c.area == "instrument"}
    assert by_name["here-agent"].details["binary_found"] is True
    assert by_name["here-agent"].verdict == "ok"
    assert by_name["missing-agent"].details["binary_found"] is False
    assert by_name["missing-agent"].verdict == "warning"
    api = by_name["anthropic_api"].details
    assert api["binary_found"] is None
    assert {"name": "ANTHROPIC_API_KEY", "set": True, "role": "auth"} in api["auth_env"]
    names = {v["name"] for v in by_name["claude-code"].details["auth_env"]}
    assert "ANTHROPIC_API_KEY" in names
    areas = {c.area for c in report.checks}
    assert {"python", "mzt", "package", "mzt_home", "instrument", "inotify", "flock"} <= areas
    assert {c.name for c in report.checks if c.area == "package"} == set(managing.PACKAGES)
    flock = next(c for c in report.checks if c.area == "flock")
    assert flock.details["supported"] is True and flock.verdict in ("ok", "warning")
    assert not list(tmp_path.glob(".mzt-doctor-*"))  # the probe file is gone


def test_doctor_judges_mzt_home(project: Project, tmp_path: Path) -> None:
    def home_check(home: Path) -> managing.Check:
        report = managing.doctor(cwd=tmp_path, home=home)
        return next(c for c in report.checks if c.area == "mzt_home")

    home = tmp_path / "h"
    assert home_check(home).verdict == "ok"  # not there yet: runs create it
    home.mkdir(mode=0o700)
    home.chmod(0o700)
    assert home_check(home).verdict == "ok"
    home.chmod(0o755)
    check = home_check(home)
    assert check.verdict == "warning" and "0755" in check.message
    afile = tmp_path / "not-a-folder"
    afile.write_text("")
    bad = managing.doctor(cwd=tmp_path, home=afile)
    assert bad.verdict == "problem"


def test_errors_carry_their_exit_codes() -> None:
    assert managing.WaitTimeoutError("x").exit_code == 1
    assert managing.SignalFileError("x").exit_code == 2
    assert isinstance(managing.DeclinedError("x"), MztError)
    assert managing.DeclinedError("x").exit_code == 1
