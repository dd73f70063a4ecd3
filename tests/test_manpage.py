"""The man page documents every command and option, renders cleanly, and is installed."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest

from mzt.cli import cli

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "man" / "mzt.1"


def page_text() -> str:
    # troff escapes a literal minus as \- ; undo that to compare with option names
    return PAGE.read_text(encoding="utf-8").replace("\\-", "-")


def commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    """Every command under ``group``, loaded as `mzt --help` loads them (the group imports
    a command's module only when it is looked up)."""
    ctx = click.Context(group)
    found = []
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, name
        found.append((f"{prefix}{name}", command))
        if isinstance(command, click.Group):
            found += commands(command, f"{prefix}{name} ")
    return found


def test_every_command_is_seen() -> None:
    names = {name for name, _ in commands(cli)}
    assert {"run", "top", "recover", "modify", "config", "instruments list"} <= names


def test_every_command_is_documented() -> None:
    text = page_text()
    missing = [name for name, _ in commands(cli) if name not in text]
    assert not missing, f"commands missing from man/mzt.1: {missing}"


def test_every_option_is_documented() -> None:
    text = page_text()
    missing = []
    for name, command in [("mzt", cli), *commands(cli)]:
        for param in command.params:
            if not isinstance(param, click.Option):
                continue
            for flag in param.opts + param.secondary_opts:
                if flag.startswith("--") and flag not in text:
                    missing.append(f"{name} {flag}")
    assert not missing, f"options missing from man/mzt.1: {missing}"


def test_exit_codes_and_sections() -> None:
    text = page_text()
    for section in (
        "NAME",
        "SYNOPSIS",
        "DESCRIPTION",
        "COMMANDS",
        "OPTIONS",
        "SCORE FILES",
        "FILES",
        "ENVIRONMENT",
        "EXIT STATUS",
        "EXAMPLES",
    ):
        assert re.search(rf"^\.SH {section}$", text, re.M), section
    for code in ("0", "1", "2", "3", "4", "5", "6", "70", "75", "128+n"):
        assert re.search(rf"^\.B {re.escape(code)}$", text, re.M), code
    assert ".marianne-pause-" in text and "cron" in text


@pytest.mark.skipif(shutil.which("man") is None, reason="man is not installed")
def test_renders_without_warnings() -> None:
    env = {**os.environ, "MANWIDTH": "80", "LC_ALL": "C.UTF-8"}
    result = subprocess.run(
        ["man", "--warnings", "-l", str(PAGE)], capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode == 0
    assert result.stderr == "", result.stderr
    assert "EXIT STATUS" in result.stdout


def test_installed_with_the_package() -> None:
    installed = Path(sys.prefix) / "share" / "man" / "man1" / "mzt.1"
    assert installed.read_text(encoding="utf-8").startswith(".TH MZT 1")
