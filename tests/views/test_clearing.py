"""`mzt.views.clearing` against real runs: removing finished jobs, durations, pruning the registry."""

from __future__ import annotations

import os
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mzt.state import registry
from mzt.support import paths
from mzt.support.errors import UsageError
from mzt.views import clearing, steering
from mzt.views.lookup import read_job
from tests import live_runs
from tests.e2e.conftest import Project, alive
from tests.e2e.other_host import OLD_HOST, leave_running
from tests.live_runs import exit_code, finish, on_disk, running, score, stop
from tests.state.lock_child import lock_held_elsewhere

project = live_runs.project  # a project whose MZT_HOME this process shares with its runs


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
        preview = clearing.clear_jobs(dry_run=True)
        assert sorted(j.job_id for j in preview.removed) == ["bad", "done"]
        assert all(p.exists() for p in job_files(project, "done"))  # a preview changes nothing

        only_failed = clearing.clear_jobs(statuses=["failed"])
        assert [j.job_id for j in only_failed.removed] == ["bad"]
        assert not any(p.exists() for p in job_files(project, "bad"))
        assert not paths.lock_file(project.workspace, "bad").exists()
        assert paths.state_file(project.workspace, "done").exists()

        report = clearing.clear_jobs()
        assert [j.job_id for j in report.removed] == ["done"]
        assert [(j.job_id, j.status) for j in report.skipped] == [("live", "running")]
        assert all(p.exists() for p in job_files(project, "live"))
        assert {r.job_id for r in registry.read_records()} == {"live"}
        assert proc.poll() is None
        steering.request_cancel(read_job("live"))
        assert exit_code(proc, 15) == 4
    finally:
        stop(proc)


def test_a_held_lock_protects_a_job_whose_checkpoint_looks_finished(project: Project) -> None:
    # A new run of a completed job holds the lock before its checkpoint says running.
    path = score(project, n=1, template="true")
    assert finish(project, path).returncode == 0
    lock = paths.lock_file(project.workspace, "job")
    with lock_held_elsewhere(lock):
        report = clearing.clear_jobs()
        assert report.removed == [] and [j.status for j in report.skipped] == ["running"]
        assert paths.state_file(project.workspace, "job").exists() and lock.exists()
        # cancel sees a run, so it leaves a request for it instead of writing the state.
        outcome = steering.request_cancel(read_job("job"))
        assert outcome.action == "requested"
        assert paths.cancel_file(project.workspace, "job").is_file()
        assert on_disk(project)["status"] == "completed"
    assert [j.job_id for j in clearing.clear_jobs().removed] == ["job"]
    assert not lock.exists() and not paths.cancel_file(project.workspace, "job").exists()


def test_clear_selects_by_age_and_job(project: Project) -> None:
    assert finish(project, score(project, name="a", n=1, template="true")).returncode == 0
    assert finish(project, score(project, name="b", n=1, template="true")).returncode == 0
    week = clearing.parse_duration("7d")
    assert clearing.clear_jobs(older_than=week).empty
    later = datetime.now(UTC) + timedelta(days=8)
    preview = clearing.clear_jobs(older_than=week, now=later, dry_run=True)
    assert sorted(j.job_id for j in preview.removed) == ["a", "b"]
    report = clearing.clear_jobs(job="b", older_than=week, now=later)
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

    preview = clearing.clear_jobs(dry_run=True)
    assert sorted(r.job_id for r in preview.pruned) == ["ghost", "lost"]
    assert len(registry.read_records()) == 3

    report = clearing.clear_jobs()
    assert sorted(r.job_id for r in report.pruned) == ["ghost", "lost"]
    assert [r.job_id for r in registry.read_records()] == ["broken"]
    assert [(j.job_id, j.status) for j in report.skipped] == [("broken", "unreadable")]
    assert corrupt.read_bytes() == b'{"job_id": "broken", "status": '


def test_clear_keeps_the_record_of_a_run_that_is_starting(project: Project) -> None:
    # A run registers its job just before it writes the first checkpoint, holding the lock.
    registry.register("starting", project.workspace)
    with lock_held_elsewhere(paths.lock_file(project.workspace, "starting")):
        report = clearing.clear_jobs()
    assert report.pruned == [] and [r.job_id for r in registry.read_records()] == ["starting"]
    assert [r.job_id for r in clearing.clear_jobs().pruned] == ["starting"]  # lock gone: dead


def test_clear_refuses_non_terminal_statuses() -> None:
    with pytest.raises(UsageError):
        clearing.clear_jobs(statuses=["paused"])


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
    assert clearing.parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["", "d", "7x", "-1d", "7 d", "1d-2h", "seven days", "1e3s"])
def test_parse_duration_rejects_bad_text(text: str) -> None:
    with pytest.raises(UsageError) as caught:
        clearing.parse_duration(text)
    assert caught.value.exit_code == 2


def test_another_hosts_job_is_cleared_only_when_taken_over(project: Project) -> None:
    pidfile = project.root / "child.pid"
    path = score(project, n=2, template=f"echo $$ > {pidfile}; exec sleep 300")
    leave_running(project, path, pidfile)
    child = int(pidfile.read_text())
    try:
        sweep = clearing.clear_jobs()
        assert sweep.removed == [] and [j.status for j in sweep.skipped] == ["running"]
        skipped = sweep.skipped[0]
        assert skipped.refusal is not None and skipped.refusal.exit_code == 75
        assert "`mzt clear --job job --take-over`" in skipped.reason
        assert OLD_HOST in skipped.reason
        with pytest.raises(UsageError, match="--job"):
            clearing.clear_jobs(take_over=True)
        assert all(p.exists() for p in job_files(project, "job"))

        preview = clearing.clear_jobs(job="job", take_over=True, dry_run=True)
        assert [(j.job_id, j.taken_over_from) for j in preview.removed] == [("job", OLD_HOST)]
        assert all(p.exists() for p in job_files(project, "job"))
        report = clearing.clear_jobs(job="job", take_over=True)
        assert [j.job_id for j in report.removed] == ["job"]
        assert [item.note for _, item in report.stopped] == [f"ran on {OLD_HOST}; not checked here"]
        assert not any(p.exists() for p in job_files(project, "job"))
        assert alive(child)  # recorded by the other host: never signalled from here
    finally:
        os.kill(child, signal.SIGKILL)
