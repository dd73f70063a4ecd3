"""Held starts: the shim, and the shell that is its own shim."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from mzt.support.process import ProcessRequest, run_process
from mzt.support.spawnhold import hold_argv, locate


def test_a_shell_script_waits_on_its_own_first_line() -> None:
    held = hold_argv(("bash", "-c", "echo hi", "name", "arg"), with_stdin=False)
    assert held[:2] == ("bash", "-c") and held[3:] == ("name", "arg")
    assert held[2].endswith("echo hi") and "\n" not in held[2]


def test_any_other_program_waits_behind_sh() -> None:
    assert hold_argv(("python3", "-c", "pass"), with_stdin=True)[:2] == ("/bin/sh", "-c")
    assert hold_argv(("bash", "script.sh"), with_stdin=True)[-2:] == ("bash", "script.sh")


@pytest.mark.parametrize("with_stdin", [True, False])
def test_a_held_shell_whose_parent_vanishes_runs_nothing(tmp_path: Path, with_stdin: bool) -> None:
    marker = tmp_path / "ran"
    argv = hold_argv(("bash", "-c", f"touch {marker}"), with_stdin=with_stdin)
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE)
    assert proc.stdin is not None
    proc.stdin.close()  # end of file instead of the release line: the parent died
    assert proc.wait(timeout=30) == 125
    assert not marker.exists()


def _held(tmp_path: Path, script: str, stdin: bytes | None) -> tuple[int | None, str, str]:
    request = ProcessRequest(
        ("bash", "-c", script), tmp_path, dict(os.environ), stdin=stdin,
        on_spawned=lambda pid, group, start: True,
    )  # fmt: skip
    outcome = run_process(request)
    return outcome.exit_code, outcome.stdout_tail, outcome.stderr_tail


def test_a_released_shell_gets_its_whole_prompt(tmp_path: Path) -> None:
    assert _held(tmp_path, "cat", b"line one\nline two\n") == (0, "line one\nline two\n", "")


def test_without_a_prompt_the_script_reads_dev_null(tmp_path: Path) -> None:
    assert _held(tmp_path, "cat; echo end", None) == (0, "end\n", "")


def test_error_line_numbers_are_the_scripts_own(tmp_path: Path) -> None:
    code, _, err = _held(tmp_path, "true\nno-such-command-here", None)
    assert code == 127 and "line 2" in err


def test_locate_finds_the_file_on_path(tmp_path: Path) -> None:
    tool = tmp_path / "bin" / "mzt-hold-tool"
    tool.parent.mkdir()
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o700)
    env = {"PATH": f"/nonexistent:{tool.parent}"}
    assert locate("mzt-hold-tool", tmp_path, env) == str(tool)
    assert isinstance(locate("mzt-hold-missing", tmp_path, env), FileNotFoundError)
    assert locate(str(tool), tmp_path, env) == str(tool)
