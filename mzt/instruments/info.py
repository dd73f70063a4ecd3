"""Facts about the instruments known here, for `mzt instruments list` and `check`.

`gather` turns a `Registry` into one `InstrumentInfo` per profile: where the profile
came from, whether its program is on PATH (and where), whether the API key an HTTP
instrument needs is set, its models with context windows and prices, its capabilities
and the environment variables it reads. `describe` does the same for one name (aliases
resolve) and raises `UnknownInstrument`, with a did-you-mean hint, for a name nobody
defines.

Environment variables are reported by name and whether they are set, never by value.
Nothing here prints: the command line renders these facts.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from mzt.instruments import ALIASES, BUILTIN, Instrument, ProfileProblem, Registry
from mzt.instruments.http_schemas import BASE_URL_ENV, base_url, family
from mzt.instruments.loader import NATIVE_ONLY, builtin_names
from mzt.support import records
from mzt.support.errors import MztError, UsageError
from mzt.support.exitcodes import ExitCode
from mzt.support.paths import local_instruments_dir, user_instruments_dir

Status = Literal["ready", "not_found", "http"]
EnvRole = Literal["auth", "passed", "referenced"]

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)")


class UnknownInstrument(UsageError):
    """No profile, alias or known native name matches the instrument the user asked for."""

    code = "INSTRUMENT_UNKNOWN"


class InstrumentNotProvided(MztError):
    """A Marianne instrument name mzt recognises but has no profile for (not usable here)."""

    exit_code = ExitCode.FAILED
    code = "INSTRUMENT_NOT_PROVIDED"


@records.record(frozen=True, slots=True)
class EnvVar:
    """An environment variable an instrument reads: its name and whether it is set.

    ``role`` is ``auth`` (the API key of an HTTP instrument), ``passed`` (listed in the
    profile's ``required_env``: the child sees only these plus system essentials) or
    ``referenced`` (expanded by ``${NAME}`` in the profile's ``env`` block).
    """

    name: str
    set: bool
    role: EnvRole

    def to_json(self) -> dict[str, Any]:
        """The variable as JSON data (name and a flag; never the value)."""
        return {"name": self.name, "set": self.set, "role": self.role}


@records.record(frozen=True, slots=True)
class ModelInfo:
    """One model an instrument offers, with its limits and prices (USD per 1000 tokens)."""

    name: str
    context_window: int
    cost_per_1k_input: float
    cost_per_1k_output: float
    max_output_tokens: int | None
    max_concurrent: int
    default: bool

    def to_json(self) -> dict[str, Any]:
        """The model as JSON data."""
        return {
            "name": self.name,
            "context_window": self.context_window,
            "cost_per_1k_input": self.cost_per_1k_input,
            "cost_per_1k_output": self.cost_per_1k_output,
            "max_output_tokens": self.max_output_tokens,
            "max_concurrent": self.max_concurrent,
            "default": self.default,
        }


@records.record(frozen=True, slots=True)
class InstrumentInfo:
    """Everything `mzt instruments` shows about one profile.

    ``status`` is ``ready`` (a command-line instrument whose program is on PATH),
    ``not_found`` (its program is not) or ``http`` (an HTTP instrument, nothing to find);
    ``ready`` says whether it can be used as far as mzt can tell from here: the program
    was found, or for HTTP the API key variable is set (or none is needed).
    """

    name: str
    display_name: str
    description: str | None
    kind: Literal["cli", "http"]
    source: str  # the profile file, or "built-in"
    overrides_builtin: bool  # a user or local profile replaces a built-in of the same name
    aliases: tuple[str, ...]
    status: Status
    ready: bool
    runnable: bool  # whether mzt itself can call this kind of instrument
    executable: str | None
    binary_path: str | None
    path_searched: tuple[str, ...]
    auth_env_var: str | None
    auth_set: bool | None
    endpoint: str | None
    default_model: str | None
    default_timeout_seconds: float
    capabilities: tuple[str, ...]
    models: tuple[ModelInfo, ...]
    env: tuple[EnvVar, ...]

    @property
    def problem(self) -> str | None:
        """Why the instrument is not usable, in one sentence; None when it is ready."""
        if self.ready:
            return None
        if self.status == "not_found":
            return f"`{self.executable}` not found on PATH"
        return f"the API key variable {self.auth_env_var} is not set"

    def to_json(self, *, detail: bool = False) -> dict[str, Any]:
        """The facts as JSON data; ``detail`` adds the PATH folders searched."""
        data: dict[str, Any] = {
            "name": self.name,
            "display_name": self.display_name,
            "description": self.description,
            "kind": self.kind,
            "source": self.source,
            "overrides_builtin": self.overrides_builtin,
            "aliases": list(self.aliases),
            "status": self.status,
            "ready": self.ready,
            "runnable": self.runnable,
            "problem": self.problem,
            "executable": self.executable,
            "binary_path": self.binary_path,
            "auth_env_var": self.auth_env_var,
            "auth_set": self.auth_set,
            "endpoint": self.endpoint,
            "default_model": self.default_model,
            "default_timeout_seconds": self.default_timeout_seconds,
            "capabilities": list(self.capabilities),
            "models": [m.to_json() for m in self.models],
            "env": [e.to_json() for e in self.env],
        }
        if detail:
            data["path_searched"] = list(self.path_searched)
        return data


def problem_json(problem: ProfileProblem) -> dict[str, Any]:
    """A skipped profile file as JSON data: its path, what is wrong, the line if known."""
    return {
        "path": str(problem.path),
        "message": problem.message,
        "line": problem.line,
        "name": problem.name,
    }


def search_path(environ: Mapping[str, str] | None = None) -> str:
    """The PATH programs are looked up on (the default search path when PATH is unset)."""
    env = os.environ if environ is None else environ
    value = env.get("PATH")
    return os.defpath if value is None else value


def info_for(
    instrument: Instrument,
    *,
    environ: Mapping[str, str] | None = None,
    builtin_names: frozenset[str] | None = None,
) -> InstrumentInfo:
    """Gather the facts about one instrument; ``environ`` defaults to this process's."""
    env = os.environ if environ is None else environ
    profile = instrument.profile
    path = search_path(env)
    binary = instrument.locate(path) if profile.cli is not None else None
    auth_var = profile.http.auth_env_var if profile.http is not None else None
    auth_set = _is_set(env, auth_var) if auth_var else None
    endpoint = None
    moved = False
    if profile.http is not None:
        # Where a run would send its requests: OLLAMA_HOST and the like move built-ins.
        own = profile.http.base_url.rstrip("/")
        base = own
        if family(profile) is not None:
            base = base_url(profile, {}, env, instrument.source == BUILTIN)
        moved = base != own and family(profile) != "anthropic"
        endpoint = base + "/" + profile.http.endpoint.lstrip("/")
    if profile.kind == "http":
        status: Status = "http"
        # Only Anthropic always needs its key; a server elsewhere (OPENAI_BASE_URL on a
        # local llama.cpp) may need none.
        ready = auth_set is not False or moved
    else:
        status = "ready" if binary else "not_found"
        ready = binary is not None
    builtins = _builtin_names() if builtin_names is None else builtin_names
    models = tuple(
        ModelInfo(
            name=m.name,
            context_window=m.context_window,
            cost_per_1k_input=m.cost_per_1k_input,
            cost_per_1k_output=m.cost_per_1k_output,
            max_output_tokens=m.max_output_tokens,
            max_concurrent=m.max_concurrent,
            default=m.name == profile.default_model,
        )
        for m in profile.models
    )
    return InstrumentInfo(
        name=profile.name,
        display_name=profile.display_name,
        description=profile.description,
        kind=profile.kind,
        source=str(instrument.source),
        overrides_builtin=instrument.source != BUILTIN and profile.name in builtins,
        aliases=tuple(sorted(a for a, target in ALIASES.items() if target == profile.name)),
        status=status,
        ready=ready,
        runnable=instrument.runnable,
        executable=instrument.executable,
        binary_path=binary,
        path_searched=tuple(d for d in path.split(os.pathsep) if d),
        auth_env_var=auth_var,
        auth_set=auth_set,
        endpoint=endpoint,
        default_model=profile.default_model,
        default_timeout_seconds=profile.default_timeout_seconds,
        capabilities=tuple(sorted(profile.capabilities)),
        models=models,
        env=_env_vars(instrument, env),
    )


def gather(registry: Registry, *, environ: Mapping[str, str] | None = None) -> list[InstrumentInfo]:
    """Facts about every profile in ``registry``, sorted by name (aliases not repeated)."""
    builtins = _builtin_names()
    return [info_for(i, environ=environ, builtin_names=builtins) for i in registry]


def describe(
    registry: Registry,
    name: str,
    *,
    environ: Mapping[str, str] | None = None,
    home: Path | None = None,
    cwd: Path | None = None,
) -> InstrumentInfo:
    """Facts about the instrument ``name`` (an alias resolves to its profile).

    Raises `UnknownInstrument` (exit 2, with a did-you-mean hint) when nothing is
    called ``name``, and `InstrumentNotProvided` (exit 1) for a Marianne name that
    mzt recognises but has no profile for. ``home`` and ``cwd`` only name the folders
    searched in the error message.
    """
    instrument = registry.get(name)
    if instrument is not None:
        return info_for(instrument, environ=environ)
    if name in NATIVE_ONLY:
        raise InstrumentNotProvided(
            f"The instrument '{name}' is known from Marianne but not available in mzt: "
            f"{NATIVE_ONLY[name]}.",
            hint="Choose another instrument; `mzt instruments list` shows them.",
        )
    folders = f"{user_instruments_dir(home)} and {local_instruments_dir(cwd)}"
    raise UnknownInstrument(
        f"No instrument called '{name}': it is neither a built-in profile nor defined "
        f"in {folders}, and no alias points to it.",
        hint=suggestion(name, registry.names()),
    )


def suggestion(name: str, known: list[str]) -> str:
    """A did-you-mean hint for ``name`` among ``known`` names, or the list of them."""
    by_lower = {k.lower(): k for k in known}
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=3, cutoff=0.6)
    if close:
        listed = " or ".join(f"'{by_lower[c]}'" for c in close)
        return f"Did you mean {listed}? `mzt instruments list` shows every instrument."
    return f"Known instruments: {', '.join(known)}."


def _is_set(env: Mapping[str, str], name: str) -> bool:
    return bool(env.get(name))


def _env_vars(instrument: Instrument, env: Mapping[str, str]) -> tuple[EnvVar, ...]:
    profile = instrument.profile
    found: dict[str, EnvRole] = {}
    if profile.http is not None and profile.http.auth_env_var:
        found[profile.http.auth_env_var] = "auth"
    kind = family(profile)
    if kind is not None and instrument.source == BUILTIN:
        found.setdefault(BASE_URL_ENV[kind], "referenced")  # it moves the endpoint
    if profile.cli is not None:
        command = profile.cli.command
        for name in command.required_env or ():
            found.setdefault(name, "passed")
        for value in command.env.values():
            for name in _ENV_REF.findall(value):
                found.setdefault(name, "referenced")
    return tuple(EnvVar(name, _is_set(env, name), role) for name, role in found.items())


def _builtin_names() -> frozenset[str]:
    return builtin_names()
