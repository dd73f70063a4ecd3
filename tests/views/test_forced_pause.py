"""`pause --force` signals only the process that really holds the job's run lock."""

from __future__ import annotations

import subprocess

import msgspec
import pytest

from mzt.state import JsonStateBackend
from mzt.state.liveness import ProcessIdentity
from mzt.support import paths
from mzt.support.errors import UsageError
from mzt.views.forced_pause import force_pause
from mzt.views.lookup import JobView, read_job
from tests import live_runs
from tests.e2e.conftest import Project, alive
from tests.live_runs import running, score, stop

project = live_runs.project


def test_force_pause_stops_the_run_at_once_and_leaves_it_paused(project: Project) -> None:
    proc = running(project, score(project, n=2, template="sleep 300"), first_sheet=False)
    try:
        force_pause(read_job("job"))
        assert proc.wait(timeout=60) == 143  # SIGTERM, not the end of a 300 s sheet
    finally:
        stop(proc)
    state = JsonStateBackend(project.workspace).load("job")
    assert state is not None and state.status.value == "paused"


def test_a_reused_pid_is_never_signalled(project: Project) -> None:
    proc = running(project, score(project, n=2, template="sleep 300"), first_sheet=False)
    bystander = subprocess.Popen(["sleep", "60"])
    try:
        view = read_job("job")
        holder = view.liveness.holder
        assert holder is not None
        # The lock says the run is this pid, but the process there started at another time:
        # the pid was reused, and the bystander must be left alone.
        wrong = ProcessIdentity(bystander.pid, 1.0, holder.host, holder.boot_id)
        liveness = msgspec.structs.replace(view.liveness, holder=wrong)
        with pytest.raises(UsageError, match="was not signalled"):
            force_pause(JobView(view.location, view.state, liveness))
        assert alive(bystander.pid) and proc.poll() is None
        # The plain pause stays requested: the run honours it at its next boundary.
        assert paths.pause_file(project.workspace, "job").exists()
    finally:
        bystander.kill()
        bystander.wait()
        # Cancelled, not killed: a killed run would leave its attempt's sleep behind.
        paths.cancel_file(project.workspace, "job").touch()
        proc.communicate(timeout=60)
        stop(proc)
