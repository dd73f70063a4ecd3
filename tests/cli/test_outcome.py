"""`mzt.cli.outcome` through the real command: the end of a failed run says what to do."""

from __future__ import annotations

import json
from pathlib import Path

from mzt.cli.outcome import next_step
from mzt.run.results import RunResult, SheetFailure
from tests import live_runs
from tests.e2e.conftest import Project

project = live_runs.project  # a project whose MZT_HOME this process shares with its runs

CLI_STEP = {"size": 1, "total_items": 2}
ONCE = {"max_retries": 1}  # one execution per sheet: the outcome is what is under test


def _score(project: Project, **extra: object) -> Path:
    return project.score({"name": "job", "sheet": CLI_STEP, "retry": ONCE, **extra})


def _failed(*failures: SheetFailure) -> RunResult:
    return RunResult("job", "failed", 1, 0, 1, [1], 0.1, Path("/ws"), "failed", failures)


def test_a_missing_program_asks_for_an_install() -> None:
    # A program can vanish between the check before the run and the attempt.
    failure = SheetFailure(1, "E505", "Executable not found: ghost is not on PATH", "ghost")
    said = next_step(_failed(failure))
    assert said.startswith("install ghost (`mzt instruments check ghost` says how), then")
    assert "continue it with" not in said


def test_an_unknown_instrument_asks_to_fix_the_name() -> None:
    failure = SheetFailure(1, "E505", "unknown instrument 'nosuch'", "nosuch")
    assert next_step(_failed(failure)).startswith("no instrument is called nosuch: fix the name")


def test_only_a_missing_or_unexecutable_command_asks_for_an_install() -> None:
    for status in (126, 127):
        failure = SheetFailure(1, "E009", f"exited with status {status}", "cli", status)
        assert next_step(_failed(failure)).startswith("a command the sheet runs is missing")
    plain = SheetFailure(1, "E009", "exited with status 1", "cli", 1)
    assert next_step(_failed(plain)).startswith("continue it with `mzt resume job -w /ws`")


def test_a_missing_command_in_a_cli_sheet_asks_for_an_install_not_a_resume(
    project: Project,
) -> None:
    score = _score(project, instrument="cli", prompt={"template": "no-such-command-xyz --flag"})
    result = project.mzt("run", score)
    assert result.returncode == 1
    assert "exited with status 127" in result.stderr + result.stdout
    hint = result.stderr.split("hint: ", 1)[1]
    assert hint.startswith("a command the sheet runs is missing or cannot be executed"), hint
    assert "install it or fix the score, then `mzt resume job -w" in hint
    assert "continue it with" not in hint


def test_a_prompt_that_cannot_render_asks_to_fix_the_score(project: Project) -> None:
    score = _score(project, instrument="cli", prompt={"template": "{{ 1 // 0 }}"})
    result = project.mzt("run", score)
    assert result.returncode == 1
    assert "hint: fix the score" in result.stderr, result.stderr


def test_a_plain_failure_still_offers_resume(project: Project) -> None:
    score = _score(project, instrument="cli", prompt={"template": "exit 1"})
    result = project.mzt("run", score)
    assert result.returncode == 1
    assert "hint: continue it with `mzt resume job -w" in result.stderr


def test_quiet_names_each_failed_sheet_and_json_carries_them(project: Project) -> None:
    free = {"size": 1, "total_items": 2, "dependencies": {2: []}}
    score = project.score(
        {
            "name": "job",
            "sheet": free,
            "instrument": "cli",
            "retry": ONCE,
            "prompt": {"template": "exit 1"},
        }
    )
    quiet = project.mzt("run", "-q", score)
    assert quiet.returncode == 1 and quiet.stdout == ""
    lines = [line.strip() for line in quiet.stderr.splitlines() if line.startswith("  sheet")]
    assert [line.split(";")[0] for line in lines] == [
        "sheet 1: E009 exited with status 1",
        "sheet 2: E009 exited with status 1",
    ]
    as_json = project.mzt("run", "--json", "--fresh", score)
    doc = json.loads(as_json.stdout)
    assert [(f["sheet"], f["error_code"]) for f in doc["failures"]] == [(1, "E009"), (2, "E009")]
    assert doc["failures"][0]["message"].startswith("exited with status 1")
