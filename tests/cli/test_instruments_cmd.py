"""`mzt instruments list` and `mzt instruments check NAME`: output, JSON and exit codes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from tests.cli.conftest import Result

SECRET = "sk-ant-api03-" + "Zq9" * 30
Mzt = Callable[..., Result]


@pytest.fixture
def bin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """PATH is one folder holding bash and a stand-in `claude`; nothing else is found."""
    folder = tmp_path / "bin"
    folder.mkdir()
    bash = shutil.which("bash")
    assert bash is not None
    (folder / "bash").symlink_to(bash)
    claude = folder / "claude"
    claude.write_text("#!/bin/sh\nexit 0\n")
    claude.chmod(0o755)
    monkeypatch.setenv("PATH", str(folder))
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)  # ./.marianne/instruments is empty unless a test fills it
    return folder


@pytest.fixture
def user_profiles(_isolated_home: Path) -> Path:
    folder = _isolated_home / "instruments"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def rows(out: str) -> dict[str, list[str]]:
    """The table's rows by instrument name (cells split on runs of two spaces)."""
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "KIND", "STATUS", "DEFAULT", "MODEL", "CIRCUIT", "SOURCE"]
    table: dict[str, list[str]] = {}
    for line in lines[1:]:
        if not line.strip():
            break
        cells = [c.strip() for c in line.split("  ") if c.strip()]
        table[cells[0]] = cells
    return table


def test_list_shows_every_builtin_with_its_status(mzt: Mzt, bin_dir: Path) -> None:
    result = mzt("instruments", "list")
    assert result.code == 0, result.err
    table = rows(result.out)
    assert set(table) == {
        "aider",
        "anthropic_api",
        "claude-code",
        "cli",
        "cline-cli",
        "codex-cli",
        "crush",
        "gemini-cli",
        "goose",
        "llm",
        "ollama",
        "openai_api",
        "opencode",
    }
    assert table["cli"] == ["cli", "cli", "ready", "-", "closed", "built-in"]
    assert table["claude-code"][2] == "ready"
    assert table["aider"][2] == "not found"
    assert table["anthropic_api"][1:3] == ["http", "http (ANTHROPIC_API_KEY unset)"]
    assert table["ollama"][1:4] == ["http", "http", "llama3.1:8b"]
    assert table["openai_api"][1:4] == ["http", "http (OPENAI_API_KEY unset)", "gpt-4.1-mini"]
    assert table["gemini-cli"][3] == "gemini-3.1-pro-preview"
    assert "skipped" not in result.out


def test_user_profile_shows_its_path_and_overrides_the_builtin(
    mzt: Mzt, bin_dir: Path, user_profiles: Path
) -> None:
    tool = bin_dir / "my-llm"
    tool.write_text("#!/bin/sh\nexit 0\n")
    tool.chmod(0o755)
    override = {
        "name": "llm",
        "display_name": "llm (mine)",
        "kind": "cli",
        "default_model": "SmolLM2",
        "cli": {"command": {"executable": "my-llm"}},
    }
    (user_profiles / "llm.yaml").write_text(yaml.safe_dump(override))
    extra = {**override, "name": "house-agent", "default_model": None}
    (user_profiles / "house.yaml").write_text(yaml.safe_dump(extra))

    table = rows(mzt("instruments", "list").out)
    assert table["llm"][2:] == [
        "ready",
        "SmolLM2",
        "closed",
        f"{user_profiles / 'llm.yaml'} (overrides built-in)",
    ]
    assert table["house-agent"][2:] == [
        "ready",
        "-",
        "closed",
        str(user_profiles / "house.yaml"),
    ]

    document = mzt("instruments", "list", "--json").json()
    llm = next(i for i in document["instruments"] if i["name"] == "llm")
    assert llm["source"] == str(user_profiles / "llm.yaml")
    assert llm["overrides_builtin"] is True
    assert llm["binary_path"] == str(tool)

    check = mzt("instruments", "check", "llm")
    assert check.code == 0
    assert str(user_profiles / "llm.yaml") in check.out
    assert "replaces the built-in profile" in check.out


def test_local_profile_overrides_the_users(mzt: Mzt, bin_dir: Path, user_profiles: Path) -> None:
    profile = {
        "name": "x",
        "display_name": "X",
        "kind": "cli",
        "cli": {"command": {"executable": "bash"}},
    }
    (user_profiles / "x.yaml").write_text(yaml.safe_dump(profile))
    local = bin_dir.parent / ".marianne" / "instruments"
    local.mkdir(parents=True)
    (local / "x.yaml").write_text(yaml.safe_dump({**profile, "display_name": "Local X"}))
    info = mzt("instruments", "check", "x", "--json").json()
    assert info["source"] == str(local / "x.yaml")
    assert info["display_name"] == "Local X"


def test_broken_profile_is_listed_and_does_not_stop_the_others(
    mzt: Mzt, bin_dir: Path, user_profiles: Path
) -> None:
    broken = user_profiles / "broken.yaml"
    broken.write_text("name: broken\ndisplay_name: [unclosed\n")
    invalid = user_profiles / "invalid.yaml"
    invalid.write_text("name: invalid\ndisplay_name: Invalid\nkind: cli\ncolour: red\n")
    good = {
        "name": "good",
        "display_name": "Good",
        "kind": "cli",
        "cli": {"command": {"executable": "bash"}},
    }
    (user_profiles / "good.yaml").write_text(yaml.safe_dump(good))

    result = mzt("instruments", "list")
    assert result.code == 0
    table = rows(result.out)
    assert "good" in table and "cli" in table
    assert "broken" not in table and "invalid" not in table
    tail = result.out.split("\n\n", 1)[1].splitlines()
    assert tail[0] == "2 profile files skipped:"
    assert tail[1].startswith(f"  {broken}: ")
    assert tail[2].startswith(f"  {invalid}: ") and "line 4 (colour): unknown key" in tail[2]

    document = mzt("instruments", "list", "-j").json()
    assert [p["path"] for p in document["problems"]] == [str(broken), str(invalid)]
    assert all(p["message"] for p in document["problems"])
    assert "good" in [i["name"] for i in document["instruments"]]

    assert mzt("instruments", "check", "good").code == 0


def test_check_ready_instrument_exits_0(mzt: Mzt, bin_dir: Path) -> None:
    result = mzt("instruments", "check", "cli")
    assert result.code == 0, result.err
    assert result.out.splitlines()[0] == "cli — Shell (bash)"
    assert f"bash → {bin_dir / 'bash'}" in result.out
    assert "capabilities:  shell_access" in result.out
    assert result.out.rstrip().endswith("ready")
    assert result.err == ""


def test_check_missing_binary_exits_1_and_names_the_path_searched(
    mzt: Mzt, bin_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = os.pathsep.join([str(bin_dir), "/opt/nothing-here"])
    monkeypatch.setenv("PATH", path)
    result = mzt("instruments", "check", "aider")
    assert result.code == 1
    assert "aider → not found" in result.out
    assert f"PATH searched: {path}" in result.out
    assert "not usable: `aider` not found on PATH" in result.out
    assert "hint: install `aider`" in result.out

    document = mzt("instruments", "check", "aider", "--json").json()
    assert document["status"] == "not_found" and document["ready"] is False
    assert document["path_searched"] == [str(bin_dir), "/opt/nothing-here"]
    assert mzt("instruments", "check", "aider", "--json").code == 1


def test_check_quiet_answers_with_the_exit_code_only(mzt: Mzt, bin_dir: Path) -> None:
    assert mzt("instruments", "check", "-q", "cli") == Result(0, "", "")
    assert mzt("-q", "instruments", "check", "goose") == Result(1, "", "")


def test_check_unknown_name_exits_2_with_a_hint(mzt: Mzt, bin_dir: Path) -> None:
    result = mzt("instruments", "check", "claude-cod")
    assert result.code == 2
    assert result.out == ""
    first, hint = result.err.splitlines()
    assert first.startswith("error: No instrument called 'claude-cod'")
    assert hint.startswith("hint: Did you mean 'claude-code'")

    document = mzt("instruments", "check", "nope", "--json")
    assert document.code == 2
    error = document.json()
    assert error["schema"] == "mzt.error/1"
    assert error["error"]["code"] == "INSTRUMENT_UNKNOWN"
    assert "Known instruments:" in error["error"]["hint"]


def test_check_marianne_only_name_exits_1(mzt: Mzt, bin_dir: Path) -> None:
    result = mzt("instruments", "check", "recursive_light")
    assert result.code == 1
    assert "not available in mzt" in result.err


def test_check_alias_resolves(mzt: Mzt, bin_dir: Path) -> None:
    result = mzt("instruments", "check", "claude_cli")
    assert result.code == 0
    assert result.out.startswith("claude-code — Claude Code")
    assert "aliases:       claude_cli" in result.out
    assert mzt("instruments", "check", "claude_cli", "-j").json()["name"] == "claude-code"


def test_check_http_instrument_follows_its_key(
    mzt: Mzt, bin_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    unset = mzt("instruments", "check", "anthropic_api")
    assert unset.code == 1
    assert "ANTHROPIC_API_KEY (not set)" in unset.out
    assert "hint: export ANTHROPIC_API_KEY" in unset.out
    monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET)
    ready = mzt("instruments", "check", "anthropic_api")
    assert ready.code == 0
    assert "ANTHROPIC_API_KEY (set)" in ready.out
    assert "claude-sonnet-4-5-20250929 (default)  200,000  0.003    0.015" in ready.out


def test_json_shapes(mzt: Mzt, bin_dir: Path) -> None:
    listing = mzt("instruments", "list", "--json")
    assert listing.code == 0
    document = listing.json()
    assert set(document) == {"schema", "instruments", "problems"}
    assert document["schema"] == "mzt.instruments/1"
    assert document["problems"] == []
    cli = next(i for i in document["instruments"] if i["name"] == "cli")
    assert {
        "name": "cli",
        "kind": "cli",
        "status": "ready",
        "ready": True,
        "binary_path": str(bin_dir / "bash"),
        "source": "built-in",
        "default_model": None,
        "capabilities": ["shell_access"],
    }.items() <= cli.items()
    assert "path_searched" not in cli
    statuses = {i["name"]: i["status"] for i in document["instruments"]}
    assert statuses["aider"] == "not_found" and statuses["anthropic_api"] == "http"

    check = mzt("instruments", "check", "llm", "--json")
    assert check.code == 1
    detail = check.json()
    assert detail["schema"] == "mzt.instrument/1"
    assert detail["name"] == "llm" and detail["status"] == "not_found"
    assert detail["models"] == [
        {
            "name": "SmolLM2",
            "context_window": 512,
            "cost_per_1k_input": 0.0,
            "cost_per_1k_output": 0.0,
            "max_output_tokens": None,
            "max_concurrent": 2,
            "default": False,
        }
    ]
    assert detail["path_searched"] == [str(bin_dir)]


def test_help_documents_the_exit_status(mzt: Mzt) -> None:
    result = mzt("instruments", "check", "--help")
    assert result.code == 0
    assert "0  ready" in result.out
    assert "1  known but not usable here" in result.out
    assert "2  no instrument has that name" in result.out
    assert "instruments" in mzt("--help").out


def test_no_secret_value_is_ever_printed(
    mzt: Mzt, bin_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    outputs = []
    for args in (
        ["list"],
        ["list", "--json"],
        ["check", "claude-code"],
        ["check", "claude-code", "--json"],
        ["check", "anthropic_api"],
        ["check", "anthropic_api", "--json"],
        ["check", "anthropic"],
        ["check", "anthropic", "--json"],
    ):
        result = mzt("instruments", *args)
        outputs.append(result.out + result.err)
    joined = "\n".join(outputs)
    assert "ANTHROPIC_API_KEY" in joined  # the name is shown ...
    assert SECRET not in joined  # ... never the value
    assert SECRET[13:30] not in joined


def test_real_process(tmp_path: Path, _isolated_home: Path) -> None:
    """The installed command, in a subprocess, with a secret in its environment."""
    env = {
        **os.environ,
        "MZT_HOME": str(_isolated_home),
        "ANTHROPIC_API_KEY": SECRET,
        "PATH": str(Path(shutil.which("bash") or "/bin/bash").parent),
    }
    run = subprocess.run(
        [sys.executable, "-m", "mzt", "instruments", "list", "--json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert SECRET not in run.stdout + run.stderr
    document = json.loads(run.stdout)
    assert document["schema"] == "mzt.instruments/1"
    api = next(i for i in document["instruments"] if i["name"] == "anthropic_api")
    assert (api["status"], api["ready"], api["auth_set"]) == ("http", True, True)
    check = subprocess.run(
        [sys.executable, "-m", "mzt", "instruments", "check", "goose"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert check.returncode == 1
    assert "goose → not found" in check.stdout
