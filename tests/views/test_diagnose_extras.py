"""The extra diagnose sections: log tails in order, resources of a job nobody runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from mzt.views.diagnose_extras import log_tails, resources
from mzt.views.logs import log_files
from mzt.views.lookup import read_job
from tests import live_runs
from tests.e2e.conftest import Project
from tests.live_runs import finish, score

project = live_runs.project


def test_tails_come_per_sheet_and_attempt_and_disk_is_read_where_home_will_be(
    project: Project, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    template = "seq 1 80; echo tail-{{ sheet_num }}"
    assert finish(project, score(project, n=2, template=template)).returncode == 0
    view = read_job("job")
    tails = log_tails(log_files(view.workspace, "job"))
    assert [(t["sheet_num"], t["stream"]) for t in tails if t["size"]] == [
        (1, "stdout"),
        (2, "stdout"),
    ]
    first = next(t for t in tails if t["sheet_num"] == 1 and t["stream"] == "stdout")
    lines = first["tail"].splitlines()
    assert len(lines) == 50 and lines[-1] == "tail-1"
    monkeypatch.setenv("MZT_HOME", str(tmp_path / "not" / "made" / "yet"))
    found = resources(view)
    assert found["process"] is None
    assert found["home_disk"]["path"] == str(tmp_path)
    assert found["logs_bytes"] >= sum(t["size"] for t in tails) > 0
