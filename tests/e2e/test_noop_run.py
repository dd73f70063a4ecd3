"""`mzt run` of a completed job answers from its checkpoint head, exactly as the full path."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mzt.run import quick
from mzt.state import JsonStateBackend
from tests.e2e.conftest import Project

# Prints the modules a command line imported, after it ran through the real entry point.
PROBE = """
import json, sys
from mzt.entry import main
sys.argv = ["mzt", *sys.argv[1:]]
try:
    main()
    code = 0
except SystemExit as exc:
    code = exc.code
sys.stderr.write("\\nMODULES " + json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def score_data(**extra: Any) -> dict[str, Any]:
    return {
        "name": "job",
        "instrument": "cli",
        "sheet": {"size": 1, "total_items": 2},
        "prompt": {"template": "echo sheet {{ sheet_num }}"},
        **extra,
    }


# Files count as settled at once, so a test need not wait for the checkpoint's ctime to age.
SETTLED = "import mzt.state.head\nmzt.state.head.SETTLED_SECONDS = -60.0\n"


def probe(
    project: Project, *args: object, settled: bool = False
) -> tuple[subprocess.CompletedProcess[str], dict]:
    done = subprocess.run(
        [sys.executable, "-c", (SETTLED if settled else "") + PROBE, *map(str, args)],
        cwd=project.root,
        env=project.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    err, _, tail = done.stderr.rpartition("\nMODULES ")
    done.stderr = err
    return done, json.loads(tail)


@pytest.fixture
def completed(project: Project) -> Path:
    score = project.score(score_data())
    first = project.mzt("run", score)
    assert first.returncode == 0, first.stderr
    return score


def test_the_answer_comes_without_click_the_score_models_or_the_plan(
    project: Project, completed: Path
) -> None:
    done, seen = probe(project, "run", completed)
    assert seen["code"] == 0, done.stderr
    assert done.stdout == "job: already completed; nothing to do\n"
    assert done.stderr == ""
    heavy = {"click", "mzt.score.models", "yaml", "jinja2", "mzt.score.plan", "mzt.run.runner"}
    assert heavy.isdisjoint(seen["modules"])

    done, seen = probe(project, "run", "--json", completed)
    doc = json.loads(done.stdout)
    assert seen["code"] == 0 and "click" not in seen["modules"]
    assert doc["status"] == "completed" and doc["exit_code"] == 0
    assert doc["progress"] == {"completed": 2, "total": 2} and doc["sheets_failed"] == []
    assert doc["message"] == "already completed; nothing to do"
    assert doc["workspace"] == str(project.workspace.resolve())

    done, seen = probe(project, "run", "-q", completed)
    assert (seen["code"], done.stdout, done.stderr) == (0, "", "")


def test_the_answer_is_the_full_paths_answer(
    project: Project, completed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mzt import api

    monkeypatch.chdir(project.root)
    monkeypatch.setenv("MZT_HOME", str(project.home))
    fast = quick.answer_noop(completed)
    assert fast is not None
    monkeypatch.setattr(quick, "answer_noop", lambda *_a, **_k: None)
    full = api.run_score(completed)
    assert full.message == fast.message and full.exit_code == fast.exit_code
    assert (full.job_id, full.status, full.workspace) == (fast.job_id, fast.status, fast.workspace)
    assert (full.completed, full.total, full.failed_sheets) == (
        fast.completed,
        fast.total,
        fast.failed_sheets,
    )


def test_a_changed_score_takes_the_full_path(project: Project, completed: Path) -> None:
    project.score(score_data(description="now with a description"))
    done, seen = probe(project, "run", completed)
    assert seen["code"] == 0, done.stderr
    assert "starting fresh (the score changed since it completed)" in done.stdout
    assert "mzt.score.models" in seen["modules"]
    # The run recorded the new bytes: the next run answers fast again.
    done, seen = probe(project, "run", completed)
    assert "nothing to do" in done.stdout and "mzt.score.models" not in seen["modules"]


def test_a_comment_changes_the_bytes_but_not_the_answer(project: Project, completed: Path) -> None:
    completed.write_text("# a comment\n" + completed.read_text())
    assert quick.answer_noop(completed) is None
    done = project.mzt("run", completed)
    assert (done.returncode, done.stdout) == (0, "job: already completed; nothing to do\n")


def test_a_damaged_checkpoint_exits_5_as_before(project: Project, completed: Path) -> None:
    state = project.workspace / ".marianne" / "job.json"
    state.write_bytes(state.read_bytes()[:-40])
    done, seen = probe(project, "run", completed)
    assert seen["code"] == 5, done.stderr
    assert "job.json" in done.stderr


def test_a_settled_job_answers_from_its_kept_head_without_msgspec(
    project: Project, completed: Path
) -> None:
    done, seen = probe(project, "run", completed, settled=True)
    assert seen["code"] == 0 and "msgspec" in seen["modules"], done.stderr  # read and kept
    for _ in range(2):
        done, seen = probe(project, "run", completed, settled=True)
        assert (seen["code"], done.stdout) == (0, "job: already completed; nothing to do\n")
        assert "msgspec" not in seen["modules"] and "dataclasses" not in seen["modules"]
    state = project.workspace / ".marianne" / "job.json"
    state.write_bytes(state.read_bytes()[:-40])
    done, seen = probe(project, "run", completed, settled=True)
    assert seen["code"] == 5 and "job.json" in done.stderr


def test_a_held_lock_exits_75_as_before(project: Project, completed: Path) -> None:
    with JsonStateBackend(project.workspace).run_lock("job"):
        done = project.mzt("run", completed)
    assert done.returncode == 75, done.stderr


def test_run_options_and_other_workspaces_take_the_full_path(
    project: Project, completed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mzt.api import RunOptions

    monkeypatch.setenv("MZT_HOME", str(project.home))
    assert quick.answer_noop(completed) is not None
    assert quick.answer_noop(completed, workspace=project.workspace) is not None
    for options in (
        RunOptions(fresh=True),
        RunOptions(start_sheet=2),
        RunOptions(instrument="cli"),
    ):
        assert quick.answer_noop(completed, options=options) is None
    elsewhere = project.root / "elsewhere"
    assert quick.answer_noop(completed, workspace=elsewhere) is None
    done = project.mzt("run", "-w", elsewhere, completed)
    assert done.returncode == 0, done.stderr
    # That run answers for its own workspace from now on, and never for the score's own.
    there = quick.answer_noop(completed, workspace=elsewhere)
    assert there is not None and there.workspace == elsewhere.resolve()
    here = quick.answer_noop(completed)
    assert here is not None and here.workspace == project.workspace.resolve()
    done, seen = probe(project, "run", "-q", "-w", elsewhere, completed)
    assert (seen["code"], done.stdout, done.stderr) == (0, "", "")
    assert "click" not in seen["modules"] and "mzt.score.models" not in seen["modules"]
    # The score's own workspace given with -w is the same job: it answers too.
    again = quick.answer_noop(completed, workspace=project.workspace)
    assert again is not None and again.workspace == project.workspace.resolve()


def test_the_hash_is_the_score_loaders(completed: Path) -> None:
    from mzt.score.loader import load_score

    loaded = load_score(completed)
    assert loaded.file_digest is not None
    import hashlib

    assert hashlib.sha256(completed.read_bytes()).hexdigest() == loaded.file_digest


def test_the_size_limit_is_the_score_loaders() -> None:
    from mzt.score import loader

    assert quick.MAX_SCORE_BYTES == loader.MAX_SCORE_BYTES
