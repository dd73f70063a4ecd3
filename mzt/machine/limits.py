"""The machine limits by name: which apply to an attempt, and the capacity of each.

A limit's name is also its folder under ``$MZT_HOME/slots/``: ``sheets`` (every attempt
on the machine), ``jobs`` (every executing run), ``instrument-<profile>`` (attempts of one
instrument profile) and ``model-<name>`` (attempts asking for one model, only when the
configuration limits that model). Readers (`status`, `top`) map a folder back to its
capacity with :func:`capacity_of`, writers ask :func:`attempt_limits`: one reading for
both.
"""

from __future__ import annotations

from mzt.machine.config import MachineConfig

SHEETS = "sheets"
JOBS = "jobs"
INSTRUMENT_PREFIX = "instrument-"
MODEL_PREFIX = "model-"


def instrument_limit(profile: str) -> str:
    return INSTRUMENT_PREFIX + profile


def model_limit(model: str) -> str:
    return MODEL_PREFIX + model


def attempt_limits(config: MachineConfig, profile: str, model: str | None) -> list[tuple[str, int]]:
    """(limit, capacity) of every limit one attempt of ``profile`` asking ``model`` takes."""
    limits = [
        (SHEETS, config.max_concurrent_sheets),
        (instrument_limit(profile), config.instrument_limit(profile)),
    ]
    if model:
        capacity = config.model_limit(model)
        if capacity is not None:
            limits.append((model_limit(model), capacity))
    return limits


def capacity_of(config: MachineConfig, limit: str) -> int | None:
    """The capacity of the limit named ``limit``; None for a name no limit has (any more)."""
    if limit == SHEETS:
        return config.max_concurrent_sheets
    if limit == JOBS:
        return config.max_concurrent_jobs
    if limit.startswith(INSTRUMENT_PREFIX):
        return config.instrument_limit(limit[len(INSTRUMENT_PREFIX) :])
    if limit.startswith(MODEL_PREFIX):
        return config.model_limit(limit[len(MODEL_PREFIX) :])
    return None


def describe(limit: str) -> str:
    """How the run's output names a limit: ``a claude-code slot``, ``a slot``."""
    if limit.startswith(INSTRUMENT_PREFIX):
        return f"a {limit[len(INSTRUMENT_PREFIX) :]} slot"
    if limit.startswith(MODEL_PREFIX):
        return f"a slot for the model {limit[len(MODEL_PREFIX) :]}"
    if limit == JOBS:
        return "a job slot"
    return "a sheet slot"
