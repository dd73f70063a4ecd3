from __future__ import annotations

import os
import shlex
import stat
from pathlib import Path
from typing import Any

import pytest

from mzt.instruments import (
    ARGV_PROMPT_LIMIT,
    Instrument,
    InstrumentError,
    InstrumentProfile,
    Registry,
)
from mzt.support.process import ProcessRequest, run_process

WS = Path("/work/space")
MCP_OFF = """--strict-mcp-config --mcp-config '{"mcpServers":{}}'"""

# The documented command lines (marianne-reference §3.3) for prompt "PROMPT", model "M",
# working directory /work/space and a 1800 s timeout; all but `cli` read the prompt on stdin.
WITH_MODEL = {
    "claude-code": f"claude --dangerously-skip-permissions --output-format json --model M -p - {MCP_OFF}",
    "gemini-cli": "gemini --yolo -o json -m M --sandbox false",
    "codex-cli": "codex exec --full-auto --json --model M --skip-git-repo-check",
    "aider": "aider --yes --model M --no-stream",
    "goose": "goose run --output-format json --model M -i - --no-session --quiet",
    "cline-cli": "cline --yolo --json --timeout 1800",
    "crush": "crush run --yolo --model M --cwd /work/space --quiet",
    "opencode": "opencode run --dangerously-skip-permissions --format json --model M",
    "llm": "llm -m M",
    "cli": "bash -c PROMPT",
}

# Without a model: each profile's default model, or none (the CLI chooses).
WITHOUT_MODEL = {
    "claude-code": f"claude --dangerously-skip-permissions --output-format json -p - {MCP_OFF}",
    "gemini-cli": "gemini --yolo -o json -m gemini-3.1-pro-preview --sandbox false",
    "codex-cli": "codex exec --full-auto --json --skip-git-repo-check",
    "aider": "aider --yes --no-stream",
    "goose": "goose run --output-format json -i - --no-session --quiet",
    "cline-cli": "cline --yolo --json --timeout 1800",
    "crush": "crush run --yolo --model google/gemma-4-31b-it:free --cwd /work/space --quiet",
    "opencode": "opencode run --dangerously-skip-permissions --format json --model qwen/qwen3-coder:free",
    "llm": "llm",
    "cli": "bash -c PROMPT",
}


def custom(**command: Any) -> Instrument:
    """An instrument from a minimal profile whose cli.command is ``command``."""
    command.setdefault("executable", "agent")
    profile = InstrumentProfile.model_validate(
        {"name": "custom", "display_name": "Custom", "kind": "cli", "cli": {"command": command}}
    )
    return Instrument(profile, Path("/profiles/custom.yaml"))


def instrument(registry: Registry, name: str) -> Instrument:
    found = registry.get(name)
    assert found is not None
    return found


def test_every_runnable_builtin_is_covered(registry: Registry) -> None:
    commands = {i.name for i in registry if i.runnable and i.profile.kind == "cli"}
    assert commands == set(WITH_MODEL) == set(WITHOUT_MODEL)


@pytest.mark.parametrize("name", sorted(WITH_MODEL))
def test_builtin_argv_with_a_model(registry: Registry, name: str) -> None:
    argv, delivery = tuple(shlex.split(WITH_MODEL[name])), "argv" if name == "cli" else "stdin"
    inv = instrument(registry, name).invocation(
        "PROMPT", model="M", workdir=WS, timeout_seconds=1800, environ={"PATH": "/bin"}
    )
    assert inv.argv == argv
    assert inv.delivery == delivery
    assert inv.stdin == (b"PROMPT" if delivery == "stdin" else None)
    assert inv.cwd == WS and inv.temp_dir is None


@pytest.mark.parametrize("name", sorted(WITHOUT_MODEL))
def test_builtin_argv_without_a_model(registry: Registry, name: str) -> None:
    inv = instrument(registry, name).invocation("PROMPT", workdir=WS, environ={})
    assert inv.argv == tuple(shlex.split(WITHOUT_MODEL[name]))


def test_claude_cli_alias_builds_the_claude_code_command(registry: Registry) -> None:
    inv = instrument(registry, "claude_cli").invocation("hi", workdir=WS, environ={})
    assert inv.argv[:2] == ("claude", "--dangerously-skip-permissions") and inv.stdin == b"hi"


def test_model_comes_from_argument_then_config_then_default(registry: Registry) -> None:
    gemini = instrument(registry, "gemini-cli")

    def model_of(**kwargs: Any) -> str:
        argv = gemini.invocation("p", workdir=WS, environ={}, **kwargs).argv
        return argv[argv.index("-m") + 1]

    assert model_of(model="a", config={"model": "b"}) == "a"
    assert model_of(config={"model": "b"}) == "b"
    assert model_of() == "gemini-3.1-pro-preview"


def test_score_settings_shape_the_claude_command(registry: Registry) -> None:
    claude = instrument(registry, "claude-code")
    config = {
        "skip_permissions": False,
        "disable_mcp": False,
        "allowed_tools": ["Read", "Write"],
        "system_prompt_file": "/sys.md",
        "cli_extra_args": ["--verbose", "--max-turns", "3"],
    }
    inv = claude.invocation("p", workdir=WS, config=config, environ={})
    assert inv.argv == (
        "claude", "--output-format", "json", "-p", "-",
        "--allowedTools", "Read,Write", "--system-prompt", "/sys.md",
        "--verbose", "--max-turns", "3",
    )  # fmt: skip
    same = claude.invocation("p", workdir=WS, config={"allowed_tools": "Read,Bash"}, environ={})
    assert same.argv[-2:] == ("--allowedTools", "Read,Bash")


def test_cli_extra_args_come_last(registry: Registry) -> None:
    inv = instrument(registry, "goose").invocation(
        "p", workdir=WS, config={"cli_extra_args": ["--debug"]}, environ={}
    )
    assert inv.argv[-3:] == ("--no-session", "--quiet", "--debug")
    with pytest.raises(InstrumentError, match="list of strings"):
        instrument(registry, "goose").invocation(
            "p", workdir=WS, config={"cli_extra_args": "--debug"}, environ={}
        )


def test_prompt_delivery_modes() -> None:
    # stdin with a sentinel after the prompt flag
    inv = custom(prompt_flag="-p", stdin_sentinel="-").invocation("hé", workdir=WS, environ={})
    assert (inv.argv, inv.stdin) == (("agent", "-p", "-"), "hé".encode())
    # stdin without a sentinel: the prompt flag is left out
    inv = custom(prompt_flag="--message").invocation("x", workdir=WS, environ={})
    assert (inv.argv, inv.stdin) == (("agent",), b"x")
    # a sentinel without a prompt flag stands alone (`codex exec -` style)
    inv = custom(stdin_sentinel="-").invocation("x", workdir=WS, environ={})
    assert inv.argv == ("agent", "-")
    # argv mode, with and without a flag
    inv = custom(prompt_via_stdin=False, prompt_flag="-q").invocation("x y", workdir=WS, environ={})
    assert (inv.argv, inv.stdin, inv.delivery) == (("agent", "-q", "x y"), None, "argv")
    inv = custom(prompt_via_stdin=False, extra_flags=["--z"]).invocation(
        "x", workdir=WS, environ={}
    )
    assert inv.argv == ("agent", "x", "--z")


def test_argument_order_with_every_flag() -> None:
    agent = custom(
        subcommand="go",
        auto_approve_flag="--yes",
        output_format_flag="--out",
        model_flag="--model",
        timeout_flag="--timeout",
        working_dir_flag="--dir",
        prompt_flag="--prompt",
        prompt_via_stdin=False,
        mcp_disable_args=["--no-mcp"],
        extra_flags=["--last"],
    )
    inv = agent.invocation(
        "P",
        model="m",
        workdir=WS,
        timeout_seconds=90.5,
        config={"cli_extra_args": ["--x"]},
        environ={},
    )
    assert inv.argv == (
        "agent", "go", "--yes", "--out", "--model", "m", "--timeout", "91",
        "--dir", "/work/space", "--prompt", "P", "--no-mcp", "--last", "--x",
    )  # fmt: skip


def test_long_argv_prompt_moves_to_stdin() -> None:
    agent = custom(prompt_via_stdin=False, prompt_flag="--prompt", extra_flags=["--end"])
    at_limit = "x" * ARGV_PROMPT_LIMIT
    inv = agent.invocation(at_limit, workdir=WS, environ={})
    assert inv.delivery == "argv" and inv.argv == ("agent", "--prompt", at_limit, "--end")
    # the limit counts bytes, not characters: 16385 two-byte characters are over it
    over = "é" * (ARGV_PROMPT_LIMIT // 2 + 1)
    inv = agent.invocation(over, workdir=WS, environ={})
    assert inv.delivery == "stdin" and inv.stdin == over.encode()
    assert inv.argv == ("agent", "--end")


def test_prompt_with_a_nul_byte_never_goes_on_the_command_line(registry: Registry) -> None:
    inv = custom(prompt_via_stdin=False).invocation("a\0b", workdir=WS, environ={})
    assert (inv.argv, inv.stdin) == (("agent",), b"a\0b")
    with instrument(registry, "cli").invocation("echo a\0", workdir=WS, environ={}) as inv:
        assert inv.delivery == "file" and "\0" not in "".join(inv.argv)


def test_a_refused_setting_leaves_no_temporary_file(
    registry: Registry, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    with pytest.raises(InstrumentError):
        instrument(registry, "cli").invocation(
            "x" * 40_000, workdir=WS, config={"cli_extra_args": 1}
        )
    assert list(tmp_path.iterdir()) == []


def test_long_bash_script_runs_from_a_private_file(registry: Registry, tmp_path: Path) -> None:
    lines = [f"echo line-{i} >> out.txt" for i in range(10_000)]  # about 200 KB
    script = "\n".join(
        ["read -r first || first=eof", *lines, 'echo "stdin=$first"', "wc -l < out.txt"]
    )
    assert len(script.encode()) > 190_000
    cli = instrument(registry, "cli")
    with cli.invocation(script, workdir=tmp_path, timeout_seconds=30) as inv:
        assert inv.delivery == "file" and inv.stdin is None and inv.temp_dir is not None
        assert inv.argv[0] == "bash" and len(inv.argv) == 2
        script_file = Path(inv.argv[1])
        assert script_file.parent == inv.temp_dir
        assert stat.S_IMODE(script_file.stat().st_mode) == 0o600
        assert stat.S_IMODE(inv.temp_dir.stat().st_mode) == 0o700
        outcome = run_process(ProcessRequest(inv.argv, inv.cwd, inv.env, inv.stdin, timeout=30))
    assert not inv.temp_dir.exists()  # cleaned up when the block ends
    inv.cleanup()  # and cleaning up twice is harmless
    assert outcome.succeeded, outcome.stderr_tail
    # The script's own `read` saw an empty stdin, not the rest of the script.
    assert outcome.stdout_tail.split() == ["stdin=eof", "10000"]


def test_short_bash_script_runs_as_an_argument(registry: Registry, tmp_path: Path) -> None:
    inv = instrument(registry, "cli").invocation('echo "$PWD"; exit 3', workdir=tmp_path)
    outcome = run_process(ProcessRequest(inv.argv, inv.cwd, inv.env, inv.stdin, timeout=10))
    assert (outcome.exit_code, outcome.stdout_tail) == (3, f"{tmp_path}\n")


def test_required_env_keeps_only_named_and_essential_variables(registry: Registry) -> None:
    parent = {
        "PATH": "/bin",
        "HOME": "/home/u",
        "LANG": "C.UTF-8",
        "HTTPS_PROXY": "http://proxy:3128",
        "ANTHROPIC_API_KEY": "sk-ant-x",
        "OPENAI_API_KEY": "sk-openai",
        "GITHUB_TOKEN": "ghp_x",
    }
    claude = instrument(registry, "claude-code").invocation("p", workdir=WS, environ=parent)
    assert claude.env == {
        k: parent[k] for k in ("PATH", "HOME", "LANG", "HTTPS_PROXY", "ANTHROPIC_API_KEY")
    }
    codex = instrument(registry, "codex-cli").invocation("p", workdir=WS, environ=parent)
    assert "OPENAI_API_KEY" in codex.env and "ANTHROPIC_API_KEY" not in codex.env
    # no required_env: the whole parent environment
    aider = instrument(registry, "aider").invocation("p", workdir=WS, environ=parent)
    assert aider.env == parent
    # secrets never reach the command line
    for inv in (claude, codex, aider):
        assert not any(secret in arg for arg in inv.argv for secret in ("sk-ant-x", "sk-openai"))


def test_profile_env_expands_from_the_full_parent_environment() -> None:
    agent = custom(
        required_env=[],
        env={
            "TOKEN": "${SECRET}",
            "MIX": "a-${USER}-b",
            "FALLBACK": "${NOT_SET:-plan-b}",
            "EMPTY": "${NOT_SET}",
            "LITERAL": "$SECRET",
        },
    )
    inv = agent.invocation("p", workdir=WS, environ={"SECRET": "s3", "USER": "ann", "OTHER": "o"})
    assert inv.env == {
        "USER": "ann",  # a system essential
        "TOKEN": "s3",  # read from the parent although SECRET itself is filtered out
        "MIX": "a-ann-b",
        "FALLBACK": "plan-b",
        "EMPTY": "",
        "LITERAL": "$SECRET",  # only ${VAR} is expanded
    }
    assert inv.warnings == ("${NOT_SET} is not set in the environment; it expands to nothing",)


def test_environment_defaults_to_this_process(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MZT_TEST_MARKER", "1")
    inv = instrument(registry, "llm").invocation("p", workdir=WS)
    assert inv.env["MZT_TEST_MARKER"] == "1" and inv.env is not os.environ


def test_locate(tmp_path: Path) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    exe = bindir / "agent"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    (bindir / "notexec").write_text("")
    assert custom().locate(str(bindir)) == str(exe)
    assert custom(executable="notexec").locate(str(bindir)) is None
    assert custom(executable="nosuch-agent-xyz").locate(str(bindir)) is None
    assert custom(executable=str(exe)).locate("") == str(exe)
    bash = custom(executable="bash").locate()  # this process's PATH
    assert bash is not None and Path(bash).is_absolute()


def test_http_instruments_cannot_be_invoked(registry: Registry) -> None:
    api = instrument(registry, "anthropic_api")
    assert api.locate() is None and api.executable is None
    with pytest.raises(InstrumentError, match="HTTP instrument"):
        api.invocation("p", workdir=WS)
    with pytest.raises(InstrumentError):
        api.interpret(exit_code=0, stdout="", stderr="")


def test_instrument_properties(registry: Registry) -> None:
    cli, claude = instrument(registry, "cli"), instrument(registry, "claude-code")
    assert (cli.raw_prompt, cli.default_timeout, cli.executable) == (True, 300, "bash")
    assert (claude.raw_prompt, claude.default_timeout, claude.executable) == (False, 1800, "claude")
    assert (
        claude.model_for("opus") is not None
        and claude.model_for("opus").cost_per_1k_output == 0.025
    )  # type: ignore[union-attr]
    assert instrument(registry, "aider").model_for("gpt-4o") is None  # no prices listed
    assert repr(cli) == "Instrument('cli', source='built-in')"
