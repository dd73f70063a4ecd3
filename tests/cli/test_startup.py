"""Each command imports what its path needs, and nothing heavier."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import click
import pytest

from mzt.cli import COMMANDS, cli
from tests.cli.conftest import Result

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "hello.yaml"

# Runs a command line through the real entry point, then reports what it imported. A fast
# answer ends the process with os._exit; here that exit is an ordinary one.
PROBE = """
import json, os, sys
from mzt.entry import main
def _exit(code):
    raise SystemExit(code)
os._exit = _exit
sys.argv = ["mzt", *sys.argv[1:]]
try:
    main()
    code = 0
except SystemExit as exc:
    code = exc.code
sys.stderr.write("\\nMODULES " + json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def imported(tmp_path: Path, *args: str) -> set[str]:
    home = tmp_path / "home"
    env = {**os.environ, "MZT_HOME": str(home), "NO_COLOR": "1"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    err, _, tail = done.stderr.rpartition("\nMODULES ")
    report = json.loads(tail)
    assert report["code"] == 0, err
    return set(report["modules"])


@pytest.fixture
def user_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A user's environment with ``tmp_path/home`` as MZT_HOME and no colour, set for the
    in-process commands too; the copy is for subprocesses."""
    monkeypatch.setenv("MZT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("NO_COLOR", "1")
    return {**os.environ}


def test_version_imports_neither_click_nor_the_api(tmp_path: Path) -> None:
    modules = imported(tmp_path, "--version")
    assert {"click", "mzt.api", "mzt.cli"}.isdisjoint(modules)


@pytest.mark.parametrize("args", [["status"], ["list"], ["list", "--json"]])
def test_status_and_list_import_no_model_and_no_profile(tmp_path: Path, args: list[str]) -> None:
    modules = imported(tmp_path, *args)
    # The state models are msgspec structs, cheap to import; the one loader needs them.
    heavy = {
        "mzt.score.models",
        "yaml",
        "jinja2",
        "mzt.score.loader",
        "mzt.run.runner",
        "mzt.instruments.loader",
        "mzt.instruments.profile",
        "mzt.cli.commands",
        "psutil",
        "typing_extensions",  # msgspec does without it (see mzt.entry), and so does mzt
        "inspect",
    }
    assert heavy.isdisjoint(modules), sorted(heavy & modules)


def test_a_run_imports_neither_psutil_nor_typing_extensions(tmp_path: Path) -> None:
    modules = imported(tmp_path, "run", "-q", "-w", str(tmp_path / "ws"), str(EXAMPLE))
    assert "mzt.run.runner" in modules  # it really ran
    # `socket` only ever named this host, which `os.uname` names as well.
    assert {"psutil", "typing_extensions", "socket"}.isdisjoint(modules)


def test_a_run_of_a_fixed_command_loads_no_jinja(tmp_path: Path) -> None:
    score = tmp_path / "fixed.yaml"
    score.write_text(
        "name: fixed\ninstrument: cli\nsheet: {size: 1, total_items: 2}\n"
        'prompt: {template: "test -d ."}\n'
    )
    modules = imported(tmp_path, "run", "-q", "-w", str(tmp_path / "ws"), str(score))
    assert "mzt.run.runner" in modules
    assert not any(m.startswith("jinja2") for m in modules), sorted(modules)
    # Quiet, without isolation or Slurm: no terminal line, no look for git or sbatch.
    assert {"mzt.cli.liveline", "shutil"}.isdisjoint(modules)
    assert "jinja2" in imported(tmp_path, "validate", str(EXAMPLE))  # a template with markup


def test_validate_imports_no_runner_and_reads_no_profile_model(tmp_path: Path) -> None:
    modules = imported(tmp_path, "validate", str(EXAMPLE))
    assert "mzt.score.loader" in modules  # it does validate
    heavy = {
        "mzt.run.runner",
        "mzt.execute.attempt",
        "mzt.state.checkpoint",
        "mzt.instruments.profile",
        "mzt.instruments.command",
        "mzt.cli.observe_cmd",
    }
    assert heavy.isdisjoint(modules), sorted(heavy & modules)


def test_the_command_table_names_every_command_it_loads() -> None:
    ctx = click.Context(cli)
    for name, (module, attribute) in COMMANDS.items():
        command = cli.get_command(ctx, name)
        assert isinstance(command, click.Command), (name, module, attribute)
        assert command.name == name
    assert cli.list_commands(ctx) == sorted(COMMANDS)


def test_status_and_list_answered_before_click_print_what_the_commands_print(
    tmp_path: Path,
    mzt: Callable[..., Result],
    user_env: dict[str, str],
) -> None:
    score = tmp_path / "s.yaml"
    score.write_text(
        "name: s\nworkspace: ./ws\ninstrument: cli\nsheet: {size: 1, total_items: 1}\n"
        "prompt: {template: 'true'}\n"
    )
    env = user_env
    shapes = [
        ["status"],
        ["list"],
        ["list", "-q"],
        ["status", "--json"],
        ["status"],
        ["status", "s"],
        ["status", "--json", "s"],
        ["list"],
        ["list", "--all"],
        ["list", "-a", "--json"],
    ]
    for i, args in enumerate(shapes):
        if i == 3:
            ran = subprocess.run(
                [sys.executable, "-m", "mzt", "run", "-q", str(score)], env=env, check=False
            )
            assert ran.returncode == 0
        modules = imported(tmp_path, *args)
        assert "click" not in modules, args
        fast = _installed(args, tmp_path, env)
        slow = mzt(*args)
        assert (fast.returncode, fast.stderr) == (slow.code, slow.err)
        assert _timeless(fast.stdout) == _timeless(slow.out)


def _installed(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``args`` through the real entry point, in a process of its own."""
    return subprocess.run(
        [sys.executable, "-m", "mzt", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def _timeless(text: str) -> str:
    # The two answers are given moments apart: ages differ, nothing else may.
    return re.sub(r"\d+(\.\d+)?[smhd](\d+[smh])? ago", "AGE ago", text)


def test_status_with_no_jobs_reads_no_store_module(tmp_path: Path) -> None:
    modules = imported(tmp_path, "status")
    # An empty registry is one folder listing: no checkpoint reader, no msgspec, no typing.
    heavy = {"msgspec", "typing", "mzt.state.registry", "mzt.state.reading", "mzt.views.status"}
    assert heavy.isdisjoint(modules), sorted(heavy & modules)


def test_status_of_a_job_in_a_workspace_is_answered_before_click(
    tmp_path: Path,
    mzt: Callable[..., Result],
    user_env: dict[str, str],
) -> None:
    score = tmp_path / "s.yaml"
    score.write_text(
        "name: s\nworkspace: ./ws\ninstrument: cli\nsheet: {size: 1, total_items: 2}\n"
        "prompt: {template: 'true'}\n"
    )
    env = user_env
    ran = subprocess.run([sys.executable, "-m", "mzt", "run", "-q", str(score)], env=env)
    assert ran.returncode == 0
    ws = str(tmp_path / "ws")
    (tmp_path / "a-file").write_text("")
    answered = [
        ["status", "s", "-w", ws],
        ["status", "--json", "s", "--workspace", ws],
        ["status", f"--workspace={ws}", "s", "-j"],
        ["status", "-w", ws],  # the overview: the workspace plays no part, as with click
    ]
    left_to_click = [
        ["status", "s", "-w", str(tmp_path / "a-file")],  # click refuses a file
        ["status", "s", "-w", ws, "-w", ws],
        ["status", "s", "-w", ws, "-v"],
        ["status", "nosuchjob", "-w", ws],  # errors are click's to report
        ["status", "nosuchjob", "-w", ws, "--json"],
    ]
    for args in answered + left_to_click:
        modules = imported(tmp_path, *args) if args in answered else set()
        assert "click" not in modules, args
        if args == answered[0]:
            # Each of these cost a big job's `status` milliseconds it needs for nothing:
            # OpenSSL (through hashlib), `dataclasses`, the rate-limit reader with no
            # limit recorded, and the redaction rules with RE2 for printing nothing captured.
            needless = {
                "hashlib",
                "dataclasses",
                "mzt.instruments.ratelimits",
                "mzt.support.redact",
                "re2",
            }
            assert needless.isdisjoint(modules), sorted(needless & modules)
        fast = _installed(args, tmp_path, env)
        slow = mzt(*args)
        assert (fast.returncode, fast.stderr) == (slow.code, slow.err), args
        assert _timeless(fast.stdout) == _timeless(slow.out), args


def test_a_run_is_started_before_click_and_fails_as_the_click_command_does(
    tmp_path: Path,
    mzt: Callable[..., Result],
    monkeypatch: pytest.MonkeyPatch,
    user_env: dict[str, str],
) -> None:
    env = user_env
    modules = imported(tmp_path, "run", "-q", "-w", str(tmp_path / "ws"), str(EXAMPLE))
    assert "mzt.run.runner" in modules and "click" not in modules
    (tmp_path / "bad.yaml").write_text("name: [\n")
    (tmp_path / "a-file").write_text("")
    shapes = [
        ["run", "bad.yaml"],
        ["run", "-j", "bad.yaml"],
        ["run", "-q", "missing.yaml"],
        ["run", "--json", "--no-queue", "missing.yaml"],
        ["run", "-w", "a-file", str(EXAMPLE)],  # click's own refusal
    ]
    for args in shapes:
        fast = _installed(args, tmp_path, env)
        monkeypatch.chdir(tmp_path)
        slow = mzt(*args)
        assert fast.returncode != 0, args
        assert (fast.returncode, fast.stdout, fast.stderr) == (slow.code, slow.out, slow.err), args
    # A run that works ends the same way on both paths (its own workspace each).
    for ws, how in (("ws-fast", "fast"), ("ws-click", "click")):
        args = ["run", "-j", "-w", str(tmp_path / ws), str(EXAMPLE)]
        if how == "fast":
            done = _installed(args, tmp_path, env)
            code, out = done.returncode, done.stdout
        else:
            result = mzt(*args)
            code, out = result.code, result.out
        document = json.loads(out)
        assert (code, document["status"], document["exit_code"]) == (0, "completed", 0), how


def test_a_run_with_mzt_executor_set_is_left_to_click_which_reads_it(
    tmp_path: Path,
    mzt: Callable[..., Result],
    monkeypatch: pytest.MonkeyPatch,
    user_env: dict[str, str],
) -> None:
    monkeypatch.setenv("MZT_EXECUTOR", "local")
    args = ["run", "-q", "-w", str(tmp_path / "ws"), str(EXAMPLE)]
    assert "click" in imported(tmp_path, *args)  # --executor's variable, read by click
    assert "click" not in imported(tmp_path, *args)  # completed now: nothing to do
    monkeypatch.setenv("MZT_EXECUTOR", "nowhere")
    env = {**os.environ}
    fresh = ["run", "-q", "-w", str(tmp_path / "ws2"), str(EXAMPLE)]
    fast = _installed(fresh, tmp_path, env)
    slow = mzt(*fresh)
    assert fast.returncode == 2 and "nowhere" in fast.stderr
    assert (fast.returncode, fast.stderr) == (slow.code, slow.err)
