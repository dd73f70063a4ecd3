"""Instruments: the agent CLIs that run sheets, described by YAML profiles.

`load_instruments` finds the profiles (built-in, then ``MZT_HOME/instruments``, then
``./.marianne/instruments``) and returns a `Registry`; each `Instrument` in it builds
an `Invocation` for a prompt and reads a finished child's output into an
`InstrumentResult`.
"""

from __future__ import annotations

from mzt.instruments.command import (
    ARGV_PROMPT_LIMIT,
    Instrument,
    InstrumentError,
    Invocation,
)
from mzt.instruments.loader import (
    ALIASES,
    BUILTIN,
    ProfileInvalid,
    ProfileProblem,
    Registry,
    load_instruments,
    read_profile,
)
from mzt.instruments.parsing import InstrumentResult
from mzt.instruments.profile import InstrumentProfile, ModelSpec

__all__ = [
    "ALIASES",
    "ARGV_PROMPT_LIMIT",
    "BUILTIN",
    "Instrument",
    "InstrumentError",
    "InstrumentProfile",
    "InstrumentResult",
    "Invocation",
    "ModelSpec",
    "ProfileInvalid",
    "ProfileProblem",
    "Registry",
    "load_instruments",
    "read_profile",
]
