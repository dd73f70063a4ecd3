"""The instrument profile format: how to start an agent CLI and how to read what it says.

A profile is plain YAML data checked by these strict models (unknown keys are errors,
values are never coerced from another type, models are immutable). The format is
Marianne's, so profiles written for Marianne load unchanged. Two small liberties:
``cli.output`` may be left out (plain text output), and a regular expression that does
not compile is an error when the profile loads rather than when an attempt fails.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from mzt.instruments.jsonpath import compile_path
from mzt.support.strictmodel import Field, StrictModel, field_validator, model_validator

NonEmptyStr = Annotated[str, Field(min_length=1)]
EnvName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
ProfileName = Annotated[
    str,
    Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:+-]*$"),
]
Timeout = Annotated[float, Field(gt=0, le=7 * 24 * 3600)]

CAPABILITIES = frozenset(
    {
        "tool_use",
        "file_editing",
        "shell_access",
        "vision",
        "mcp",
        "code_mode",
        "structured_output",
        "session_resume",
        "streaming",
        "thinking",
    }
)
"""Capability tags Marianne defines; they inform people and tools, nothing depends on them."""


class ProfileModel(StrictModel):
    """Base of every profile model: strict types, no unknown keys, immutable."""


def _check_patterns(patterns: list[str]) -> list[str]:
    for pattern in patterns:
        try:
            re.compile(pattern, re.IGNORECASE)
        except re.error as exc:
            raise ValueError(f"{pattern!r} is not a valid regular expression: {exc}") from None
    return patterns


class ModelSpec(ProfileModel):
    """One model an instrument can run, with its limits and prices."""

    name: NonEmptyStr = Field(description="Model identifier as the CLI expects it.")
    context_window: int = Field(ge=1, description="Context window size in tokens.")
    cost_per_1k_input: float = Field(ge=0, description="USD per 1000 input tokens (0 if free).")
    cost_per_1k_output: float = Field(ge=0, description="USD per 1000 output tokens (0 if free).")
    max_output_tokens: int | None = Field(
        default=None,
        ge=1,
        description="Most output tokens the model can produce; null for no limit.",
    )
    max_concurrent: int = Field(
        default=4, ge=1, description="Most sheets that may use this instrument and model at once."
    )


class CodeModeInterface(ProfileModel):
    """A TypeScript interface offered to agent-written code (declared, not used by mzt)."""

    name: NonEmptyStr = Field(description="Interface name, such as `Workspace`.")
    typescript: NonEmptyStr = Field(description="The TypeScript interface definition.")
    description: str | None = Field(default=None, description="What the interface is for.")


class CodeModeConfig(ProfileModel):
    """Marianne's code-mode technique settings: accepted so profiles load, otherwise unused."""

    interfaces: list[CodeModeInterface] = Field(
        default_factory=list, description="Interfaces agent-written code may use."
    )
    runtime: Literal["deno", "node_vm", "v8_isolate"] = Field(
        default="deno", description="Sandbox that would run agent-written code."
    )
    max_execution_ms: int = Field(
        default=30000, ge=100, description="Longest run of agent-written code, in milliseconds."
    )


class CliCommand(ProfileModel):
    """How the command line is built: each flag is emitted only when it is set."""

    executable: NonEmptyStr = Field(description="Program to run, found on PATH at spawn time.")
    subcommand: str | None = Field(
        default=None, description="Word after the program (`exec`, `run`)."
    )
    prompt_flag: str | None = Field(
        default=None,
        description="Flag before the prompt; null passes the prompt as a positional argument.",
    )
    model_flag: str | None = Field(
        default=None, description="Flag before the model name; emitted only when a model is chosen."
    )
    auto_approve_flag: str | None = Field(
        default=None, description="Flag that lets the agent act without asking; emitted when set."
    )
    output_format_flag: str | None = Field(
        default=None, description="Flag choosing the output format."
    )
    output_format_value: str | None = Field(
        default=None, description="Value after `output_format_flag`; null makes the flag a switch."
    )
    system_prompt_flag: str | None = Field(
        default=None,
        description="Flag before a system prompt file (used with `system_prompt_file`).",
    )
    allowed_tools_flag: str | None = Field(
        default=None,
        description="Flag before the comma-separated allowed tools (with `allowed_tools`).",
    )
    mcp_config_flag: str | None = Field(
        default=None, description="Flag before an MCP configuration (declared; mzt shares none)."
    )
    mcp_disable_args: list[str] = Field(
        default_factory=list,
        description="Arguments that start the agent without MCP servers (unless disabled).",
    )
    timeout_flag: str | None = Field(
        default=None, description="Flag before the attempt timeout in whole seconds."
    )
    working_dir_flag: str | None = Field(
        default=None,
        description="Flag before the working directory (the process runs there anyway).",
    )
    extra_flags: list[str] = Field(
        default_factory=list, description="Fixed arguments, always appended after the others."
    )
    env: dict[EnvName, str] = Field(
        default_factory=dict,
        description="Variables added to the environment; `${VAR}` reads the parent environment.",
    )
    prompt_via_stdin: bool = Field(
        default=True, description="Write the prompt to standard input instead of the command line."
    )
    stdin_sentinel: str | None = Field(
        default=None,
        description="With stdin delivery and a prompt flag, the value after the flag "
        "(`-p -`); without it the prompt flag is left out.",
    )
    start_new_session: bool = Field(
        default=False,
        description="Own process group (mzt always starts one, so this is informational).",
    )
    required_env: list[EnvName] | None = Field(
        default=None,
        description="If set, the child sees only these variables plus system essentials "
        "(PATH, HOME, locale, temp and XDG folders, proxies); null passes everything.",
    )


class CliOutput(ProfileModel):
    """How standard output becomes a result, an error message and token counts."""

    format: Literal["text", "json", "jsonl"] = Field(
        default="text",
        description="`text`: stdout is the result; `json`: one document; `jsonl`: events.",
    )
    result_path: str | None = Field(
        default=None, description="Dot path to the result text (`result`, `a.b`, `a[0]`, `a.*.b`)."
    )
    error_path: str | None = Field(
        default=None, description="Dot path to the error message on failure."
    )
    completion_event_type: str | None = Field(
        default=None, description="JSONL: `type` of the event that carries the result."
    )
    completion_event_filter: dict[str, Any] | None = Field(
        default=None,
        description="JSONL: values the completion event must have, keyed by dot path "
        "(`item.type: agent_message`).",
    )
    input_tokens_path: str | None = Field(
        default=None, description="Dot path to the input token count."
    )
    output_tokens_path: str | None = Field(
        default=None, description="Dot path to the output token count."
    )
    aggregate_tokens: bool = Field(
        default=False, description="Sum every match of a wildcard token path instead of the first."
    )

    @field_validator("result_path", "error_path", "input_tokens_path", "output_tokens_path")
    @classmethod
    def _path_parses(cls, value: str | None) -> str | None:
        if value is not None:
            compile_path(value)
        return value

    @field_validator("completion_event_filter")
    @classmethod
    def _filter_keys_parse(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        for key in value or {}:
            compile_path(key)
        return value


class CliErrors(ProfileModel):
    """Exit codes that mean success and text patterns (case-insensitive regexes) of failures."""

    success_exit_codes: list[int] = Field(
        default_factory=lambda: [0], description="Exit codes that mean the attempt succeeded."
    )
    permanent_exit_codes: list[int] = Field(
        default_factory=list,
        description="Exit codes after which the same attempt would fail again (a command "
        "not found, a usage error): the sheet is not retried.",
    )
    deterministic: bool = Field(
        default=False,
        description="The exit status is the command's own verdict (a script, not a "
        "service): a non-zero exit whose output names no rate limit, network or similar "
        "cause is retried at once within the sheet's retry budget, with no back-off.",
    )
    rate_limit_patterns: list[str] = Field(
        default_factory=list, description="Text meaning the provider is rate limiting."
    )
    auth_error_patterns: list[str] = Field(
        default_factory=list, description="Text meaning the credentials are missing or refused."
    )
    capacity_patterns: list[str] = Field(
        default_factory=list, description="Text meaning the provider is overloaded."
    )
    timeout_patterns: list[str] = Field(
        default_factory=list, description="Text meaning something inside the agent timed out."
    )
    crash_patterns: list[str] = Field(
        default_factory=list, description="Text meaning the agent crashed."
    )
    stale_patterns: list[str] = Field(
        default_factory=list, description="Text meaning the agent stopped making progress."
    )
    rate_limit_event_type: str | None = Field(
        default=None, description="JSONL event type of a rate-limit notice (declared, unused)."
    )
    rate_limit_event_filter: dict[str, Any] | None = Field(
        default=None, description="Keys and values of that event (declared, unused)."
    )

    @field_validator(
        "rate_limit_patterns",
        "auth_error_patterns",
        "capacity_patterns",
        "timeout_patterns",
        "crash_patterns",
        "stale_patterns",
    )
    @classmethod
    def _patterns_compile(cls, value: list[str]) -> list[str]:
        return _check_patterns(value)


class CliProfile(ProfileModel):
    """Everything needed to start a command-line instrument and read its output."""

    command: CliCommand = Field(description="How the command line is built.")
    output: CliOutput = Field(
        default_factory=CliOutput, description="How the output is read (default: plain text)."
    )
    errors: CliErrors = Field(
        default_factory=CliErrors, description="Success exit codes and failure patterns."
    )


class HttpProfile(ProfileModel):
    """An HTTP API instrument: where its endpoint is and which request shape it takes."""

    base_url: NonEmptyStr = Field(description="Base URL of the API.")
    endpoint: str = Field(default="/v1/chat/completions", description="Path of the endpoint.")
    schema_family: Literal["openai", "anthropic", "ollama", "gemini"] = Field(
        description="Request and response shape of the API (`gemini` is described, not called)."
    )
    auth_env_var: EnvName | None = Field(
        default=None, description="Environment variable holding the API key."
    )


class InstrumentProfile(ProfileModel):
    """One instrument: identity, models and prices, and how to run it."""

    name: ProfileName = Field(description="Name scores use (`instrument: NAME`).")
    display_name: NonEmptyStr = Field(description="Name shown to people.")
    description: str | None = Field(default=None, description="One line about the instrument.")
    kind: Literal["cli", "http"] = Field(description="`cli` needs a `cli:` block, `http` `http:`.")
    capabilities: frozenset[str] = Field(
        default_factory=frozenset,
        description="Tags such as tool_use, file_editing, mcp (informational).",
    )
    models: list[ModelSpec] = Field(
        default_factory=list, description="Models the instrument offers, with prices."
    )
    default_model: str | None = Field(
        default=None, description="Model used when a score names none; null lets the CLI choose."
    )
    default_timeout_seconds: Timeout = Field(
        default=1800.0, description="Attempt timeout when the score sets none."
    )
    raw_prompt: bool = Field(
        default=False,
        description="Pass the rendered template alone: no preamble, injected sections, "
        "success requirements or completion suffix.",
    )
    code_mode: CodeModeConfig | None = Field(
        default=None, description="Marianne's code-mode settings (accepted, unused)."
    )
    cli: CliProfile | None = Field(default=None, description="Command-line settings (kind `cli`).")
    http: HttpProfile | None = Field(default=None, description="HTTP settings (kind `http`).")

    @field_validator("capabilities", mode="before")
    @classmethod
    def _capabilities_from_list(cls, value: Any) -> Any:
        # YAML has no sets: a list of tags is the natural spelling.
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return frozenset(value)
        return value

    @model_validator(mode="after")
    def _kind_block_present(self) -> InstrumentProfile:
        if self.kind == "cli" and self.cli is None:
            raise ValueError("kind is cli but the profile has no cli: block (command and output)")
        if self.kind == "http" and self.http is None:
            raise ValueError("kind is http but the profile has no http: block")
        names = [m.name for m in self.models]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"models lists {', '.join(map(repr, duplicates))} more than once")
        return self

    def model_spec(self, name: str | None) -> ModelSpec | None:
        """The entry of ``models`` called ``name``, if there is one."""
        return next((m for m in self.models if m.name == name), None) if name else None
