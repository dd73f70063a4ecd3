"""Where each value of the effective machine configuration comes from (`mzt config show`).

Kept apart from :mod:`mzt.machine.config`: a run needs the limits, never their sources.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from mzt.machine.config import (
    DEFAULT_INSTRUMENT_LIMIT,
    ENV_OVERRIDES,
    InstrumentLimit,
    MachineConfig,
    ModelLimit,
    config_path,
    defaults,
    env_overrides,
    read_file,
)
from mzt.support import records

Source = Literal["default", "file", "env"]


@records.record(frozen=True, slots=True)
class Setting:
    """One effective value and where it comes from (a file line or a variable)."""

    key: str
    value: Any
    source: Source
    line: int | None = None
    variable: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "value": self.value,
            "source": self.source,
            "line": self.line,
            "variable": self.variable,
        }


@records.record(frozen=True, slots=True)
class EffectiveConfig:
    """The configuration runs use: the file (if any), then the overrides, then defaults."""

    path: Path
    present: bool
    config: MachineConfig
    settings: tuple[Setting, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "file": "present" if self.present else "absent",
            "config": self.config.model_dump(),
            "settings": [s.to_json() for s in self.settings],
        }


def effective(
    *, home: Path | None = None, environ: Mapping[str, str] | None = None, path: Path | None = None
) -> EffectiveConfig:
    """The effective configuration with the source of each value.

    Raises :class:`MachineConfigError` for a bad file and :class:`ConfigEnvError` for a
    bad override, both exit status 2.
    """
    where = path or config_path(home)
    env = os.environ if environ is None else environ
    found = read_file(where)
    config, lines = found if found is not None else (defaults(), {})
    given = config.model_fields_set if found is not None else frozenset()
    overrides = env_overrides(env)
    variables = {f: v for v, f in ENV_OVERRIDES.items() if f in overrides}
    if overrides:
        config = config.model_copy(update=overrides)
    settings: list[Setting] = []
    for field in ("max_concurrent_sheets", "max_concurrent_jobs"):
        settings.append(_setting(field, config, given, lines, variables))
    for kind in ("instruments", "models"):
        limits: dict[str, InstrumentLimit | ModelLimit] = getattr(config, kind)
        for name, limit in sorted(limits.items()):
            dotted = f"{kind}.{name}.max_concurrent"
            line = lines.get((kind, name, "max_concurrent")) or lines.get((kind, name))
            explicit = "max_concurrent" in limit.model_fields_set
            settings.append(
                Setting(dotted, limit.max_concurrent, "file" if explicit else "default", line)
            )
    settings.append(
        Setting("instruments.*.max_concurrent", DEFAULT_INSTRUMENT_LIMIT, "default", None)
    )
    for field in ("max_memory_mb", "max_processes"):
        settings.append(_setting(field, config, given, lines, variables))
    return EffectiveConfig(where, found is not None, config, tuple(settings))


def _setting(
    field: str,
    config: MachineConfig,
    given: frozenset[str],
    lines: dict[tuple[str | int, ...], int],
    variables: dict[str, str],
) -> Setting:
    value = getattr(config, field)
    if field in variables:
        return Setting(field, value, "env", None, variables[field])
    if field in given:
        return Setting(field, value, "file", lines.get((field,)))
    return Setting(field, value, "default")
