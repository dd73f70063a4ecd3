"""`on_success` hooks through the real `mzt`: when they fire, what they may do, how they
fail, and how `mzt resume` fires them again."""

from __future__ import annotations

import json
import os
import signal
import stat
from pathlib import Path
from typing import Any

from tests.e2e.conftest import Project, alive, wait_for


def score(**extra: Any) -> dict[str, Any]:
    return {
        "name": "hooked",
        "instrument": "cli",
        "sheet": {"size": 1, "total_items": 2},
        "prompt": {"template": "echo sheet {{ sheet_num }}"},
        **extra,
    }


def results(project: Project, job: str = "hooked") -> list[dict[str, Any]]:
    return list(project.state(job)["hook_results"])


def test_a_hook_fires_once_and_not_on_a_no_op_rerun(project: Project) -> None:
    path = project.score(
        score(
            on_success=[
                {
                    "type": "run_command",
                    "command": "echo {job_id} {sheet_count} >> {workspace}/fired.txt",
                }
            ]
        )
    )
    first = project.mzt("run", path)
    assert first.returncode == 0, first.stderr
    fired = project.workspace / "fired.txt"
    assert fired.read_text() == "hooked 2\n"
    again = project.mzt("run", path, "--json")
    assert again.returncode == 0
    assert json.loads(again.stdout)["hooks"] == []
    assert fired.read_text() == "hooked 2\n"
    [result] = results(project)
    assert result["outcome"] == "succeeded" and result["success"] is True
    assert result["exit_code"] == 0 and result["index"] == 1
    # Nothing owed: resuming the completed job is refused as before.
    assert project.mzt("resume", "hooked", "-w", project.workspace).returncode == 2


def test_hooks_logs_are_private_and_redacted(project: Project) -> None:
    secret = "sk-ant-api03-" + "A" * 40
    path = project.score(
        score(on_success=[{"type": "run_command", "command": f"echo {secret}; echo oops >&2"}])
    )
    assert project.mzt("run", path).returncode == 0
    folder = project.workspace / "hooks"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    [result] = results(project)
    log = Path(result["log_path"])
    assert log.parent == folder and stat.S_IMODE(log.stat().st_mode) == 0o600
    assert secret not in log.read_text() and log.read_text().strip()
    assert secret not in json.dumps(project.state("hooked")["hook_results"])
    assert Path(result["stderr_log_path"]).read_text() == "oops\n"


def test_values_never_become_shell_syntax(project: Project) -> None:
    odd = "w $(touch pwned) `touch pwned2` 'q\" ; touch pwned3"
    path = project.score(
        score(
            workspace=f"./{odd}",
            on_success=[
                {"type": "run_command", "command": "printf %s {workspace} > seen.txt"},
                {"type": "run_command", "command": 'printf %s "{workspace}" > quoted.txt'},
                {"type": "run_script", "command": "touch {workspace}/script.txt"},
            ],
        )
    )
    done = project.mzt("run", path)
    assert done.returncode == 0, done.stderr
    workspace = project.root / odd
    assert (workspace / "seen.txt").read_text() == str(workspace)
    assert (workspace / "quoted.txt").read_text() == str(workspace)
    assert (workspace / "script.txt").is_file()
    for where in (project.root, workspace):
        assert not [p for p in where.iterdir() if p.name.startswith("pwned")]


def test_a_hook_timeout_stops_its_process_group(project: Project) -> None:
    path = project.score(
        score(
            on_success=[
                {
                    "type": "run_command",
                    "command": "sleep 300 & echo $! > bg.pid; wait",
                    "timeout_seconds": 1,
                }
            ]
        )
    )
    done = project.mzt("run", path)
    assert done.returncode == 6, done.stderr
    [result] = results(project)
    assert result["outcome"] == "failed" and "timed out" in result["error"]
    background = int((project.workspace / "bg.pid").read_text())
    wait_for(lambda: not alive(background))


def test_abort_skips_the_rest_and_resume_fires_them(project: Project) -> None:
    path = project.score(
        score(
            on_success=[
                {"type": "run_command", "command": "test -f ready", "on_failure": "abort"},
                {"type": "run_command", "command": "touch second"},
            ]
        )
    )
    done = project.mzt("run", path, "--json")
    assert done.returncode == 6
    document = json.loads(done.stdout)
    assert document["status"] == "completed" and document["exit_code"] == 6
    assert [h["outcome"] for h in document["hooks"]] == ["failed", "skipped"]
    assert not (project.workspace / "second").exists()
    # cron's `mzt run` of the completed job still does nothing.
    assert project.mzt("run", path).returncode == 0
    assert not (project.workspace / "second").exists()
    (project.workspace / "ready").touch()
    again = project.mzt("resume", "hooked", "-w", project.workspace, "--json")
    assert again.returncode == 0, again.stderr
    assert [h["outcome"] for h in json.loads(again.stdout)["hooks"]] == [
        "succeeded",
        "succeeded",
    ]
    assert (project.workspace / "second").exists()
    sheets = project.sheets("hooked")
    assert all(s["attempt_count"] == 1 for s in sheets.values())  # no sheet ran again


def test_exit_6_then_resume_refires_only_the_failed_hook(project: Project) -> None:
    path = project.score(
        score(
            on_success=[
                {"type": "run_command", "command": "echo ran >> first.txt"},
                {"type": "run_command", "command": "test -f ready", "description": "gate"},
            ]
        )
    )
    done = project.mzt("run", path)
    assert done.returncode == 6
    assert "on_success hook 2 failed" in done.stderr and "mzt resume" in done.stderr
    status = json.loads(project.mzt("status", "hooked", "-w", project.workspace, "--json").stdout)
    assert status["status"] == "completed"
    assert (status["hooks_configured"], status["hook_failures"]) == (2, 1)
    assert "mzt resume" in status["next_step"]
    text = project.mzt("status", "hooked", "-w", project.workspace).stdout
    assert "hook 2 run_command failed (exit 1)" in text
    diagnosis = project.mzt("diagnose", "hooked", "-w", project.workspace)
    assert "on_success hook 2 (run_command) failed: exited 1" in diagnosis.stdout
    assert "To continue: mzt resume hooked" in diagnosis.stdout
    report = json.loads(project.mzt("diagnose", "hooked", "-w", project.workspace, "-j").stdout)
    assert report["hook_failures"] == 1 and len(report["hook_results"]) == 2
    (project.workspace / "ready").touch()
    again = project.mzt("resume", "hooked", "-w", project.workspace)
    assert again.returncode == 0, again.stderr
    assert (project.workspace / "first.txt").read_text() == "ran\n"  # not fired again
    status = json.loads(project.mzt("status", "hooked", "-w", project.workspace, "--json").stdout)
    assert status["hook_failures"] == 0 and len(status["hook_results"]) == 3


def test_run_script_runs_without_a_shell_in_its_working_directory(project: Project) -> None:
    (project.root / "tools").mkdir()
    script = project.root / "tools" / "note.sh"
    script.write_text('#!/bin/sh\necho "$1|$2" > "$(pwd)/note.txt"\n')
    script.chmod(0o700)
    path = project.score(
        score(
            on_success=[
                {
                    "type": "run_script",
                    "command": f"{script} '{{job_id}} and $HOME' {{sheet_count}}",
                    "working_directory": str(project.root / "tools"),
                }
            ]
        )
    )
    assert project.mzt("run", path).returncode == 0
    assert (project.root / "tools" / "note.txt").read_text() == "hooked and $HOME|2\n"


def test_a_failed_job_fires_nothing(project: Project) -> None:
    path = project.score(
        score(
            prompt={"template": "exit 1"},
            retry={"max_retries": 0},
            on_success=[{"type": "run_command", "command": "touch fired"}],
        )
    )
    assert project.mzt("run", path).returncode == 1
    assert not (project.workspace / "fired").exists()
    assert results(project) == []
    assert not os.path.exists(project.workspace / "hooks")


def test_a_signal_stops_a_running_hook_and_resume_fires_it(project: Project) -> None:
    path = project.score(
        score(
            on_success=[
                {
                    "type": "run_command",
                    "command": "test -f ready && exit 0; sleep 300 & echo $! > bg.pid; wait",
                },
                {"type": "run_command", "command": "touch second"},
            ]
        )
    )
    run = project.start("run", path)
    pid_file = project.workspace / "bg.pid"
    wait_for(lambda: pid_file.exists() and pid_file.read_text().strip() != "", timeout=60)
    run.send_signal(signal.SIGTERM)
    run.communicate(timeout=60)
    assert run.returncode == 143
    wait_for(lambda: not alive(int(pid_file.read_text())))
    state = project.state("hooked")
    assert state["status"] == "completed"
    assert [r["outcome"] for r in state["hook_results"]] == ["failed", "skipped"]
    (project.workspace / "ready").touch()
    assert project.mzt("resume", "hooked", "-w", project.workspace).returncode == 0
    assert (project.workspace / "second").exists()


def test_watch_of_a_run_whose_hook_fails_exits_6_as_the_run_does(project: Project) -> None:
    gate = project.root / "go"
    path = project.score(
        score(
            prompt={"template": f"until [ -e {gate} ]; do sleep 0.05; done"},
            on_success=[{"type": "run_command", "command": "exit 1"}],
        )
    )
    run = project.start("run", path)
    try:
        wait_for(lambda: (project.workspace / ".marianne" / "hooked.json").exists())
        watch = project.start("watch", "hooked", "-w", project.workspace, "--json")
        # The watch has seen the run before the sheets are let through.
        assert watch.stdout is not None
        first = json.loads(watch.stdout.readline())
        assert first["final"] is False
        gate.touch()
        out, _ = watch.communicate(timeout=60)
        assert watch.returncode == 6
        assert json.loads(out.splitlines()[-1])["exit_code"] == 6
        assert run.wait(timeout=60) == 6
    finally:
        gate.touch()
        run.communicate(timeout=60)
    # Watching the finished job afterwards: it was already over, so 0 as the contract says.
    assert project.mzt("watch", "hooked", "-w", project.workspace).returncode == 0
