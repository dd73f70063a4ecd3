"""A run that cannot possibly work refuses to start (exit 2) and writes nothing."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import Project

STEP = {"size": 1, "total_items": 3}
ONCE = {"max_retries": 1}


def _score(project: Project, **extra: object) -> Path:
    data: dict[str, object] = {"name": "job", "sheet": STEP, "retry": ONCE, **extra}
    data.setdefault("instrument", "cli")
    data.setdefault("prompt", {"template": "echo {{ sheet_num }}"})
    return project.score(data)


def _nothing_written(project: Project) -> None:
    assert not project.workspace.exists()
    registry = project.home / "registry"
    assert not registry.exists() or not any(registry.iterdir())


@pytest.fixture
def bare_path(tmp_path: Path) -> str:
    """A PATH with bash and nothing else: none of the agent CLIs is installed there."""
    folder = tmp_path / "bin"
    folder.mkdir()
    bash = shutil.which("bash")
    assert bash is not None
    (folder / "bash").symlink_to(bash)
    return str(folder)


def _mzt(project: Project, path: str, *args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mzt", *map(str, args)],
        cwd=project.root,
        env={**project.env(), "PATH": path},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_an_unknown_instrument_in_the_score_is_refused_with_a_suggestion(
    project: Project,
) -> None:
    score = _score(project, instrument="clii")
    result = project.mzt("run", score)
    assert result.returncode == 2, result.stderr
    assert "the score's instrument 'clii' is unknown (sheets 1-3)" in result.stderr
    assert "Did you mean 'cli'" in result.stderr
    assert "Traceback" not in result.stderr
    _nothing_written(project)


def test_an_unknown_fallback_is_refused_too(project: Project) -> None:
    score = _score(project, instrument_fallbacks=["codx-cli"])
    result = project.mzt("run", score)
    assert result.returncode == 2
    assert "'codx-cli' is unknown" in result.stderr and "'codex-cli'" in result.stderr
    _nothing_written(project)


def test_an_unknown_instrument_option_is_refused_in_json_too(project: Project) -> None:
    score = _score(project)
    result = project.mzt("run", "--json", "--instrument", "nosuch", score)
    assert result.returncode == 2
    error = json.loads(result.stdout)
    assert error["schema"] == "mzt.error/1"
    assert error["error"]["code"] == "RUN_REFUSED"
    assert "'nosuch' given with --instrument is unknown" in error["error"]["message"]
    assert error["error"]["hint"].startswith("Known instruments: ")
    _nothing_written(project)


def test_quiet_still_says_why(project: Project) -> None:
    result = project.mzt("run", "-q", "--instrument", "nosuch", _score(project))
    assert result.returncode == 2 and result.stdout == ""
    assert "'nosuch' given with --instrument is unknown" in result.stderr


def test_a_chain_of_missing_programs_is_refused_naming_each(
    project: Project, bare_path: str
) -> None:
    score = _score(project, instrument="claude-code", instrument_fallbacks=["gemini-cli"])
    result = _mzt(project, bare_path, "run", score)
    assert result.returncode == 2, result.stderr
    said = result.stderr
    assert "no instrument of sheets 1-3 can be used here" in said
    assert "claude-code (not installed: `claude` is not on PATH)" in said
    assert "gemini-cli (not installed: `gemini` is not on PATH)" in said
    assert "`mzt instruments check claude-code` says how" in said
    _nothing_written(project)


def test_a_missing_profile_program_is_refused(project: Project) -> None:
    project.fake_profile("ghost", executable="/nonexistent/agent-binary")
    result = project.mzt("run", _score(project, instrument="ghost"))
    assert result.returncode == 2
    assert "ghost (not installed: `/nonexistent/agent-binary` is not on PATH)" in result.stderr
    _nothing_written(project)


def test_a_chain_with_one_program_present_runs_as_before(project: Project, bare_path: str) -> None:
    score = _score(project, instrument="claude-code", instrument_fallbacks=["cli"])
    result = _mzt(project, bare_path, "run", score)
    assert result.returncode == 0, result.stderr
    assert {s["status"] for s in project.sheets("job").values()} == {"completed"}


def test_a_variable_undefined_on_every_sheet_is_refused_but_validates(project: Project) -> None:
    score = _score(project, prompt={"template": "echo {{ sheet_num }} {{ targt }}"})
    result = project.mzt("run", score)
    assert result.returncode == 2, result.stderr
    assert "the template uses 'targt', which is not defined, on every sheet" in result.stderr
    _nothing_written(project)
    checked = project.mzt("validate", "--json", score)
    assert checked.returncode == 0
    assert [w["code"] for w in json.loads(checked.stdout)["warnings"]] == ["V101", "V203"]


def test_a_variable_every_sheet_reaches_through_a_branch_is_refused(project: Project) -> None:
    # Not read at the top level, so each sheet's prompt is rendered to find out.
    template = "{% if sheet_num > 0 %}echo {{ targt }}{% else %}echo x{% endif %}"
    result = project.mzt("run", _score(project, prompt={"template": template}))
    assert result.returncode == 2, result.stderr
    assert "'targt', which is not defined, on every sheet" in result.stderr
    _nothing_written(project)


def test_a_variable_undefined_on_some_sheets_runs_as_before(project: Project) -> None:
    template = "echo {{ sheet_num }}{% if sheet_num > 1 %} {{ targt }}{% endif %}"
    result = project.mzt("run", _score(project, prompt={"template": template}))
    assert result.returncode == 1, result.stderr
    sheets = project.sheets("job")
    assert sheets[1]["status"] == "completed"
    assert sheets[2]["error_code"] == "E301"


def test_resume_of_a_job_that_cannot_run_is_refused_and_changes_nothing(
    project: Project,
) -> None:
    score = _score(project, prompt={"template": "exit 1"})
    assert project.mzt("run", score).returncode == 1
    files = [project.workspace / ".marianne" / f"job.{ext}" for ext in ("json", "history.jsonl")]
    before = [f.read_bytes() for f in files]
    _score(project, instrument="clii", prompt={"template": "exit 1"})
    result = project.mzt("resume", "job", "-w", project.workspace)
    assert result.returncode == 2, result.stderr
    assert "'clii' is unknown" in result.stderr
    assert [f.read_bytes() for f in files] == before


def test_dry_run_shows_the_instrument_option_and_what_a_run_would_refuse(
    project: Project,
) -> None:
    score = _score(project, instrument="claude-code", instrument_fallbacks=["gemini-cli"])
    text = project.mzt("run", "--dry-run", "--instrument", "cli", score)
    assert text.returncode == 0, text.stderr
    rows = [line.split() for line in text.stdout.splitlines() if line[:1].isdigit()]
    assert [row[2] for row in rows] == ["cli", "cli", "cli"]
    assert "claude-code" not in text.stdout and "gemini-cli" not in text.stdout
    doc = json.loads(project.mzt("run", "-n", "--json", "--instrument", "cli", score).stdout)
    assert [(s["instrument"], s["fallbacks"]) for s in doc["sheets"]] == [("cli", [])] * 3
    assert doc["refusal"] is None
    refused = project.mzt("run", "-n", "--instrument", "nosuch", score)
    assert refused.returncode == 0
    assert "warning: a run would not start: the instrument 'nosuch'" in refused.stderr
    _nothing_written(project)


def test_a_name_known_only_to_marianne_or_a_broken_profile_counts_as_unusable(
    project: Project,
) -> None:
    folder = project.home / "instruments"
    folder.mkdir()
    (folder / "half.yaml").write_text("name: half\nkind: cli\ncli: {}\n")
    score = _score(project, instrument="recursive_light", instrument_fallbacks=["half"])
    result = project.mzt("run", score)
    assert result.returncode == 2, result.stderr
    assert "recursive_light (not available in mzt: " in result.stderr
    assert f"half (its profile {folder / 'half.yaml'} was skipped: " in result.stderr
    assert "unknown" not in result.stderr
    _nothing_written(project)


def test_an_alias_is_shown_with_its_profile_and_checked_by_the_profile(
    project: Project, bare_path: str
) -> None:
    aliases = {"writer": {"profile": "claude-code"}, "second": {"profile": "gemini-cli"}}
    score = _score(
        project,
        instruments=aliases,
        instrument="writer",
        sheet={**STEP, "instrument_map": {"second": [3]}},
    )
    result = _mzt(project, bare_path, "run", score)
    assert result.returncode == 2, result.stderr
    said = result.stderr
    assert "no instrument of sheets 1-2 can be used here: writer (profile claude-code, " in said
    assert "no instrument of sheet 3 can be used here: second (profile gemini-cli, " in said
    assert "Install claude-code or gemini-cli (`mzt instruments check claude-code`" in said
    _nothing_written(project)


def test_sheets_before_the_start_sheet_are_not_checked(project: Project) -> None:
    project.fake_profile("ghost", executable="/nonexistent/agent-binary")
    score = _score(project, sheet={**STEP, "instrument_map": {"ghost": [1]}})
    refused = project.mzt("run", score)
    assert refused.returncode == 2 and "sheet 1 can be used here: ghost" in refused.stderr
    result = project.mzt("run", "-s", "2", score)
    assert result.returncode == 0, result.stderr


def test_resume_checks_only_the_sheets_it_runs_again(project: Project) -> None:
    go = project.root / "go"
    template = f"test {{{{ sheet_num }}}} = 1 || test -e {go}"
    score = _score(project, prompt={"template": template})
    assert project.mzt("run", score).returncode == 1  # sheet 1 completes, 2 and 3 fail
    project.fake_profile("ghost", executable="/nonexistent/agent-binary")
    _score(project, sheet={**STEP, "instrument_map": {"ghost": [1]}}, prompt={"template": template})
    go.touch()
    result = project.mzt("resume", "job", "-w", project.workspace)
    assert result.returncode == 0, result.stderr
    assert {s["status"] for s in project.sheets("job").values()} == {"completed"}


def test_instrument_cli_on_an_agent_score_says_prompts_run_as_bash(project: Project) -> None:
    agent = _score(project, instrument="claude-code", prompt={"template": "echo ran"})
    result = project.mzt("run", "--instrument", "cli", agent)
    assert result.returncode == 0, result.stderr
    said = result.stdout + result.stderr
    assert "--instrument cli runs each sheet's prompt as a bash script" in said
    assert "written for claude-code" in said
    # A score written for cli says nothing of the kind.
    plain = project.mzt("run", "--instrument", "cli", _score(project), "-w", project.root / "w2")
    assert plain.returncode == 0 and "bash script" not in plain.stdout + plain.stderr
