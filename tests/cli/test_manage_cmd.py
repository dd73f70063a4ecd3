"""`mzt pause`, `cancel`, `clear` and `doctor` as users type them, on real runs."""

from __future__ import annotations

import json
import os
import pty
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mzt.support import paths
from tests.cli.conftest import Result
from tests.e2e.conftest import Project, alive, wait_for

SECRET = "sk-ant-api03-" + "Qw7" * 30

PAUSE_FIELDS = {
    "schema",
    "job_id",
    "workspace",
    "requested",
    "signal_file",
    "waited",
    "status",
    "alive",
    "progress",
    "resume_command",
}
CANCEL_FIELDS = {
    "schema",
    "job_id",
    "workspace",
    "action",
    "previous_status",
    "status",
    "signal_file",
    "waited",
    "progress",
    "stopped_attempts",
    "taken_over",
}


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    """A project; in-process commands share its MZT_HOME and run from its folder."""
    home = tmp_path / "home"
    home.mkdir()
    root = tmp_path / "proj"
    root.mkdir()
    monkeypatch.setenv("MZT_HOME", str(home))
    monkeypatch.chdir(root)
    return Project(root, home)


def score(project: Project, name: str = "job", n: int = 10, template: str = "sleep 0.2") -> Path:
    body = f"{template}; echo ok > {{{{ workspace }}}}/out-{name}-{{{{ sheet_num }}}}.txt"
    return project.score(
        {
            "name": name,
            "instrument": "cli",
            "sheet": {"size": 1, "total_items": n},
            "prompt": {"template": body},
            "retry": {"max_retries": 1},
        },
        name=f"{name}.yaml",
    )


def outputs(project: Project, name: str = "job") -> list[Path]:
    return sorted(project.workspace.glob(f"out-{name}-*.txt"))


def start(project: Project, path: Path, ready: Callable[[], bool]) -> subprocess.Popen[str]:
    proc = project.start("run", path)
    wait_for(lambda: proc.poll() is not None or ready())
    assert proc.poll() is None, proc.communicate()
    return proc


def finish(proc: subprocess.Popen[str], timeout: float = 30) -> int:
    """Wait for the run to exit and return its code; ``timeout=0`` kills it first (cleanup)."""
    if proc.poll() is None and timeout <= 0:
        proc.kill()
    if proc.stdout is not None and not proc.stdout.closed:
        proc.communicate(timeout=max(timeout, 10))
    return proc.returncode


def checkpoint(project: Project, job: str = "job") -> dict[str, Any]:
    return json.loads(paths.state_file(project.workspace, job).read_text())


# --- pause ----------------------------------------------------------------------------------


def test_pause_wait_returns_once_paused_and_the_run_exited_3(
    project: Project, mzt: Callable[..., Result]
) -> None:
    proc = start(project, score(project), lambda: len(outputs(project)) >= 1)
    try:
        result = mzt("pause", "job", "--wait", "--timeout", "30", "-j")
        assert result.code == 0, result.err
        doc = result.json()
        assert set(doc) == PAUSE_FIELDS and doc["schema"] == "mzt.pause/1"
        assert doc["status"] == "paused" and doc["alive"] is False and doc["waited"] is True
        assert doc["workspace"] == str(project.workspace.resolve())
        assert 1 <= doc["progress"]["completed"] < 10 and doc["progress"]["total"] == 10
        assert doc["resume_command"] == f"mzt resume job -w {project.workspace.resolve()}"
        assert finish(proc, 5) == 3
        assert checkpoint(project)["status"] == "paused"
    finally:
        finish(proc, 0)
    # Now that it is paused, pausing again is an error that names the status.
    again = mzt("pause", "job")
    assert again.code == 2 and "not running (status: paused)" in again.err
    assert "mzt resume job" in again.err
    as_json = mzt("pause", "job", "-j")
    assert as_json.code == 2 and as_json.json()["schema"] == "mzt.error/1"


def test_pause_without_wait_only_requests(project: Project, mzt: Callable[..., Result]) -> None:
    proc = start(project, score(project, n=10), lambda: len(outputs(project)) >= 1)
    try:
        result = mzt("pause", str(project.root / "job.yaml"))  # the score file names the job
        assert result.code == 0, result.err
        assert "pause requested for job" in result.out
        assert finish(proc) == 3
    finally:
        finish(proc, 0)


def test_pause_of_an_unknown_job_is_exit_2(project: Project, mzt: Callable[..., Result]) -> None:
    result = mzt("pause", "nope", "-w", project.root)
    assert result.code == 2 and "No job 'nope'" in result.err


# --- cancel ---------------------------------------------------------------------------------


def test_cancel_wait_stops_the_run_and_its_grandchild(
    project: Project, mzt: Callable[..., Result]
) -> None:
    pidfile = project.root / "grandchild.pid"
    path = score(project, n=2, template=f"sleep 300 & echo $! > {pidfile}; wait")
    proc = start(project, path, lambda: pidfile.exists() and pidfile.read_text().strip() != "")
    grandchild = int(pidfile.read_text())
    try:
        result = mzt("cancel", "job", "--wait", "-j", "-w", project.workspace)
        assert result.code == 0, result.err
        doc = result.json()
        assert set(doc) == CANCEL_FIELDS and doc["schema"] == "mzt.cancel/1"
        assert doc["action"] == "cancelled" and doc["status"] == "cancelled"
        assert doc["previous_status"] == "running" and doc["waited"] is True
        assert finish(proc, 5) == 4
        wait_for(lambda: not alive(grandchild), timeout=5)
    finally:
        finish(proc, 0)
        if alive(grandchild):
            os.kill(grandchild, signal.SIGKILL)
    again = mzt("cancel", "job")
    assert again.code == 0 and "already cancelled" in again.out


def test_cancel_of_a_dead_run_needs_no_run(project: Project, mzt: Callable[..., Result]) -> None:
    pidfile = project.root / "child.pid"
    path = score(project, n=2, template=f"echo $$ > {pidfile}; exec sleep 300")
    proc = start(project, path, lambda: pidfile.exists() and pidfile.read_text().strip() != "")
    child = int(pidfile.read_text())
    try:
        proc.send_signal(signal.SIGKILL)
        finish(proc)
        result = mzt("cancel", "job")
        assert result.code == 0, result.err
        assert "job cancelled (it was paused)" in result.out
        assert checkpoint(project)["status"] == "cancelled"
    finally:
        if alive(child):
            os.kill(child, signal.SIGKILL)


def test_cancel_of_a_completed_job_is_exit_2(project: Project, mzt: Callable[..., Result]) -> None:
    assert project.mzt("run", score(project, n=1, template="true")).returncode == 0
    result = mzt("cancel", "job", "-j")
    assert result.code == 2
    assert "nothing to cancel" in result.json()["error"]["message"]


# --- clear ----------------------------------------------------------------------------------


def two_finished_jobs(project: Project) -> None:
    assert project.mzt("run", score(project, "done", n=1, template="true")).returncode == 0
    assert project.mzt("run", score(project, "bad", n=1, template="exit 1")).returncode == 1


def test_clear_without_a_terminal_needs_yes(project: Project, mzt: Callable[..., Result]) -> None:
    two_finished_jobs(project)
    # Under pytest stdin is not a terminal: clear lists what it would do and refuses.
    refused = mzt("clear", "--status", "failed")
    assert refused.code == 2
    assert "would remove: bad (failed" in refused.out and "done" not in refused.out
    assert "-y" in refused.err
    assert paths.state_file(project.workspace, "bad").exists()

    cleared = mzt("clear", "--status", "failed", "-y", "-j")
    assert cleared.code == 0, cleared.err
    doc = cleared.json()
    assert doc["schema"] == "mzt.clear/1" and doc["dry_run"] is False
    assert [j["job_id"] for j in doc["removed"]] == ["bad"]
    removed = doc["removed"][0]
    assert {"job_id", "workspace", "status", "updated_at", "files", "bytes"} <= set(removed)
    assert str(paths.state_file(project.workspace, "bad")) in removed["files"]
    assert not paths.state_file(project.workspace, "bad").exists()
    assert paths.state_file(project.workspace, "done").exists()

    nothing = mzt("clear", "--older-than", "7d")
    assert nothing.code == 0 and nothing.out.strip() == "nothing to clear"
    by_score = mzt("clear", "--job", project.root / "done.yaml", "-y")
    assert by_score.code == 0 and "removed: done (completed" in by_score.out
    assert not paths.state_file(project.workspace, "done").exists()


def test_clear_asks_on_a_terminal(project: Project) -> None:
    two_finished_jobs(project)

    no = run_on_pty(project, ["clear"], answer="n")
    assert no.code == 1 and "Remove 2 jobs?" in no.out
    assert paths.state_file(project.workspace, "done").exists()

    yes = run_on_pty(project, ["clear"], answer="y")
    assert yes.code == 0, yes.out
    assert "removed: done (completed" in yes.out and "removed: bad (failed" in yes.out
    assert not paths.state_file(project.workspace, "done").exists()
    assert not paths.state_file(project.workspace, "bad").exists()


def test_clear_leaves_a_running_job_alone(project: Project, mzt: Callable[..., Result]) -> None:
    two_finished_jobs(project)
    state = paths.state_file(project.workspace, "live")
    gate = project.workspace / "go"  # the sheets run until the test opens it
    held = "until [ -e {{ workspace }}/go ]; do sleep 0.05; done"
    # The run registers itself just after its first checkpoint: clear finds it from then.
    record = paths.registry_record("live", project.workspace.resolve(), project.home)
    proc = start(
        project,
        score(project, "live", n=2, template=held),
        lambda: state.exists() and record.exists(),
    )
    try:
        result = mzt("clear", "-y")
        assert result.code == 0, result.err
        assert "skipped: live" in result.out and "run lock is held" in result.out
        assert state.exists() and paths.history_file(project.workspace, "live").exists()
        assert proc.poll() is None
    finally:
        gate.touch()
        finish(proc)


def test_clear_removes_the_remembered_head_of_a_completed_job(
    project: Project, mzt: Callable[..., Result]
) -> None:
    path = score(project, "done", n=1, template="true")
    assert project.mzt("run", path).returncode == 0
    head = paths.head_cache("done", project.workspace.resolve(), project.home)
    # A head is remembered once the files have stopped changing for a moment: run again
    # until a run has remembered it.
    wait_for(lambda: project.mzt("run", path).returncode == 0 and head.is_file(), step=0.5)
    assert mzt("clear", "--job", "done", "-y").code == 0
    assert not head.exists()


@pytest.mark.parametrize(
    "args", [["--older-than", "soon"], ["--older-than", "7 d"], ["--status", "paused"]]
)
def test_clear_rejects_bad_options(mzt: Callable[..., Result], args: list[str]) -> None:
    result = mzt("clear", "-y", *args)
    assert result.code == 2


def test_clear_prunes_registry_records_of_vanished_workspaces(
    project: Project, mzt: Callable[..., Result]
) -> None:
    assert project.mzt("run", score(project, n=1, template="true")).returncode == 0
    other = project.root / "elsewhere"
    project.mzt("run", score(project, "gone", n=1, template="true"), "-w", other)
    assert len(list(paths.registry_dir(project.home).glob("*.json"))) == 2
    shutil.rmtree(other)
    result = mzt("clear", "--job", "gone", "-y", "-j")
    doc = result.json()
    assert [r["job_id"] for r in doc["pruned"]] == ["gone"] and doc["removed"] == []
    assert [p.name.split("--")[0] for p in paths.registry_dir(project.home).glob("*.json")] == [
        "job"
    ]


# --- doctor ---------------------------------------------------------------------------------


def test_doctor_json_names_variables_but_never_prints_a_secret(project: Project) -> None:
    project.fake_profile("found-agent")
    env = {**project.env(), "ANTHROPIC_API_KEY": SECRET}
    result = subprocess.run(
        [sys.executable, "-m", "mzt", "doctor", "-j"],
        cwd=project.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert SECRET not in result.stdout + result.stderr and "Qw7Qw7" not in result.stdout
    doc = json.loads(result.stdout)
    assert doc["schema"] == "mzt.doctor/1"
    assert result.returncode == (1 if doc["verdict"] == "problem" else 0)
    assert set(doc["counts"]) == {"ok", "warning", "problem"}
    for check in doc["checks"]:
        assert {"area", "name", "verdict", "message", "details"} <= set(check)
        assert check["verdict"] in ("ok", "warning", "problem")
    instruments = {c["name"]: c["details"] for c in doc["checks"] if c["area"] == "instrument"}
    assert instruments["found-agent"]["binary_found"] is True
    assert all("binary_found" in d and "auth_env" in d for d in instruments.values())
    claude = {v["name"]: v["set"] for v in instruments["claude-code"]["auth_env"]}
    assert claude["ANTHROPIC_API_KEY"] is True
    home = next(c for c in doc["checks"] if c["area"] == "mzt_home")
    assert home["details"]["path"] == str(project.home)

    text = subprocess.run(
        [sys.executable, "-m", "mzt", "doctor"],
        cwd=project.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert SECRET not in text.stdout + text.stderr
    assert "ANTHROPIC_API_KEY (set)" in text.stdout and "found-agent" in text.stdout


def test_doctor_exits_1_on_a_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mzt: Callable[..., Result]
) -> None:
    home = tmp_path / "home-is-a-file"
    home.write_text("")
    monkeypatch.setenv("MZT_HOME", str(home))
    monkeypatch.chdir(tmp_path)
    result = mzt("doctor")
    assert result.code == 1
    assert "problem" in result.out and "is not a folder" in result.out


# --- helpers --------------------------------------------------------------------------------


def run_on_pty(project: Project, args: list[str], answer: str) -> Result:
    """Run `mzt ARGS` with a pseudo-terminal as stdin/stdout/stderr and type ``answer``."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mzt", *args],
        cwd=project.root,
        env=project.env(),
        stdin=slave,
        stdout=slave,
        stderr=slave,
        close_fds=True,
    )
    os.close(slave)
    seen = b""
    answered = False
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                seen += chunk
            if not answered and b"[y/N]" in seen:
                os.write(master, answer.encode() + b"\n")
                answered = True
            if proc.poll() is not None and not ready:
                break
        code = proc.wait(timeout=10)
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return Result(code, seen.decode(errors="replace").replace("\r\n", "\n"), "")
