"""`mzt doctor`'s look at the machine: its configuration, its limits and its pressure."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mzt.machine import config as machine_config
from mzt.machine.config import (
    DEFAULT_INSTRUMENT_LIMIT,
    ConfigEnvError,
    MachineConfigError,
    config_path,
)
from mzt.machine.configshow import effective
from mzt.views.doctor import Check, Verdict


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


def check_pressure(home: Path, env: Mapping[str, str]) -> Check:
    """The machine's backpressure now: ``problem`` at critical (no run launches an attempt),
    ``warning`` at high (each launch waits 2 s), else ``ok``.

    Measured afresh, without the cache: a view neither writes nor locks anything.
    """
    from mzt.instruments.ratelimits import all_records
    from mzt.machine.pressure import Level, measure_now

    try:
        config = machine_config.load(home=home, environ=env)
    except (MachineConfigError, ConfigEnvError):
        message = "not measured: the machine configuration is unusable (see config.yaml)"
        return Check("pressure", "pressure", "ok", message, {"level": None})
    found = measure_now(config, rate_limits=all_records, home=home)
    if found.level == Level.CRITICAL:
        verdict: Verdict = "problem"
        message = f"{found.summary()}; new attempts are held until it eases"
    elif found.level == Level.HIGH:
        verdict = "warning"
        message = f"{found.summary()}; each launch waits {found.delay:g} s"
    else:
        verdict = "ok"
        message = found.summary()
    return Check("pressure", "pressure", verdict, message, found.to_json())


def _per_instrument(instruments: Mapping[str, Any]) -> str:
    named = [f"{name} {limit.max_concurrent}" for name, limit in sorted(instruments.items())]
    return (
        ", ".join([*named, f"others {DEFAULT_INSTRUMENT_LIMIT}"])
        if named
        else str(DEFAULT_INSTRUMENT_LIMIT)
    )
