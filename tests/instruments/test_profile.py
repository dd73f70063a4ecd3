from __future__ import annotations

from typing import Any

import pytest

from mzt.instruments import InstrumentProfile
from mzt.instruments.jsonpath import compile_path
from mzt.instruments.profile import CliCommand, CliErrors, CliOutput, ModelSpec
from mzt.support.records import FrozenInstanceError
from mzt.support.strictmodel import ValidationError


def profile(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "agent",
        "display_name": "Agent",
        "kind": "cli",
        "cli": {"command": {"executable": "agent"}},
    }
    data.update(overrides)
    return data


def test_defaults_follow_the_documented_format() -> None:
    p = InstrumentProfile.model_validate(profile())
    assert (p.default_timeout_seconds, p.raw_prompt, p.default_model) == (1800.0, False, None)
    assert p.capabilities == frozenset() and p.models == []
    assert p.cli is not None
    command = p.cli.command
    assert command.prompt_via_stdin is True
    assert command.stdin_sentinel is None and command.prompt_flag is None
    assert command.required_env is None and command.env == {}
    assert command.extra_flags == [] and command.mcp_disable_args == []
    assert command.start_new_session is False
    assert p.cli.output.format == "text" and p.cli.output.aggregate_tokens is False
    assert p.cli.errors.success_exit_codes == [0]
    assert (
        ModelSpec(
            name="m", context_window=1, cost_per_1k_input=0, cost_per_1k_output=0
        ).max_concurrent
        == 4
    )


def test_every_field_has_a_description() -> None:
    models = [InstrumentProfile, CliCommand, CliOutput, CliErrors, ModelSpec]
    missing = [
        f"{m.__name__}.{name}"
        for m in models
        for name, info in m.model_fields.items()
        if not info.description
    ]
    assert missing == []


def test_models_are_frozen_and_strict() -> None:
    p = InstrumentProfile.model_validate(profile(capabilities=["mcp", "tool_use"]))
    assert p.capabilities == frozenset({"mcp", "tool_use"})
    with pytest.raises(FrozenInstanceError):
        p.name = "other"  # type: ignore[misc]
    # strict: no quietly turning "300" into a number or "yes" into a boolean
    for bad in ({"default_timeout_seconds": "300"}, {"raw_prompt": "yes"}):
        with pytest.raises(ValidationError):
            InstrumentProfile.model_validate(profile(**bad))


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"cli": None}, "kind is cli but the profile has no cli: block"),
        ({"kind": "http"}, "kind is http but the profile has no http: block"),
        ({"kind": "grpc"}, "'cli' or 'http'"),
        ({"display_name": ""}, "at least 1 character"),
        ({"name": "has space"}, "should match pattern"),
        ({"surprise": 1}, "Extra inputs are not permitted"),
        ({"cli": {"command": {"executable": "a", "prompt_flg": "-p"}}}, "prompt_flg"),
        ({"cli": {"command": {}}}, "executable"),
        ({"cli": {"command": {"executable": "a", "env": {"1BAD": "x"}}}}, "should match pattern"),
        (
            {"cli": {"command": {"executable": "a"}, "output": {"format": "xml"}}},
            "'text', 'json' or 'jsonl'",
        ),
        (
            {"cli": {"command": {"executable": "a"}, "output": {"result_path": "a..b"}}},
            "not a valid dot path",
        ),
        (
            {
                "cli": {
                    "command": {"executable": "a"},
                    "errors": {"rate_limit_patterns": ["(unclosed"]},
                }
            },
            "not a valid regular expression",
        ),
        ({"default_timeout_seconds": 0}, "greater than 0"),
        (
            {
                "models": [
                    {
                        "name": "m",
                        "context_window": 0,
                        "cost_per_1k_input": 0,
                        "cost_per_1k_output": 0,
                    }
                ]
            },
            "greater than or equal to 1",
        ),
        (
            {
                "models": [
                    {
                        "name": "m",
                        "context_window": 1,
                        "cost_per_1k_input": -1,
                        "cost_per_1k_output": 0,
                    }
                ]
            },
            "greater than or equal to 0",
        ),
        (
            {
                "models": [
                    {
                        "name": "m",
                        "context_window": 1,
                        "cost_per_1k_input": 0,
                        "cost_per_1k_output": 0,
                    }
                ]
                * 2
            },
            "models lists 'm' more than once",
        ),
    ],
)
def test_invalid_profiles_are_refused(overrides: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ValidationError) as info:
        InstrumentProfile.model_validate(profile(**overrides))
    assert fragment in str(info.value)


def test_http_profile() -> None:
    p = InstrumentProfile.model_validate(
        profile(kind="http", cli=None, http={"base_url": "http://x", "schema_family": "openai"})
    )
    assert p.http is not None and p.http.endpoint == "/v1/chat/completions"


def test_marianne_only_keys_are_accepted() -> None:
    p = InstrumentProfile.model_validate(
        profile(
            code_mode={"interfaces": [{"name": "Ws", "typescript": "interface Ws {}"}]},
            cli={
                "command": {"executable": "a", "start_new_session": True},
                "errors": {"rate_limit_event_type": "error", "rate_limit_event_filter": {"x": "y"}},
            },
        )
    )
    assert p.code_mode is not None and p.code_mode.runtime == "deno"


@pytest.mark.parametrize(
    ("path", "steps"),
    [
        ("result", ("result",)),
        ("a.b", ("a", "b")),
        ("a[0]", ("a", 0)),
        ("a[-1].b", ("a", -1, "b")),
        ("messages[1].content[0].text", ("messages", 1, "content", 0, "text")),
        ("a.*.b", ("a", "*", "b")),
        ("[0].a", (0, "a")),
    ],
)
def test_dot_paths_compile(path: str, steps: tuple[object, ...]) -> None:
    assert compile_path(path) == steps


@pytest.mark.parametrize("path", ["", " a", "a..b", "a.", ".a", "a[x]", "a]", "a.[0]"])
def test_malformed_dot_paths(path: str) -> None:
    with pytest.raises(ValueError, match="dot path"):
        compile_path(path)
