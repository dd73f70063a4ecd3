"""Every example either runs offline to completion here or says which agent it needs.

The first lines of each `examples/*.yaml` say one of two things: ``Runs offline`` (the
installed `mzt run` then runs it here, in a temporary workspace, to completion) or
``Needs an agent CLI`` (and its plan must really use an agent). An example that says
neither, or runs offline yet fails, fails this test.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from mzt import api
from mzt.score.templating import compile_template, prompt_variables, render
from tests.score.score_cli import EXAMPLES, mzt_command

HEADER_LINES = 6
OFFLINE = "Runs offline"
AGENT = "Needs an agent CLI"
EXAMPLE_FILES = sorted(p.name for p in EXAMPLES.glob("*.yaml"))


def first_lines(name: str) -> str:
    return "\n".join((EXAMPLES / name).read_text(encoding="utf-8").splitlines()[:HEADER_LINES])


def said(name: str) -> list[str]:
    head = first_lines(name)
    return [k for k in (OFFLINE, AGENT) if f"# {k}" in head]


def needs_agent(name: str) -> bool:
    return AGENT in said(name)


# An example that says neither is run like an offline one, and fails the header test.
OFFLINE_FILES = [n for n in EXAMPLE_FILES if not needs_agent(n)]
AGENT_FILES = [n for n in EXAMPLE_FILES if needs_agent(n)]


def mzt(*args: str | Path, cwd: Path, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*mzt_command(), *map(str, args)],
        cwd=cwd,
        env={**os.environ, "MZT_HOME": str(home), "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.parametrize("name", EXAMPLE_FILES)
def test_every_example_says_whether_it_runs_offline(name: str) -> None:
    assert len(said(name)) == 1, (
        f"examples/{name}: its first {HEADER_LINES} lines must say either '{OFFLINE}' "
        f"(the test suite then runs it) or '{AGENT}: <which one>'"
    )


def test_the_offline_and_agent_examples_are_both_there() -> None:
    assert "hello.yaml" in OFFLINE_FILES
    assert "mixed-instruments.yaml" in AGENT_FILES


@pytest.mark.parametrize("name", AGENT_FILES)
def test_an_agent_example_names_its_agent_and_really_uses_one(name: str) -> None:
    head = first_lines(name)
    line = next(line for line in head.splitlines() if AGENT in line)
    assert "`" in line.partition(AGENT)[2], f"{name}: say which program, e.g. `claude`"
    assert "--dry-run" in head, f"{name}: say how to look at it without the agent"
    result = api.validate_score(EXAMPLES / name)
    assert result.plan is not None
    assert {s.instrument.profile for s in result.plan.sheets} - {"cli"}, (
        f"{name} runs on bash alone: make it '{OFFLINE}' so the test suite runs it"
    )


class OfflineRuns:
    """Each offline example run at most once by the installed `mzt run -w`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.home = root / "home"
        self._done: dict[str, Path] = {}

    def workspace(self, name: str) -> Path:
        if name not in self._done:
            workspace = self.root / name.removesuffix(".yaml")
            run = mzt("run", "-w", workspace, EXAMPLES / name, cwd=self.root, home=self.home)
            assert run.returncode == 0, f"{name}: {run.stdout}{run.stderr}"
            assert "Traceback" not in run.stderr
            self._done[name] = workspace
        return self._done[name]


@pytest.fixture(scope="module")
def offline_runs(tmp_path_factory: pytest.TempPathFactory) -> OfflineRuns:
    return OfflineRuns(tmp_path_factory.mktemp("examples"))


@pytest.mark.parametrize("name", OFFLINE_FILES)
def test_an_offline_example_runs_to_completion(name: str, offline_runs: OfflineRuns) -> None:
    workspace = offline_runs.workspace(name)
    job = api.validate_score(EXAMPLES / name)
    assert job.loaded is not None
    root, home = offline_runs.root, offline_runs.home
    status = mzt("status", "--json", job.loaded.score.name, "-w", workspace, cwd=root, home=home)
    assert status.returncode == 0, status.stderr
    sheets = json.loads(status.stdout)["sheets"]
    assert sheets and {s["status"] for s in sheets.values()} == {"completed"}
    # Nothing was written next to the example itself.
    assert not (EXAMPLES / f"{job.loaded.score.name}-workspace").exists()


def test_hello_writes_its_page(offline_runs: OfflineRuns) -> None:
    page = (offline_runs.workspace("hello.yaml") / "hello.md").read_text(encoding="utf-8")
    assert page.count("\n- ") == 3
    assert "Konnichiwa" in page


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_mixed_instruments_collects_commits_when_its_tag_is_missing(tmp_path: Path) -> None:
    """Sheet 1 (bash and git) works out of the box: `since` names a tag that few
    repositories have, so it takes the history instead of failing on git's exit 128."""
    repo = tmp_path / "repo"
    env = {
        **os.environ,
        **{
            f"GIT_{who}_{what}": value
            for who in ("AUTHOR", "COMMITTER")
            for what, value in (("NAME", "T"), ("EMAIL", "t@example.org"))
        },
    }
    subprocess.run(["git", "init", "-q", str(repo)], check=True, env=env)
    for n in range(3):
        subprocess.run(
            ["git", "-C", str(repo), "commit", "-q", "--allow-empty", "-m", f"change {n}"],
            check=True,
            env=env,
        )
    workspace = repo / "notes" / "ws"  # the score's `repo: ../..` is then the repository
    workspace.mkdir(parents=True)
    result = api.validate_score(EXAMPLES / "mixed-instruments.yaml", workspace=workspace)
    assert result.loaded is not None and result.plan is not None
    assert result.loaded.template is not None
    sheet = result.plan.sheet(1)
    assert sheet.instrument.profile == "cli"
    variables = prompt_variables(result.plan, sheet, result.loaded.score, str(workspace))
    script = render(compile_template(result.loaded.template), variables)
    run = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert run.returncode == 0, run.stderr
    assert "no v1.4.0" in run.stdout
    subjects = [
        line.split("\t")[2] for line in (workspace / "commits.tsv").read_text().splitlines()
    ]
    assert subjects == ["change 2", "change 1"]
