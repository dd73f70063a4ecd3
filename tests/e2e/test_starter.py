"""The score `mzt init` writes runs as it is, offline, with the command init prints.

Its `cli` sheets hand the task text to `cat` as data: bash never executes the English,
so a topic full of backquotes and `$(…)` is saved verbatim and runs nothing.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

MZT = [sys.executable, "-m", "mzt"]


def mzt(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MZT, *args],
        cwd=cwd,
        env={**os.environ, "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def next_step(init_output: str) -> list[str]:
    """The argv of the `next: …` line `mzt init` prints, with `mzt` as the installed one."""
    [line] = [line for line in init_output.splitlines() if line.startswith("next: ")]
    argv = shlex.split(line.removeprefix("next: "))
    assert argv[:2] == ["mzt", "run"], line
    return argv[1:]


def sheets(workspace: Path, job: str) -> dict[str, str]:
    status = mzt("status", "--json", job, "-w", str(workspace), cwd=workspace)
    assert status.returncode == 0, status.stderr
    return {num: sheet["status"] for num, sheet in json.loads(status.stdout)["sheets"].items()}


@pytest.mark.parametrize("folder", [None, "my scores"])
def test_the_printed_next_step_runs_the_starter_to_completion(
    tmp_path: Path, folder: str | None
) -> None:
    args = ["init"] if folder is None else ["init", "-p", folder]
    if folder is not None:
        (tmp_path / folder).mkdir()
    init = mzt(*args, cwd=tmp_path)
    assert init.returncode == 0, init.stderr
    score = tmp_path / (folder or ".") / "my-score.yaml"
    checked = mzt("validate", str(score), cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert checked.stderr == ""  # not a warning, not even a note
    assert "valid — 3 sheets" in checked.stdout

    run = mzt(*next_step(init.stdout), cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Traceback" not in run.stderr
    workspace = score.parent / "my-score-workspace"
    assert sheets(workspace, "my-score") == dict.fromkeys(("1", "2", "3"), "completed")
    outline = (workspace / "part-1.md").read_text()
    assert outline.startswith("You are writing part 1 of 3 of a short report on")


def test_the_task_is_data_bash_never_runs_its_words(tmp_path: Path) -> None:
    assert mzt("init", "words", cwd=tmp_path).returncode == 0
    score = tmp_path / "words.yaml"
    hostile = "`touch ticked` and $(touch dollared) and 'quotes\" & rm -rf ~; exit 3"
    starter = score.read_text()
    text = starter.replace(
        "topic: the history of the command line", f"topic: {json.dumps(hostile)}"
    )
    assert text != starter
    score.write_text(text)
    run = mzt("run", str(score), cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    workspace = tmp_path / "words-workspace"
    for name in ("ticked", "dollared"):
        assert not (tmp_path / name).exists() and not (workspace / name).exists()
    assert hostile in (workspace / "part-1.md").read_text()


def test_the_starter_says_how_to_switch_to_an_agent(tmp_path: Path) -> None:
    assert mzt("init", "s", cwd=tmp_path).returncode == 0
    text = (tmp_path / "s.yaml").read_text()
    assert "instrument: cli\n" in text
    assert "`instrument: claude-code`" in text and "{{ task }}" in text
    # Following that advice gives a score that validates and hands the agent the task.
    template_tail = text.split("{%- endset -%}\n", 1)[1].split("\nvalidations:", 1)[0]
    agent = text.replace("instrument: cli\n", "instrument: claude-code\n").replace(
        template_tail, "    {{ task }}\n"
    )
    (tmp_path / "agent.yaml").write_text(agent)
    shown = mzt("validate", "-v", "agent.yaml", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "claude-code" in shown.stdout
    assert "Write an outline of the report" in shown.stdout
    assert "END_OF_TASK" not in shown.stdout and "cat >" not in shown.stdout
