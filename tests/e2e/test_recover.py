"""End to end: `mzt recover` completes failed sheets whose work is there, and only those."""

from __future__ import annotations

import json

from tests.e2e.conftest import Project, wait_for

# Sheets 2 and 3 depend on sheet 1 only, and their script writes nothing and fails:
# both end failed, and a person then writes the files their validations look for.
SCORE = {
    "name": "job",
    "instrument": "cli",
    "sheet": {"size": 1, "total_items": 3, "dependencies": {2: [1], 3: [1]}},
    "retry": {"max_retries": 0, "max_completion_attempts": 0},
    "prompt": {
        "template": "[ {{ sheet_num }} = 1 ] || exit 1; echo ok > {{ workspace }}/out-{{ sheet_num }}.txt"
    },
    "validations": [{"type": "file_exists", "path": "{workspace}/out-{sheet_num}.txt"}],
}


def failed_job(project: Project) -> None:
    result = project.mzt("run", project.score(SCORE), "-q")
    assert result.returncode == 1, result.stderr
    sheets = project.sheets("job")
    assert [sheets[n]["status"] for n in (1, 2, 3)] == ["completed", "failed", "failed"]


def test_recover_completes_the_fixed_sheet_and_leaves_the_broken_one(project: Project) -> None:
    failed_job(project)
    (project.workspace / "out-2.txt").write_text("fixed by hand\n")

    result = project.mzt("recover", "job", "-j")
    assert result.returncode == 1, result.stderr  # sheet 3 still fails
    doc = json.loads(result.stdout)
    assert doc["schema"] == "mzt.recover/1"
    assert (doc["recovered"], doc["still_failed"], doc["status"]) == ([2], [3], "failed")
    sheets = project.sheets("job")
    assert sheets[2]["status"] == "completed" and sheets[2]["validation_passed"] is True
    assert sheets[2]["error_code"] is None
    assert sheets[3]["status"] == "failed"
    assert sheets[3]["validation_details"][0]["passed"] is False
    state = project.state("job")
    assert state["status"] == "failed" and state["last_completed_sheet"] == 2
    events = [json.loads(line) for line in _history(project).splitlines()]
    assert any(e.get("event") == "recovered" and e.get("sheet_num") == 2 for e in events)

    (project.workspace / "out-3.txt").write_text("fixed too\n")
    result = project.mzt("recover", "job", "--sheet", "3")
    assert result.returncode == 0, result.stderr
    assert "failed -> completed" in result.stdout
    state = project.state("job")
    assert state["status"] == "completed" and state["last_completed_sheet"] == 3
    assert state["error_message"] is None
    # Nothing is left to do: the same run line is now a no-op.
    again = project.mzt("run", project.root / "score.yaml")
    assert again.returncode == 0 and "nothing to do" in again.stdout + again.stderr


def test_dry_run_changes_nothing(project: Project) -> None:
    failed_job(project)
    (project.workspace / "out-2.txt").write_text("fixed by hand\n")
    folder = project.workspace / ".marianne"
    # The lock file names its last holder (the dry run holds it too); the rest must stay.
    before = {
        p.name: p.read_bytes() for p in folder.iterdir() if p.is_file() and p.suffix != ".lock"
    }

    result = project.mzt("recover", "job", "--dry-run")
    assert result.returncode == 1, result.stderr
    assert "sheet 2: 1/1 validations pass: would be completed" in result.stdout
    assert "sheet 3: 0/1 validations pass: stays failed" in result.stdout
    after = {
        p.name: p.read_bytes() for p in folder.iterdir() if p.is_file() and p.suffix != ".lock"
    }
    assert after == before


def test_a_sheet_that_did_not_fail_is_refused(project: Project) -> None:
    failed_job(project)
    result = project.mzt("recover", "job", "--sheet", "1")
    assert result.returncode == 2
    assert "sheet 1 of job job is completed, not failed" in result.stderr
    assert project.mzt("recover", "job", "--sheet", "9").returncode == 2


def test_a_running_job_is_refused(project: Project) -> None:
    marker = project.root / "started"
    score = project.score({**SCORE, "prompt": {"template": f"touch {marker}; sleep 60"}})
    proc = project.start("run", score)
    try:
        wait_for(marker.exists, timeout=60)
        result = project.mzt("recover", "job")
        assert result.returncode == 75, result.stderr
    finally:
        (project.workspace / ".marianne-cancel-job").touch()
        proc.communicate(timeout=60)
    assert proc.returncode == 4


def _history(project: Project) -> str:
    return (project.workspace / ".marianne" / "job.history.jsonl").read_text()


def test_a_job_completed_by_recover_leaves_its_hooks_to_resume(project: Project) -> None:
    hooked = {
        **SCORE,
        "on_success": [{"type": "run_command", "command": "echo fired >> {workspace}/hook.txt"}],
    }
    assert project.mzt("run", project.score(hooked), "-q").returncode == 1
    for num in (2, 3):
        (project.workspace / f"out-{num}.txt").write_text("fixed by hand\n")
    preview = project.mzt("recover", "job", "--dry-run", "-j")
    assert json.loads(preview.stdout)["hooks_held"] == 1
    result = project.mzt("recover", "job")
    assert result.returncode == 0, result.stderr
    assert "on_success hook(s) have not run" in result.stdout and "mzt resume" in result.stdout
    hook = project.workspace / "hook.txt"
    assert not hook.exists()  # recover runs nothing
    status = json.loads(project.mzt("status", "job", "-j").stdout)
    assert status["status"] == "completed" and "mzt resume" in status["next_step"]
    resumed = project.mzt("resume", "job")
    assert resumed.returncode == 0, resumed.stderr
    assert hook.read_text() == "fired\n"
    assert project.mzt("resume", "job").returncode == 2  # nothing owed any more
    assert hook.read_text() == "fired\n"
