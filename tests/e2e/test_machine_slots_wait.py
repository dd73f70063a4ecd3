"""Runs that wait for machine slots: for a job slot (or refuse at once with --no-queue),
and a cancel that comes while a run's sheets wait.

Each test has its own MZT_HOME (the ``project`` fixture), so its slots are its own.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from mzt.machine import slots
from tests.e2e.conftest import Project, wait_for
from tests.e2e.slot_log import in_queue, job_score, started


def _blocked_until(gate: Path) -> str:
    # The agent waits for a file the test makes (polling is the agent's business here).
    return f"while [ ! -e {gate} ]; do sleep 0.05; done"


def _tree(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        str(path.relative_to(folder)): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in sorted(folder.rglob("*"))
    }


def _stop(*procs: subprocess.Popen[str] | None) -> None:
    for proc in procs:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=30)


@pytest.mark.timeout(120)
def test_a_second_job_waits_for_the_only_job_slot_and_no_queue_refuses_it(
    project: Project,
) -> None:
    (project.home / "config.yaml").write_text("max_concurrent_jobs: 1\n")
    log, gate = project.root / "log", project.root / "go"
    first = project.start("run", job_score(project, "first", 1, log, _blocked_until(gate)))
    second: subprocess.Popen[str] | None = None
    try:
        wait_for(lambda: len(started(log, "first")) == 1, 60)
        second = project.start("run", job_score(project, "second", 1, log, "true"))
        wait_for(lambda: in_queue(project, "jobs", "second"), 60)

        third = job_score(project, "third", 1, log, "true")
        workspace = project.root / "ws-third"
        workspace.mkdir()
        (workspace / "notes.txt").write_text("mine\n")
        before = _tree(workspace)
        began = time.monotonic()
        refused = project.mzt("run", "--no-queue", third, timeout=60)
        took = time.monotonic() - began
        assert refused.returncode == 75, refused.stdout + refused.stderr
        assert "max_concurrent_jobs" in refused.stderr + refused.stdout
        assert took < 20, f"--no-queue took {took:.1f} s to refuse"
        after = _tree(workspace)
        assert {name: after[name] for name in before} == before
        # No checkpoint, history or log: only the job's lock, taken before the job slot
        # (see the expected failure below).
        assert set(after) - set(before) <= {".marianne", ".marianne/third.lock"}, after
        assert not started(log, "third")

        assert not started(log, "second")  # still waiting while the first job runs
        gate.touch()
        out, err = first.communicate(timeout=60)
        assert first.returncode == 0, out + err
        out, err = second.communicate(timeout=60)
        assert second.returncode == 0, out + err
        assert "waiting for a job slot: 1/1 held by job first" in out + err
        (ran_first,), (ran_second,) = started(log, "first"), started(log, "second")
        assert ran_first.end is not None and ran_second.start > ran_first.end
    finally:
        gate.touch()
        _stop(first, second)


@pytest.mark.timeout(120)
def test_a_cancel_while_sheets_wait_for_slots_stops_the_run_without_spending_attempts(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MZT_MAX_CONCURRENT_SHEETS", "1")
    log, gate = project.root / "log", project.root / "go"
    holder = project.start("run", job_score(project, "holder", 1, log, _blocked_until(gate)))
    waiter: subprocess.Popen[str] | None = None
    try:
        wait_for(lambda: len(started(log, "holder")) == 1, 60)
        waiter = project.start("run", job_score(project, "waiter", 3, log, "true"))
        wait_for(lambda: in_queue(project, "sheets", "waiter"), 60)

        began = time.monotonic()
        cancel = project.mzt("cancel", "waiter")
        assert cancel.returncode == 0, cancel.stdout + cancel.stderr
        out, err = waiter.communicate(timeout=60)
        took = time.monotonic() - began
        assert waiter.returncode == 4, out + err  # the README's exit status of a cancel
        assert took < 10, f"the waiting run took {took:.1f} s to stop"
        assert not in_queue(project, "sheets", "waiter")  # it left the queue

        status = project.mzt("status", "waiter", "--json")
        assert status.returncode == 0, status.stdout + status.stderr
        document = json.loads(status.stdout)
        assert document["schema"] == "mzt.status/1"
        assert document["status"] == "cancelled"
        sheets = document["sheets"]
        assert len(sheets) == 3
        assert all(sheet["attempt_count"] == 0 for sheet in sheets.values()), sheets
        assert not started(log, "waiter")
        print(f"the waiting run stopped {took:.2f} s after the cancel")

        gate.touch()
        out, err = holder.communicate(timeout=60)
        assert holder.returncode == 0, out + err
    finally:
        gate.touch()
        _stop(holder, waiter)


@pytest.mark.timeout(60)
def test_no_queue_refused_leaves_the_workspace_as_it_was(project: Project) -> None:
    held = slots.take_all([("jobs", 1)], slots.Holder("other", "elsewhere"), home=project.home)
    assert held is not None
    try:
        (project.home / "config.yaml").write_text("max_concurrent_jobs: 1\n")
        score = job_score(project, "cron", 1, project.root / "log", "true")
        refused = project.mzt("run", "--no-queue", score, timeout=60)
        assert refused.returncode == 75, refused.stdout + refused.stderr
        assert "nothing was started or changed" in refused.stdout + refused.stderr
        assert not (project.root / "ws-cron").exists()  # the README: "without changing anything"
    finally:
        held.release()
