"""Instruments: the agent CLIs that run sheets, described by YAML profiles.

`load_instruments` finds the profiles (built-in, then ``MZT_HOME/instruments``, then
``./.marianne/instruments``) and returns a `Registry`; each `Instrument` in it builds
an `Invocation` for a prompt and reads a finished child's output into an
`InstrumentResult`.

The names below load on first use: `mzt status` reads rate-limit records through
``mzt.instruments.ratelimits`` and must not pay for the profile models on the way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mzt.support.lazy import exports

if TYPE_CHECKING:
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

# Loaded on first use: read-only commands that only need `mzt.instruments.ratelimits`
# (`mzt status`) should not pay for the profile models and the YAML reader.
_EXPORTS = {
    "ALIASES": "mzt.instruments.loader",
    "ARGV_PROMPT_LIMIT": "mzt.instruments.command",
    "BUILTIN": "mzt.instruments.loader",
    "Instrument": "mzt.instruments.command",
    "InstrumentError": "mzt.instruments.command",
    "InstrumentProfile": "mzt.instruments.profile",
    "InstrumentResult": "mzt.instruments.parsing",
    "Invocation": "mzt.instruments.command",
    "ModelSpec": "mzt.instruments.profile",
    "ProfileInvalid": "mzt.instruments.loader",
    "ProfileProblem": "mzt.instruments.loader",
    "Registry": "mzt.instruments.loader",
    "load_instruments": "mzt.instruments.loader",
    "read_profile": "mzt.instruments.loader",
}


__getattr__ = exports("mzt.instruments", _EXPORTS, globals())


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
