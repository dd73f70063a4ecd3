"""The facts `mzt instruments` shows: status, paths, models, env variables, look-up errors."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import yaml

from mzt.instruments import Registry, load_instruments
from mzt.instruments.info import (
    InstrumentNotProvided,
    UnknownInstrument,
    describe,
    gather,
    info_for,
    problem_json,
    search_path,
    suggestion,
)
from mzt.support.exitcodes import ExitCode

SECRET = "sk-ant-api03-" + "x7" * 20
BUILTINS = {
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


def program(folder: Path, name: str) -> Path:
    """An executable stand-in for an agent CLI."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    """Built-ins only: empty user and local folders."""
    return load_instruments(home=tmp_path / "home", cwd=tmp_path / "cwd")


def test_gather_lists_each_profile_once_sorted(registry: Registry) -> None:
    infos = gather(registry, environ={"PATH": ""})
    names = [i.name for i in infos]
    assert names == sorted(names)
    assert set(names) == BUILTINS  # aliases such as claude_cli are not listed twice
    assert all(i.source == "built-in" and not i.overrides_builtin for i in infos)


def test_program_found_on_path_is_ready_with_its_absolute_path(
    registry: Registry, tmp_path: Path
) -> None:
    fake = program(tmp_path / "bin", "claude")
    info = describe(registry, "claude-code", environ={"PATH": str(tmp_path / "bin")})
    assert (info.status, info.ready, info.binary_path) == ("ready", True, str(fake))
    assert info.executable == "claude"
    assert info.problem is None


def test_missing_program_is_not_found_and_names_the_path_searched(
    registry: Registry, tmp_path: Path
) -> None:
    path = os.pathsep.join([str(tmp_path / "a"), "", str(tmp_path / "b")])
    info = describe(registry, "aider", environ={"PATH": path})
    assert (info.status, info.ready, info.binary_path) == ("not_found", False, None)
    assert info.path_searched == (str(tmp_path / "a"), str(tmp_path / "b"))
    assert info.problem == "`aider` not found on PATH"


def test_cli_profile_finds_bash(registry: Registry) -> None:
    bash = shutil.which("bash")
    assert bash is not None
    info = describe(registry, "cli", environ={"PATH": str(Path(bash).parent)})
    assert info.ready and info.binary_path == str(Path(bash).absolute())
    assert info.capabilities == ("shell_access",)
    assert info.default_timeout_seconds == 300


def test_http_instrument_is_ready_only_with_its_key(registry: Registry) -> None:
    unset = describe(registry, "anthropic_api", environ={"PATH": ""})
    assert (unset.status, unset.ready, unset.auth_set) == ("http", False, False)
    assert unset.auth_env_var == "ANTHROPIC_API_KEY"
    assert unset.problem == "the API key variable ANTHROPIC_API_KEY is not set"
    assert unset.endpoint == "https://api.anthropic.com/v1/messages"
    assert unset.executable is None and unset.binary_path is None

    empty = describe(registry, "anthropic_api", environ={"ANTHROPIC_API_KEY": ""})
    assert not empty.ready  # an empty variable is no key

    present = describe(registry, "anthropic_api", environ={"ANTHROPIC_API_KEY": SECRET})
    assert (present.status, present.ready, present.auth_set) == ("http", True, True)


def test_http_instrument_without_a_key_variable_is_ready(registry: Registry) -> None:
    info = describe(registry, "ollama", environ={})
    assert (info.status, info.ready, info.auth_env_var, info.auth_set) == (
        "http",
        True,
        None,
        None,
    )


def test_models_carry_limits_prices_and_the_default(registry: Registry) -> None:
    info = describe(registry, "anthropic_api", environ={})
    first = info.models[0]
    assert first.name == "claude-sonnet-4-5-20250929" and first.default
    assert (first.context_window, first.cost_per_1k_input, first.cost_per_1k_output) == (
        200000,
        0.003,
        0.015,
    )
    assert [m.default for m in info.models].count(True) == 1
    smol = describe(registry, "llm", environ={}).models
    assert [(m.name, m.cost_per_1k_input, m.max_concurrent) for m in smol] == [("SmolLM2", 0.0, 2)]


def test_env_variables_are_names_and_flags_never_values(registry: Registry) -> None:
    info = describe(registry, "claude-code", environ={"ANTHROPIC_API_KEY": SECRET, "PATH": ""})
    by_name = {e.name: e for e in info.env}
    assert by_name["ANTHROPIC_API_KEY"].set and by_name["ANTHROPIC_API_KEY"].role == "passed"
    assert not by_name["AWS_SECRET_ACCESS_KEY"].set
    assert SECRET not in repr(info.to_json(detail=True))
    assert SECRET not in repr(info)
    http = describe(registry, "anthropic_api", environ={"ANTHROPIC_API_KEY": SECRET})
    assert [e.to_json() for e in http.env] == [
        {"name": "ANTHROPIC_API_KEY", "set": True, "role": "auth"},
        {"name": "ANTHROPIC_BASE_URL", "set": False, "role": "referenced"},
    ]
    assert SECRET not in repr(http.to_json(detail=True))


def test_a_base_url_variable_moves_the_endpoint_and_spares_the_key(registry: Registry) -> None:
    info = describe(registry, "openai_api", environ={})
    assert info.endpoint == "https://api.openai.com/v1/chat/completions"
    assert (info.auth_set, info.ready) == (False, False)  # OpenAI itself needs the key
    local = {"OPENAI_BASE_URL": "http://127.0.0.1:8080/v1"}
    info = describe(registry, "openai_api", environ=local)
    assert info.endpoint == "http://127.0.0.1:8080/v1/chat/completions"
    assert info.ready  # a local server may need none
    ollama = describe(registry, "ollama", environ={"OLLAMA_HOST": "gpu-box:11500"})
    assert ollama.endpoint == "http://gpu-box:11500/api/chat"
    assert [(e.name, e.set) for e in ollama.env] == [("OLLAMA_HOST", True)]
    # Anthropic's key is needed wherever its API is.
    moved = describe(registry, "anthropic_api", environ={"ANTHROPIC_BASE_URL": "http://x"})
    assert not moved.ready


def test_user_profile_overrides_a_builtin_and_env_references_are_found(tmp_path: Path) -> None:
    folder = tmp_path / "home" / "instruments"
    folder.mkdir(parents=True)
    profile = {
        "name": "llm",
        "display_name": "My llm",
        "kind": "cli",
        "cli": {"command": {"executable": "llm", "env": {"OPENAI_API_KEY": "${MY_KEY}"}}},
    }
    (folder / "llm.yaml").write_text(yaml.safe_dump(profile))
    registry = load_instruments(home=tmp_path / "home", cwd=tmp_path / "cwd")
    info = describe(registry, "llm", environ={"MY_KEY": "v"})
    assert info.source == str(folder / "llm.yaml")
    assert info.overrides_builtin
    assert [e.to_json() for e in info.env] == [
        {"name": "MY_KEY", "set": True, "role": "referenced"}
    ]


def test_alias_resolves_to_its_profile(registry: Registry) -> None:
    info = describe(registry, "claude_cli", environ={})
    assert info.name == "claude-code"
    assert info.aliases == ("claude_cli",)


def test_unknown_name_is_a_usage_error_with_a_suggestion(registry: Registry) -> None:
    with pytest.raises(UnknownInstrument) as caught:
        describe(registry, "gemini", environ={}, home=Path("/h"), cwd=Path("/c"))
    error = caught.value
    assert error.exit_code == ExitCode.USAGE
    assert "No instrument called 'gemini'" in error.message
    assert "/h/instruments" in error.message and "/c/.marianne/instruments" in error.message
    assert "\n" not in error.message
    assert error.hint is not None and "'gemini-cli'" in error.hint


def test_marianne_only_name_is_known_but_not_usable(registry: Registry) -> None:
    with pytest.raises(InstrumentNotProvided) as caught:
        describe(registry, "recursive_light", environ={})
    assert caught.value.exit_code == ExitCode.FAILED
    assert "recursive_light" in caught.value.message


def test_suggestion_ignores_case_and_falls_back_to_the_list() -> None:
    known = ["claude-code", "cli", "gemini-cli"]
    assert "'claude-code'" in suggestion("Claude-Code", known)
    assert suggestion("zzzz", known) == "Known instruments: claude-code, cli, gemini-cli."


def test_broken_profile_is_reported_as_data(tmp_path: Path) -> None:
    folder = tmp_path / "home" / "instruments"
    folder.mkdir(parents=True)
    (folder / "bad.yaml").write_text("name: bad\ndisplay_name: Bad\nkind: cli\n")
    registry = load_instruments(home=tmp_path / "home", cwd=tmp_path / "cwd")
    assert [p.path for p in registry.problems] == [folder / "bad.yaml"]
    data = problem_json(registry.problems[0])
    assert data["path"] == str(folder / "bad.yaml")
    assert data["name"] == "bad"
    assert "cli" in data["message"]
    assert set(data) == {"path", "message", "line", "name"}
    assert {i.name for i in gather(registry, environ={})} == BUILTINS


def test_json_fields(registry: Registry) -> None:
    info = info_for(registry.get("cli"), environ={"PATH": "/nowhere"})  # type: ignore[arg-type]
    data = info.to_json()
    assert "path_searched" not in data
    assert set(data) == {
        "name",
        "display_name",
        "description",
        "kind",
        "source",
        "overrides_builtin",
        "aliases",
        "status",
        "ready",
        "runnable",
        "problem",
        "executable",
        "binary_path",
        "auth_env_var",
        "auth_set",
        "endpoint",
        "default_model",
        "default_timeout_seconds",
        "capabilities",
        "models",
        "env",
    }
    assert info.to_json(detail=True)["path_searched"] == ["/nowhere"]


def test_search_path_defaults_when_path_is_unset() -> None:
    assert search_path({}) == os.defpath
    assert search_path({"PATH": "/x"}) == "/x"
