"""`mzt top` beside two real runs: JSON frames, plain lines, and a redrawn terminal screen.

Each run's sheet N waits for a gate file ``go-N`` in its workspace, so the tests decide
when a sheet finishes.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mzt.state import reading
from tests.e2e.conftest import Project, wait_for
from tests.pty_command import PtyCommand

JOBS = ("alpha", "beta")
CLEAR = "\x1b[H\x1b[2J"
GATE = "until [ -e {{ workspace }}/go-{{ sheet_num }} ]; do sleep 0.02; done"


def gated(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "workspace": f"./ws-{name}",
        "instrument": "cli",
        "sheet": {"size": 1, "total_items": 3},
        "prompt": {"template": f"{GATE}; echo sheet {{{{ sheet_num }}}}"},
    }


def running(ws: Path, job: str, num: int) -> bool:
    if not (ws / ".marianne" / f"{job}.json").exists():
        return False
    sheet = reading.read_checkpoint(reading.JobRef(job, ws)).sheets.get(num)
    return sheet is not None and sheet.status == "in_progress"


@dataclass
class Runs:
    project: Project

    def ws(self, job: str) -> Path:
        return self.project.root / f"ws-{job}"

    def release(self, job: str, num: int) -> None:
        (self.ws(job) / f"go-{num}").touch()


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    base = tmp_path_factory.mktemp("top")
    (base / "home").mkdir()
    (base / "proj").mkdir()
    project = Project(base / "proj", base / "home")
    procs = [project.start("run", project.score(gated(job), f"{job}.yaml"), "-q") for job in JOBS]
    found = Runs(project)
    try:
        wait_for(lambda: all(running(found.ws(job), job, 1) for job in JOBS), timeout=60)
        yield found
    finally:
        for job in JOBS:
            for num in (1, 2, 3):
                found.release(job, num)
        for proc in procs:
            try:
                proc.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()


def frame_of(runs: Runs) -> dict[str, Any]:
    result = runs.project.mzt("top", "--once", "-j")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    doc: dict[str, Any] = json.loads(lines[0])
    return doc


def test_once_json_shows_both_live_runs_and_their_running_sheets(runs: Runs) -> None:
    doc = frame_of(runs)
    assert doc["schema"] == "mzt.top/1"
    jobs = {job["job_id"]: job for job in doc["jobs"]}
    assert set(jobs) == set(JOBS)
    for job in jobs.values():
        assert (job["status"], job["alive"]) == ("running", True)
        assert isinstance(job["pid"], int) and job["progress"]["total"] == 3
        [sheet] = job["running"]
        assert sheet["instrument"] == "cli" and sheet["seconds"] >= 0
    assert doc["totals"]["jobs_running"] == 2 and doc["totals"]["sheets_running"] == 2
    assert doc["rate_limits"] == [] and doc["circuits"] == []


def test_once_without_a_terminal_is_plain_lines(runs: Runs) -> None:
    result = runs.project.mzt("top", "--once")
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout
    lines = result.stdout.splitlines()
    assert "2 jobs · 2 running · 2 sheets running" in lines[0]
    for job in JOBS:
        assert any(
            line.startswith(f"  {job} running ") and "running sheet" in line for line in lines
        )


class Terminal(PtyCommand):
    """A command on a 30×120 pseudo-terminal; everything it shows, as text."""

    def __init__(self, project: Project, args: list[str], env: dict[str, str]) -> None:
        super().__init__(project.root, args, env, rows=30, cols=120)

    def finish(self, timeout: float = 60) -> tuple[int, str]:
        return super().finish(timeout)


def terminal_env(project: Project, *, color: bool) -> dict[str, str]:
    env = {k: v for k, v in project.env().items() if k not in ("NO_COLOR", "COLUMNS", "LINES")}
    return {**env, "TERM": "xterm-256color", **({} if color else {"NO_COLOR": "1"})}


def test_on_a_terminal_the_screen_is_redrawn_when_a_sheet_finishes_and_ctrl_c_exits_130(
    runs: Runs,
) -> None:
    term = Terminal(
        runs.project, ["top", "--interval", "0.2"], terminal_env(runs.project, color=False)
    )
    try:
        wait_for(lambda: "alpha running 0/3" in term.text(), timeout=60)
        assert CLEAR in term.text() and "\x1b[1m" not in term.text()
        runs.release("alpha", 1)
        wait_for(lambda: "alpha running 1/3" in term.text(), timeout=60)
        screens = term.text().split(CLEAR)
        assert "alpha running 1/3" in screens[-1] and "beta running 0/3" in screens[-1]
        assert "alpha running 0/3" not in screens[-1]  # the old screen was replaced
        term.proc.send_signal(signal.SIGINT)
        code, text = term.finish()
    finally:
        with contextlib.suppress(ProcessLookupError):
            term.proc.kill()
    assert code == 130
    assert "Traceback" not in text and "interrupted" not in text


def test_colour_only_on_a_terminal_without_no_color(runs: Runs) -> None:
    coloured = Terminal(runs.project, ["top", "--once"], terminal_env(runs.project, color=True))
    code, text = coloured.finish()
    assert code == 0 and "\x1b[1m" in text
    plain = Terminal(runs.project, ["top", "--once"], terminal_env(runs.project, color=False))
    code, text = plain.finish()
    assert code == 0 and "\x1b[1m" not in text and "beta running" in text


def beta_on_sheet_2(lines: list[str]) -> bool:
    if not lines:
        return False
    jobs = {job["job_id"]: job for job in json.loads(lines[-1])["jobs"]}
    beta = jobs["beta"]
    return bool(beta["progress"]["completed"] == 1 and [r["sheet"] for r in beta["running"]] == [2])


def test_streams_a_block_or_a_json_line_per_change_and_ctrl_c_exits_130_quietly(
    runs: Runs,
) -> None:
    clock = Terminal(
        runs.project, ["top", "--interval", "0.2"], terminal_env(runs.project, color=False)
    )
    text = runs.project.start("top", "--interval", "0.2")
    as_json = runs.project.start("top", "--interval", "0.2", "--json")
    seen: dict[str, list[str]] = {"text": [], "json": []}

    def collect(proc: subprocess.Popen[str], into: list[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            into.append(line)

    readers = [
        threading.Thread(target=collect, args=(text, seen["text"]), daemon=True),
        threading.Thread(target=collect, args=(as_json, seen["json"]), daemon=True),
    ]
    for reader in readers:
        reader.start()
    try:
        wait_for(lambda: any("beta running" in line for line in seen["text"]), timeout=60)
        wait_for(lambda: bool(seen["json"]), timeout=60)
        runs.release("beta", 1)
        settled = "beta running 1/3 · running sheet 2 "  # held at its gate from now on
        wait_for(lambda: any(settled in line for line in seen["text"]), timeout=60)
        wait_for(lambda: beta_on_sheet_2(seen["json"]), timeout=60)
        # Nothing changes now: a terminal redraws every 0.2 s, the streams stay quiet.
        wait_for(lambda: settled in clock.text(), timeout=60)
        before = (len(seen["text"]), len(seen["json"]))
        redraws = clock.text().count(CLEAR)
        wait_for(lambda: clock.text().count(CLEAR) >= redraws + 5, timeout=60)
        assert (len(seen["text"]), len(seen["json"])) == before
        for proc in (text, as_json):
            proc.send_signal(signal.SIGINT)
        results = [proc.communicate(timeout=60) for proc in (text, as_json)]
    finally:
        for proc in (text, as_json):
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        clock.proc.send_signal(signal.SIGINT)
        clock_code = clock.finish()[0]
    for reader in readers:
        reader.join(timeout=10)
    assert (text.returncode, as_json.returncode, clock_code) == (130, 130, 130)
    assert all(err == "" for _out, err in results)
    # One block per change, each starting with its stamped summary line, never a tick.
    headers = [line for line in seen["text"] if not line.startswith("  ")]
    assert 2 <= len(headers) <= 8
    docs = [json.loads(line) for line in seen["json"]]
    assert all(doc["schema"] == "mzt.top/1" for doc in docs)
    assert 2 <= len(docs) <= 8


def test_a_sheet_held_by_a_shared_rate_limit_waits_and_says_why(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from mzt.instruments import ratelimits

    project = Project(tmp_path, tmp_path / "home")
    project.home.mkdir()
    until = datetime.now(UTC) + timedelta(minutes=5)
    ratelimits.record("cli", until, "usage limit reached", "another-job", home=project.home)
    data = {
        "name": "limited",
        "instrument": "cli",
        "sheet": {"size": 1, "total_items": 2},
        "rate_limit": {"max_waits": 5},
        "prompt": {"template": "true"},
    }
    run = project.start("run", project.score(data), "-q")
    try:

        def waiting() -> list[dict[str, Any]]:
            jobs = frame_of(Runs(project))["jobs"]
            return [w for job in jobs for w in job["waiting"]] if jobs else []

        wait_for(lambda: bool(waiting()), timeout=60)
        doc = frame_of(Runs(project))
    finally:
        run.send_signal(signal.SIGTERM)
        try:
            run.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            run.kill()
            run.communicate()
    [job] = doc["jobs"]
    assert (job["job_id"], job["status"], job["alive"], job["running"]) == (
        "limited",
        "running",
        True,
        [],
    )
    [wait] = job["waiting"]
    assert (wait["sheet"], wait["reason"]) == (1, "rate_limited")
    assert 200 < wait["seconds_left"] <= 300
    [limit] = doc["rate_limits"]
    assert (limit["instrument"], limit["set_by_job"]) == ("cli", "another-job")
    assert doc["totals"]["sheets_waiting"] == 1 and doc["totals"]["sheets_running"] == 0
