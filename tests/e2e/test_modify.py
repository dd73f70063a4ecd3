"""End to end: `mzt modify` swaps the score of a job, and touches nothing for a bad one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.e2e.conftest import Project, wait_for


def score(project: Project, version: str, **extra: Any) -> dict[str, Any]:
    # Each sheet waits for its go file, so the test decides when sheet 1 may finish.
    go = project.root / "go-{{ sheet_num }}"
    return {
        "name": "job",
        "instrument": "cli",
        "sheet": {"size": 1, "total_items": 3},
        "prompt": {
            "template": (
                f"touch {project.root}/started-{{{{ sheet_num }}}}; "
                f"while [ ! -e {go} ]; do sleep 0.05; done; "
                f"echo {version} > {{{{ workspace }}}}/out-{{{{ sheet_num }}}}.txt"
            )
        },
        "validations": [{"type": "file_exists", "path": "{workspace}/out-{sheet_num}.txt"}],
        **extra,
    }


def release(project: Project, *sheets: int) -> None:
    for num in sheets:
        (project.root / f"go-{num}").touch()


def test_modify_resume_continues_a_running_job_with_the_new_score(project: Project) -> None:
    release(project, 2, 3)  # only sheet 1 is held
    proc = project.start("run", project.score(score(project, "v1")))
    wait_for((project.root / "started-1").exists, timeout=60)
    new = project.score(score(project, "v2"), name="v2.yaml")
    modify = project.start("modify", "job", "-c", new, "--resume", "-j", "-t", "60")
    wait_for(pause_file(project).exists, timeout=60)
    release(project, 1)  # sheet 1 finishes; the pause stops the run after it
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 3, err  # the old run paused at the boundary
    out, err = modify.communicate(timeout=120)
    assert modify.returncode == 0, err
    doc = json.loads(out)
    assert doc["schema"] == "mzt.modify/1"
    assert doc["pause_requested"] is True and doc["resumed"] is True
    assert doc["run"]["schema"] == "mzt.run/1" and doc["run"]["status"] == "completed"
    outputs = [(project.workspace / f"out-{n}.txt").read_text().strip() for n in (1, 2, 3)]
    assert outputs == ["v1", "v2", "v2"]
    assert project.state("job")["config_path"] == str(new)


def test_modify_without_resume_pauses_and_prints_the_command(project: Project) -> None:
    proc = project.start("run", project.score(score(project, "v1")))
    wait_for((project.root / "started-1").exists, timeout=60)
    new = project.score(score(project, "v2"), name="v2.yaml")
    modify = project.start("modify", "job", "-c", new, "--wait")
    wait_for(pause_file(project).exists, timeout=60)
    release(project, 1)
    out, err = modify.communicate(timeout=120)
    proc.communicate(timeout=60)
    assert modify.returncode == 0, err
    assert f"mzt resume job -w {project.workspace} -c {new}" in out
    assert project.state("job")["status"] == "paused"
    assert not (project.workspace / "out-2.txt").exists()


def pause_file(project: Project) -> Path:
    return project.workspace / ".marianne-pause-job"


def test_an_invalid_new_score_leaves_the_job_untouched(project: Project) -> None:
    release(project, 2)
    project.score(score(project, "v1", sheet={"size": 1, "total_items": 2}))
    proc = project.start("run", project.root / "score.yaml")
    wait_for((project.root / "started-1").exists, timeout=60)
    checkpoint = project.workspace / ".marianne" / "job.json"
    wait_for(checkpoint.exists)
    before = checkpoint.read_bytes()
    invalid = project.root / "invalid.yaml"
    invalid.write_text("name: job\nsheet: {size: 0, total_items: 2}\nprompt: {template: x}\n")
    other = project.score(score(project, "v2", name="other"), name="other.yaml")
    more = project.score(score(project, "v2"), name="more.yaml")  # three sheets, not two
    try:
        for new in (invalid, other, more):
            result = project.mzt("modify", "job", "-c", new, "-r")
            assert result.returncode == 2, (new, result.stderr)
        assert "another number of sheets" in result.stderr
        assert checkpoint.read_bytes() == before
        assert not pause_file(project).exists()
    finally:
        release(project, 1)
        proc.communicate(timeout=60)
    assert proc.returncode == 0  # the run went on as if nothing had been asked


def test_modify_refuses_a_completed_job(project: Project) -> None:
    release(project, 1, 2, 3)
    first: Path = project.score(score(project, "v1"))
    assert project.mzt("run", first, "-q").returncode == 0
    result = project.mzt("modify", "job", "-c", first)
    assert result.returncode == 2
    assert "already completed" in result.stderr
