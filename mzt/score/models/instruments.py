"""How a score names and configures the instruments (agent CLIs) that run its sheets."""

from __future__ import annotations

from typing import Any

from mzt.score.models.base import (
    NonEmptyStr,
    SheetNum,
    StrictModel,
    Timeout,
    empty_dict,
    empty_list,
)
from mzt.support.strictmodel import Field, model_validator

# Keys mzt reads from an instrument configuration; anything else is passed through
# to the instrument untouched (and `mzt validate` says so, with a typo hint).
KNOWN_CONFIG_KEYS = frozenset(
    {
        "model",
        "cli_model",
        "timeout_seconds",
        "timeout_overrides",
        "skip_permissions",
        "disable_mcp",
        "allowed_tools",
        "system_prompt_file",
        "working_directory",
        "output_format",
        "max_output_capture_bytes",
        "api_key_env",
        "max_tokens",
        "temperature",
        "cli_extra_args",
        "base_url",
        "num_ctx",
        "keep_alive",
    }
)


# Instruments take free-form settings; the known ones are type-checked here.
class InstrumentConfig(StrictModel, extra="allow"):
    """Flat overrides for an instrument. Only keys that are set take part in merging."""

    model: str | None = Field(default=None, description="Model name passed to the instrument.")
    cli_model: str | None = Field(default=None, description="Older spelling of `model`.")
    timeout_seconds: Timeout | None = Field(
        default=None, description="Seconds one attempt may run before it is stopped."
    )
    timeout_overrides: dict[SheetNum, Timeout] | None = Field(
        default=None, description="Per-sheet attempt timeouts in seconds, keyed by sheet number."
    )
    skip_permissions: bool | None = Field(
        default=None, description="Let the agent act without asking for permission."
    )
    disable_mcp: bool | None = Field(
        default=None, description="Start the agent without MCP servers."
    )
    allowed_tools: list[str] | str | None = Field(
        default=None, description="Tools the agent may use (list, or comma-separated string)."
    )
    system_prompt_file: str | None = Field(
        default=None, description="File holding a system prompt."
    )
    working_directory: str | None = Field(
        default=None, description="Directory the instrument runs in (default: the workspace)."
    )
    output_format: str | None = Field(default=None, description="Output format asked of the agent.")
    max_output_capture_bytes: int | None = Field(
        default=None, ge=1024, description="Bytes of each output stream kept in the checkpoint."
    )
    api_key_env: str | None = Field(
        default=None, description="Environment variable holding the API key (HTTP instruments)."
    )
    max_tokens: int | None = Field(
        default=None, ge=1, description="Output token cap (HTTP instruments)."
    )
    temperature: float | None = Field(
        default=None, ge=0, le=2, description="Sampling temperature (HTTP instruments)."
    )
    cli_extra_args: list[str] | None = Field(
        default=None, description="Extra arguments appended last to the instrument's command line."
    )
    base_url: NonEmptyStr | None = Field(
        default=None, description="Where the API is (HTTP instruments; replaces the profile's)."
    )
    num_ctx: int | None = Field(
        default=None, ge=1, description="Context window in tokens asked of Ollama (`ollama`)."
    )
    keep_alive: str | int | None = Field(
        default=None, description="How long Ollama keeps the model loaded (`5m`, seconds)."
    )

    def settings(self) -> dict[str, Any]:
        """The keys that were actually given (known and unknown), for merging."""
        data = {k: getattr(self, k) for k in self.model_fields_set if k in type(self).model_fields}
        data.update(self.model_extra or {})
        return data

    def unknown_keys(self) -> list[str]:
        return sorted(self.model_extra or {})


class InstrumentAlias(StrictModel):
    """A score-local name for an instrument profile with its own configuration."""

    profile: NonEmptyStr = Field(description="Name of the instrument profile this alias uses.")
    config: InstrumentConfig = Field(
        default_factory=InstrumentConfig,
        description="Configuration merged over the score's `instrument_config`.",
    )


class MovementDef(StrictModel):
    """Settings for every sheet of one stage (a "movement")."""

    name: str | None = Field(default=None, description="Label shown when status groups sheets.")
    instrument: NonEmptyStr | None = Field(
        default=None, description="Instrument (profile or alias) for all sheets of this stage."
    )
    instrument_config: InstrumentConfig = Field(
        default_factory=InstrumentConfig,
        description="Merged over the score's `instrument_config` for this stage.",
    )
    voices: int | None = Field(
        default=None,
        ge=1,
        description="Run this stage as N parallel instances (same as `fan_out`).",
    )
    instrument_fallbacks: list[NonEmptyStr] = Field(
        default_factory=empty_list,
        description="Fallback chain for this stage; replaces the score's when not empty.",
    )


class SheetOverride(StrictModel):
    """Per-sheet overrides inside the legacy `backend` block."""

    cli_model: str | None = Field(
        default=None, description="Model for this sheet (older spelling)."
    )
    model: str | None = Field(default=None, description="Model for this sheet.")
    temperature: float | None = Field(default=None, ge=0, le=2, description="Sampling temperature.")
    max_tokens: int | None = Field(default=None, ge=1, description="Output token cap.")
    timeout_seconds: Timeout | None = Field(
        default=None, description="Attempt timeout for this sheet."
    )


class OllamaSettings(StrictModel):
    """Marianne's `backend.ollama` block: settings of the `ollama` instrument."""

    base_url: NonEmptyStr | None = Field(
        default=None, description="The Ollama server's root URL (default http://localhost:11434)."
    )
    model: NonEmptyStr | None = Field(default=None, description="Model to run (`llama3.1:8b`).")
    num_ctx: int | None = Field(
        default=None, ge=1, description="Context window in tokens (default 32768)."
    )
    keep_alive: str | int | None = Field(
        default=None, description="How long Ollama keeps the model loaded (`5m`, seconds)."
    )
    timeout_seconds: Timeout | None = Field(
        default=None, description="Attempt timeout in seconds for sheets on `ollama`."
    )
    dynamic_tools: bool | None = Field(
        default=None, description="Marianne's MCP tool bridge (accepted, not used by mzt)."
    )
    compression_level: str | None = Field(
        default=None, description="Marianne's tool schema compression (accepted, not used)."
    )
    max_tool_iterations: int | None = Field(
        default=None, description="Marianne's tool-call loop limit (accepted, not used)."
    )
    health_check_timeout: float | None = Field(
        default=None, description="Marianne's health check timeout (accepted, not used)."
    )

    def settings(self) -> dict[str, Any]:
        """The instrument settings that were given, as `instrument_config` keys."""
        return {k: getattr(self, k) for k in _OLLAMA_USED if getattr(self, k) is not None}

    def unused(self) -> list[str]:
        """Keys that were given but configure Marianne's tool bridge, which mzt has not."""
        return [
            k
            for k in type(self).model_fields
            if k not in _OLLAMA_USED and getattr(self, k) is not None
        ]


_OLLAMA_USED = ("base_url", "model", "num_ctx", "keep_alive", "timeout_seconds")


class BackendConfig(StrictModel):
    """The legacy way to choose and configure the instrument; `instrument:` is preferred."""

    type: NonEmptyStr = Field(
        default="claude_cli",
        description="Instrument name (`claude_cli`, `anthropic_api`, any profile).",
    )
    skip_permissions: bool = Field(default=True, description="Let the agent act without asking.")
    disable_mcp: bool = Field(default=True, description="Start the agent without MCP servers.")
    output_format: str = Field(default="text", description="`text`, `json` or `stream-json`.")
    cli_model: str | None = Field(default=None, description="Model for the Claude CLI.")
    allowed_tools: list[str] | None = Field(default=None, description="Tools the agent may use.")
    system_prompt_file: str | None = Field(
        default=None, description="File holding a system prompt."
    )
    cli_extra_args: list[str] = Field(
        default_factory=empty_list, description="Arguments appended last to the command line."
    )
    working_directory: str | None = Field(
        default=None, description="Directory the instrument runs in (default: the score's folder)."
    )
    timeout_seconds: Timeout = Field(default=1800.0, description="Attempt timeout in seconds.")
    timeout_overrides: dict[SheetNum, Timeout] = Field(
        default_factory=empty_dict, description="Per-sheet attempt timeouts in seconds."
    )
    sheet_overrides: dict[SheetNum, SheetOverride] = Field(
        default_factory=empty_dict, description="Per-sheet model and timeout overrides."
    )
    max_output_capture_bytes: int = Field(
        default=51200, ge=1024, description="Bytes of each output stream kept in the checkpoint."
    )
    model: str | None = Field(default=None, description="Model for API instruments.")
    api_key_env: str = Field(
        default="ANTHROPIC_API_KEY", description="Variable holding the API key."
    )
    max_tokens: int = Field(
        default=16384, ge=1, description="Output token cap for API instruments."
    )
    temperature: float = Field(default=0.7, ge=0, le=2, description="Sampling temperature.")
    ollama: OllamaSettings | None = Field(
        default=None,
        description="Settings of the `ollama` instrument (base_url, model, num_ctx, "
        "keep_alive, timeout_seconds); other keys are not used by mzt.",
    )
    recursive_light: dict[str, Any] | None = Field(
        default=None, description="Recursive-light settings (not used by mzt)."
    )

    @model_validator(mode="after")
    def _known_output_format(self) -> BackendConfig:
        if self.output_format not in {"text", "json", "stream-json"}:
            raise ValueError(
                f"output_format must be text, json or stream-json, not {self.output_format!r}"
            )
        return self
