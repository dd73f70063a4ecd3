"""A job whose checkpoint another host marks running: refused by default, taken over on request.

The job is left behind by a real run under another host name (see ``other_host.py``),
killed with ``kill -9`` while sheet 2 runs: exactly what a container finds after a crash
that gave it a new host name. That run's attempt stays alive, recorded under the old
host name, so the tests also see that nothing here ever signals it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.conftest import Project, alive, wait_for
from tests.e2e.other_host import OLD_HOST, leave_running


def _score(project: Project) -> Path:
    ws = "{{ workspace }}"
    n = "{{ sheet_num }}"
    template = (
        f"echo run >> {ws}/runs-{n}\n"
        # A sheet hangs once when its hang file is there: the run can be killed mid-sheet.
        f"if [ -f {ws}/hang-{n} ]; then rm {ws}/hang-{n}; echo $$ > {ws}/pid-{n}; sleep 300; fi\n"
        f"echo 'sheet {n}' > {ws}/out-{n}.txt\n"
    )
    return project.score(
        {
            "name": "job",
            "instrument": "cli",
            "sheet": {"size": 1, "total_items": 3},
            "prompt": {"template": template},
            "validations": [{"type": "file_exists", "path": "{workspace}/out-{sheet_num}.txt"}],
        }
    )


@dataclass
class ForeignJob:
    score: Path
    run_pid: int  # the killed mzt run, recorded on the old host
    leftover: int  # its attempt of sheet 2, still alive, recorded on the old host


def _runs(project: Project, sheet: int) -> int:
    path = project.workspace / f"runs-{sheet}"
    return len(path.read_text().split()) if path.exists() else 0


@pytest.fixture
def foreign(project: Project) -> Iterator[ForeignJob]:
    score = _score(project)
    project.workspace.mkdir()
    (project.workspace / "hang-2").touch()
    pidfile = project.workspace / "pid-2"
    run_pid = leave_running(project, score, pidfile)
    leftover = int(pidfile.read_text())
    pidfile.unlink()
    state = project.state("job")
    assert state["status"] == "running" and state["writer"]["host"] == OLD_HOST
    assert socket.gethostname() != OLD_HOST
    try:
        yield ForeignJob(score, run_pid, leftover)
    finally:
        with contextlib.suppress(OSError):
            os.killpg(os.getpgid(leftover), signal.SIGKILL)


def _refusals(job: ForeignJob) -> list[list[str]]:
    return [
        ["run", str(job.score)],
        ["run", "--fresh", str(job.score)],
        ["resume", "job"],
        ["resume", "--force", "job"],
        ["cancel", "job"],
        ["cancel", "--wait", "job"],
        ["clear", "--job", "job", "-y"],
        ["recover", "job"],
        ["modify", "job", "-c", str(job.score), "--resume"],
    ]


def test_every_command_refuses_by_default_and_changes_nothing(
    project: Project, foreign: ForeignJob
) -> None:
    before = (project.workspace / ".marianne" / "job.json").read_bytes()
    for args in _refusals(foreign):
        result = project.mzt(*args)
        assert result.returncode == 75, (args, result.stdout, result.stderr)
        text = result.stderr
        assert "Traceback" not in text
        assert OLD_HOST in text and f"pid {foreign.run_pid}" in text, (args, text)
        assert "last wrote" in text, text
        assert "mzt " + " ".join(args) + " --take-over" in text, (args, text)
        as_json = project.mzt(*args, "--json")
        assert as_json.returncode == 75, (args, as_json.stderr)
        doc = json.loads(as_json.stdout)
        assert doc["schema"] == "mzt.error/1" and doc["error"]["code"] == "FOREIGN_HOST"
        assert "--take-over" in doc["error"]["hint"]
    assert (project.workspace / ".marianne" / "job.json").read_bytes() == before
    assert not (project.workspace / ".marianne-cancel-job").exists()
    assert alive(foreign.leftover)
    status = json.loads(project.mzt("status", "job", "--json").stdout)
    assert status["liveness"]["verdict"] == "foreign" and status["taken_over"] is None
    assert any("--take-over" in step["command"] for step in status["next_steps"])
    diagnosis = json.loads(project.mzt("diagnose", "job", "--json").stdout)
    assert any("--take-over" in note for note in diagnosis["findings"])


def _taken_over(project: Project, command: str) -> None:
    """The take-over is on record: checkpoint, history, status and diagnose."""
    status = json.loads(project.mzt("status", "job", "--json").stdout)
    record = status["taken_over"]
    assert record["from_host"] == OLD_HOST and record["by_host"] == socket.gethostname()
    assert record["command"] == command and record["last_written_at"]
    history = (project.workspace / ".marianne" / "job.history.jsonl").read_text()
    events = [json.loads(line) for line in history.splitlines()]
    assert [e for e in events if e.get("event") == "taken_over"][-1]["from_host"] == OLD_HOST
    text = project.mzt("status", "job").stdout
    assert "taken over  from pid" in text or "taken over" in text, text
    assert OLD_HOST in text
    diagnosis = json.loads(project.mzt("diagnose", "job", "--json").stdout)
    assert diagnosis["taken_over"]["from_host"] == OLD_HOST
    assert any(OLD_HOST in note and "aken over" in note for note in diagnosis["findings"])
    assert any(t["event"] == "taken_over" for t in diagnosis["timeline"])


@pytest.mark.parametrize(
    "args",
    [["resume", "job"], ["resume", "--force", "job"], ["run", "{score}"]],
    ids=["resume", "resume-force", "run"],
)
def test_take_over_continues_like_a_dead_local_run(
    project: Project, foreign: ForeignJob, args: list[str]
) -> None:
    argv = [a.replace("{score}", str(foreign.score)) for a in args]
    result = project.mzt(*argv, "--take-over")
    assert result.returncode == 0, result.stderr
    assert f"taken over from {OLD_HOST}" in result.stdout, result.stdout
    # The attempt recorded by the old host is never signalled from here.
    assert "left alone" in result.stdout and alive(foreign.leftover), result.stdout
    assert [_runs(project, n) for n in (1, 2, 3)] == [1, 2, 1]  # only the interrupted sheet
    sheets = project.sheets("job")
    assert all(s["status"] == "completed" for s in sheets.values())
    _taken_over(project, argv[0])
    # The job is this host's now: the next command needs no override.
    again = project.mzt("run", foreign.score)
    assert again.returncode == 0 and "nothing to do" in again.stdout


def test_run_fresh_take_over_starts_fresh(project: Project, foreign: ForeignJob) -> None:
    result = project.mzt("run", "--fresh", "--take-over", foreign.score)
    assert result.returncode == 0, result.stderr
    assert "starting fresh" in result.stdout and f"taken over from {OLD_HOST}" in result.stdout
    assert [_runs(project, n) for n in (1, 2, 3)] == [2, 2, 1]  # sheet 1 ran again too
    assert alive(foreign.leftover)
    _taken_over(project, "run")


def test_cancel_take_over_marks_it_cancelled(project: Project, foreign: ForeignJob) -> None:
    result = project.mzt("cancel", "job", "--take-over", "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["action"] == "cancelled" and doc["status"] == "cancelled"
    assert doc["previous_status"] == "running"
    assert doc["taken_over"]["from_host"] == OLD_HOST
    assert [item["note"] for item in doc["stopped_attempts"]] == [
        f"ran on {OLD_HOST}; not checked here"
    ]
    assert alive(foreign.leftover)
    assert project.state("job")["status"] == "cancelled"
    _taken_over(project, "cancel")
    resumed = project.mzt("resume", "job")  # this host's job now: no override needed
    assert resumed.returncode == 0, resumed.stderr
    assert [_runs(project, n) for n in (1, 2, 3)] == [1, 2, 1]


def test_cancel_take_over_in_text(project: Project, foreign: ForeignJob) -> None:
    result = project.mzt("cancel", "job", "--take-over")
    assert result.returncode == 0, result.stderr
    assert f"taken over from {OLD_HOST}" in result.stdout and "cancelled" in result.stdout


def test_clear_take_over_clears_it(project: Project, foreign: ForeignJob) -> None:
    result = project.mzt("clear", "--job", "job", "--take-over", "-y")
    assert result.returncode == 0, result.stderr
    assert "removed: job" in result.stdout, result.stdout
    assert not (project.workspace / ".marianne" / "job.json").exists()
    assert not (project.workspace / ".marianne" / "job.history.jsonl").exists()
    assert alive(foreign.leftover)


def test_clear_take_over_needs_one_job(project: Project, foreign: ForeignJob) -> None:
    result = project.mzt("clear", "--take-over", "-y")
    assert result.returncode == 2 and "--job" in result.stderr, result.stderr
    assert (project.workspace / ".marianne" / "job.json").exists()


def test_a_sweep_of_clear_skips_it_and_names_the_override(
    project: Project, foreign: ForeignJob
) -> None:
    result = project.mzt("clear", "-y")
    assert result.returncode == 0, result.stderr
    assert "skipped: job" in result.stdout and "--take-over" in result.stdout, result.stdout
    assert (project.workspace / ".marianne" / "job.json").exists()


def test_a_live_local_run_still_wins(project: Project, foreign: ForeignJob) -> None:
    (project.workspace / "hang-3").touch()
    taker = project.start("run", foreign.score, "--take-over")
    pidfile = project.workspace / "pid-3"
    try:
        wait_for(lambda: pidfile.exists() and pidfile.read_text().strip() != "")
        for args in (["resume", "job"], ["run", str(foreign.score)]):
            result = project.mzt(*args, "--take-over")
            assert result.returncode == 75, result.stderr
            assert "already running" in result.stderr and "--take-over" not in result.stderr
        cancelled = project.mzt("cancel", "job", "--take-over")
        assert cancelled.returncode == 0 and "cancel requested" in cancelled.stdout
        _, err = taker.communicate(timeout=60)
        assert taker.returncode == 4, err
    finally:
        if taker.poll() is None:
            taker.kill()
            taker.communicate(timeout=30)
        with contextlib.suppress(OSError, ValueError):
            os.killpg(os.getpgid(int(pidfile.read_text())), signal.SIGKILL)
    assert alive(foreign.leftover)


def test_recover_take_over_takes_it_over(project: Project, foreign: ForeignJob) -> None:
    result = project.mzt("recover", "job", "--take-over")
    assert result.returncode == 0, result.stderr  # nothing had failed
    _taken_over(project, "recover")


def test_modify_take_over_resumes_with_the_new_score(project: Project, foreign: ForeignJob) -> None:
    result = project.mzt("modify", "job", "-c", foreign.score, "--resume", "--take-over", "-j")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["pause_requested"] is False and doc["run"]["status"] == "completed"
    status = json.loads(project.mzt("status", "job", "--json").stdout)
    assert status["taken_over"]["from_host"] == OLD_HOST
