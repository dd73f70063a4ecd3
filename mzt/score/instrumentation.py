"""Which instrument a sheet plays: its chain, merged settings and timeout, by precedence."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from mzt.score.models import DEFAULT_INSTRUMENT, InstrumentConfig, Score
from mzt.support import records

DEFAULT_TIMEOUT_SECONDS = 1800.0
OLLAMA = "ollama"

# Backend keys that configure the instrument (the rest choose it or set timeouts).
_BACKEND_SETTINGS = (
    "skip_permissions",
    "disable_mcp",
    "output_format",
    "allowed_tools",
    "system_prompt_file",
    "cli_extra_args",
    "working_directory",
    "max_output_capture_bytes",
    "api_key_env",
    "max_tokens",
    "temperature",
    "model",
)


@records.record(frozen=True, slots=True)
class InstrumentChoice:
    """One instrument of a sheet's chain: as named in the score and as resolved."""

    name: str  # as written: a profile name or a score alias
    profile: str  # the profile it resolves to
    config: Mapping[str, Any]  # merged settings; `model` is the model override, if any
    timeout_seconds: float

    @property
    def model(self) -> str | None:
        value = self.config.get("model")
        return value if isinstance(value, str) else None


class InstrumentResolver:
    """Per-sheet instrument, configuration, fallbacks and timeouts, by documented precedence."""

    def __init__(self, score: Score, default_timeout: Callable[[str], float | None]) -> None:
        self.score = score
        self.default_timeout = default_timeout
        backend = score.backend
        base = {k: getattr(backend, k) for k in _BACKEND_SETTINGS if k in backend.model_fields_set}
        if backend.cli_model and not base.get("model"):
            base["model"] = backend.cli_model
        self.backend_layer = base
        # Marianne's `backend.ollama` block configures the `ollama` instrument only.
        ollama = backend.ollama.settings() if backend.ollama is not None else {}
        self.ollama_layer: dict[str, Any] = ollama
        sheet_keyed: tuple[Mapping[int, object], ...] = (
            score.sheet.per_sheet_instrument_config,
            score.sheet.per_sheet_fallbacks,
            score.backend.sheet_overrides,
            score.backend.timeout_overrides,
            *(c.timeout_overrides or {} for c in self._configs()),
        )
        # Sheets named by a per-sheet setting get their own resolution; all others of a
        # stage resolve alike, which keeps 10,000-sheet plans cheap.
        self.special = {num for mapping in sheet_keyed for num in mapping}
        self._cache: dict[tuple[str, int, int | None, bool], InstrumentChoice] = {}

    def _configs(self) -> list[InstrumentConfig]:
        score = self.score
        return [
            score.instrument_config,
            *(m.instrument_config for m in score.movements.values()),
            *(a.config for a in score.instruments.values()),
        ]

    def primary(self, num: int, stage: int, by_map: Mapping[int, str]) -> InstrumentChoice:
        score = self.score
        movement = score.movements.get(stage)
        name = (
            score.sheet.per_sheet_instruments.get(num)
            or by_map.get(num)
            or (movement.instrument if movement else None)
            or score.instrument
            or score.backend.type
            or DEFAULT_INSTRUMENT
        )
        return self._choice(name, num, stage, keep_model=True)

    def fallbacks(self, num: int, stage: int) -> tuple[InstrumentChoice, ...]:
        score = self.score
        movement = score.movements.get(stage)
        if num in score.sheet.per_sheet_fallbacks:
            names = score.sheet.per_sheet_fallbacks[num]
        elif movement and movement.instrument_fallbacks:
            names = movement.instrument_fallbacks
        else:
            names = score.instrument_fallbacks
        return tuple(self._choice(name, num, stage, keep_model=False) for name in names)

    def _choice(self, name: str, num: int, stage: int, *, keep_model: bool) -> InstrumentChoice:
        # A stage without a movement section resolves like any other such stage: a chain
        # of 10,000 one-sheet stages then shares one choice instead of holding 10,000.
        shared = stage if stage in self.score.movements else 0
        key = (name, shared, num if num in self.special else None, keep_model)
        cached = self._cache.get(key)
        if cached is None:
            cached = self._cache[key] = self._resolve(name, num, stage, keep_model=keep_model)
        return cached

    def _resolve(self, name: str, num: int, stage: int, *, keep_model: bool) -> InstrumentChoice:
        score = self.score
        alias = score.instruments.get(name)
        movement = score.movements.get(stage)
        profile = alias.profile if alias else name
        layers = [
            self.backend_layer,
            self.ollama_layer if profile == OLLAMA else {},
            score.instrument_config.settings(),
            movement.instrument_config.settings() if movement else {},
        ]
        sheet_layer: dict[str, Any] = {}
        override = score.backend.sheet_overrides.get(num)
        if override is not None:
            sheet_layer.update(_with_model(override.model_dump(exclude_none=True)))
        if num in score.sheet.per_sheet_instrument_config:
            sheet_layer.update(_with_model(score.sheet.per_sheet_instrument_config[num].settings()))
        merged: dict[str, Any] = {}
        for layer in layers:
            merged.update(_with_model(layer))
        if not keep_model:
            # A fallback runs with its own default model, not the primary's override.
            merged.pop("model", None)
        if alias is not None:
            merged.update(_with_model(alias.config.settings()))
        merged.update({k: v for k, v in sheet_layer.items() if keep_model or k != "model"})
        merged.pop("cli_model", None)
        overrides: dict[int, float] = {}
        for layer in (*layers, alias.config.settings() if alias else {}):
            overrides.update(layer.get("timeout_overrides") or {})
        if overrides:
            merged["timeout_overrides"] = overrides
        timeout = self._timeout(num, profile, merged, sheet_layer, overrides)
        return InstrumentChoice(name, profile, MappingProxyType(merged), timeout)

    def _timeout(
        self,
        num: int,
        profile: str,
        merged: Mapping[str, Any],
        sheet_layer: Mapping[str, Any],
        overrides: Mapping[int, float],
    ) -> float:
        backend = self.score.backend
        sheet_specific = (
            sheet_layer.get("timeout_seconds"),
            overrides.get(num),
            backend.timeout_overrides.get(num),
        )
        for value in sheet_specific:
            if value is not None:
                return float(value)
        if merged.get("timeout_seconds") is not None:
            return float(merged["timeout_seconds"])
        if "timeout_seconds" in backend.model_fields_set:
            return backend.timeout_seconds
        return self.default_timeout(profile) or DEFAULT_TIMEOUT_SECONDS


def _with_model(layer: Mapping[str, Any]) -> dict[str, Any]:
    """`cli_model` is an older spelling of `model`; within one layer `model` wins."""
    result = dict(layer)
    if result.get("cli_model") and not result.get("model"):
        result["model"] = result["cli_model"]
    result.pop("cli_model", None)
    return result
