"""`run_job` hooks and `concert` chains through the real `mzt`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from mzt.state.lockprobe import LockProbe, probe_lock
from tests.e2e.conftest import Project, wait_for


def job(name: str, workspace: str, template: str = "echo {{ sheet_num }}", **extra: Any) -> dict:
    return {
        "name": name,
        "workspace": workspace,
        "instrument": "cli",
        "pause_between_sheets_seconds": 0,
        "sheet": {"size": 1, "total_items": 1},
        "prompt": {"template": template},
        **extra,
    }


def write(project: Project, name: str, data: dict[str, Any]) -> Path:
    path = project.root / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def lock_free(workspace: Path, job_id: str) -> bool:
    return probe_lock(workspace / ".marianne" / f"{job_id}.lock") == LockProbe.FREE


def state_in(workspace: Path, job_id: str) -> dict[str, Any]:
    from mzt.state.loader import read_snapshot

    state = read_snapshot(job_id, workspace / ".marianne" / f"{job_id}.json")
    assert state is not None
    return state.model_dump(mode="json")


CONCERT = {"enabled": True, "cooldown_between_jobs_seconds": 0}


def test_a_self_chaining_concert_stops_at_max_chain_depth(project: Project) -> None:
    path = write(
        project,
        "loop.yaml",
        job(
            "loop",
            "./ws",
            "echo run >> ../runs.txt",
            on_success=[
                {"type": "run_job", "job_path": "loop.yaml", "detached": True, "fresh": True}
            ],
            concert={**CONCERT, "max_chain_depth": 2},
        ),
    )
    done = project.mzt("run", path)
    assert done.returncode == 0, done.stderr
    concert = project.workspace / "concert.log"
    wait_for(lambda: concert.exists() and "refused" in concert.read_text(), timeout=60)
    wait_for(lambda: lock_free(project.workspace, "loop"), timeout=60)
    lines = concert.read_text().splitlines()
    assert [line.split("  ")[2] for line in lines] == ["depth=0", "depth=1", "depth=2"]
    assert "started pid" in lines[0] and "refused: max_chain_depth reached" in lines[2]
    assert (project.root / "runs.txt").read_text() == "run\n" * 3
    [log, *_] = sorted((project.workspace / "hooks").glob("chain-*.log"))
    assert "starting fresh (--fresh)" in log.read_text()
    [last] = project.state("loop")["hook_results"]
    assert last["outcome"] == "refused" and "max_chain_depth (2)" in last["error"]


def test_attached_chain_records_the_child_exit(project: Project) -> None:
    write(project, "child.yaml", job("child", "./cws"))
    write(project, "bad.yaml", job("bad", "./bws", "exit 1", retry={"max_retries": 0}))
    path = write(
        project,
        "parent.yaml",
        job(
            "parent",
            "./ws",
            on_success=[
                {"type": "run_job", "job_path": "child.yaml"},
                {"type": "run_job", "job_path": "bad.yaml"},
            ],
            concert={**CONCERT, "inherit_workspace": False},
        ),
    )
    done = project.mzt("run", path, "--json")
    assert done.returncode == 6, done.stderr
    first, second = json.loads(done.stdout)["hooks"]
    assert (first["outcome"], first["exit_code"], first["depth"]) == ("succeeded", 0, 1)
    assert (second["outcome"], second["exit_code"]) == ("failed", 1)
    assert state_in(project.root / "cws", "child")["status"] == "completed"


def test_pause_before_chain_holds_until_resume(project: Project) -> None:
    write(project, "child.yaml", job("child", "./cws"))
    path = write(
        project,
        "parent.yaml",
        job(
            "parent",
            "./ws",
            on_success=[
                {"type": "run_job", "job_path": "child.yaml", "pause_before_chain": True},
                {"type": "run_command", "command": "touch after"},
            ],
            concert={**CONCERT, "inherit_workspace": False},
        ),
    )
    done = project.mzt("run", path)
    assert done.returncode == 3, done.stderr
    assert "held by pause_before_chain" in done.stderr
    status = json.loads(project.mzt("status", "parent", "-w", project.workspace, "-j").stdout)
    assert status["status"] == "paused" and "child.yaml" in status["error_message"]
    # A plain `mzt run` (cron) leaves the hold alone.
    assert project.mzt("run", path).returncode == 3
    assert not (project.root / "cws").exists() and not (project.workspace / "after").exists()
    resumed = project.mzt("resume", "parent", "-w", project.workspace)
    assert resumed.returncode == 0, resumed.stderr
    assert state_in(project.root / "cws", "child")["status"] == "completed"
    assert (project.workspace / "after").exists()
    assert project.state("parent")["status"] == "completed"
    assert "held: pause_before_chain" in (project.workspace / "concert.log").read_text()


def test_a_rerun_while_the_chained_child_runs_exits_75(project: Project) -> None:
    gate, started = project.root / "gate", project.root / "started"
    template = (
        f'if [ "$MZT_CHAIN_DEPTH" = 1 ]; then touch {started}; '
        f"while [ ! -f {gate} ]; do sleep 0.05; done; fi"
    )
    path = write(
        project,
        "loop.yaml",
        job(
            "loop",
            "./ws",
            template,
            on_success=[
                {"type": "run_job", "job_path": "loop.yaml", "detached": True, "fresh": True}
            ],
            concert={**CONCERT, "max_chain_depth": 1},
        ),
    )
    assert project.mzt("run", path).returncode == 0
    try:
        wait_for(started.exists, timeout=60)
        again = project.mzt("run", path)
        assert again.returncode == 75, again.stderr
    finally:
        gate.touch()
    wait_for(lambda: lock_free(project.workspace, "loop"), timeout=60)
    assert project.state("loop")["status"] == "completed"


def test_a_missing_chained_score_is_a_hook_failure(project: Project) -> None:
    path = write(
        project,
        "parent.yaml",
        job("parent", "./ws", on_success=[{"type": "run_job", "job_path": "{workspace}/no.yaml"}]),
    )
    done = project.mzt("run", path, "--json")
    assert done.returncode == 6
    [hook] = json.loads(done.stdout)["hooks"]
    assert hook["job_path"] == str(project.workspace / "no.yaml")
    assert "not a file" in hook["error"]


def test_archiving_on_fresh_leaves_the_concert_log_whole(project: Project) -> None:
    path = write(
        project,
        "loop.yaml",
        job(
            "loop",
            "./ws",
            "echo run > {{ workspace }}/out.txt",
            on_success=[
                {"type": "run_job", "job_path": "loop.yaml", "detached": True, "fresh": True}
            ],
            concert={**CONCERT, "max_chain_depth": 2},
            workspace_lifecycle={"archive_on_fresh": True},
        ),
    )
    assert project.mzt("run", path).returncode == 0
    concert = project.workspace / "concert.log"
    wait_for(lambda: concert.exists() and "refused" in concert.read_text(), timeout=60)
    wait_for(lambda: lock_free(project.workspace, "loop"), timeout=60)
    assert len(concert.read_text().splitlines()) == 3
    assert list((project.workspace / "hooks").glob("chain-*.log"))
    archived = list((project.workspace / "archive").glob("*/out.txt"))
    assert len(archived) == 2  # each fresh step moved the previous step's work aside
