"""`mzt doctor`'s look at the machine configuration: usable or not, and its limits."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mzt.machine.config import (
    DEFAULT_INSTRUMENT_LIMIT,
    ConfigEnvError,
    MachineConfigError,
    config_path,
)
from mzt.machine.configshow import effective
from mzt.views.doctor import Check


def check_machine_config(home: Path, env: Mapping[str, str]) -> Check:
    """``ok`` for a valid or absent file (with the limits), ``problem`` for an unusable one."""
    path = config_path(home)
    details: dict[str, Any] = {"path": str(path), "file": None, "limits": None, "errors": []}
    try:
        found = effective(home=home, environ=env)
    except MachineConfigError as exc:
        details["file"] = "invalid"
        details["errors"] = [issue.to_json() for issue in exc.issues]
        listed = "; ".join(issue.render(str(path)) for issue in exc.issues)
        return Check("config", "config.yaml", "problem", f"invalid: {listed}", details)
    except ConfigEnvError as exc:
        details["file"] = "unknown"
        details["errors"] = [{"code": exc.code, "message": exc.message, "hint": exc.hint}]
        return Check("config", "config.yaml", "problem", exc.message, details)
    config = found.config
    details["file"] = "present" if found.present else "absent"
    details["limits"] = config.model_dump()
    limits = (
        f"sheets {config.max_concurrent_sheets}, jobs {config.max_concurrent_jobs}, "
        f"per instrument {_per_instrument(found.config.instruments)}, "
        f"memory {config.max_memory_mb} MB, processes {config.max_processes}"
    )
    overridden = [s.variable for s in found.settings if s.variable]
    if overridden:
        limits += f" (overridden by {', '.join(overridden)})"
    state = "valid" if found.present else "absent, the defaults apply"
    return Check("config", "config.yaml", "ok", f"{path}: {state}; limits: {limits}", details)


def _per_instrument(instruments: Mapping[str, Any]) -> str:
    named = [f"{name} {limit.max_concurrent}" for name, limit in sorted(instruments.items())]
    return (
        ", ".join([*named, f"others {DEFAULT_INSTRUMENT_LIMIT}"])
        if named
        else str(DEFAULT_INSTRUMENT_LIMIT)
    )
