"""Refuse a run that cannot possibly work, before it writes anything.

Some failures are certain before the first sheet starts: an instrument nobody defines,
a sheet none of whose instruments can be used here (each one's program is missing from
PATH), a template variable that is undefined on every sheet. A run that went ahead would
create the workspace, take the lock, register the job and then fail every such sheet in
a fraction of a second, and resuming it would change nothing. `check_runnable` raises
`RunRefused` (exit 2) instead, naming each cause and what to do about it.

Only what can be known without running anything counts: programs are looked up on PATH
exactly as an attempt looks them up, HTTP instruments are never contacted, and a chain
with at least one usable instrument runs as before (its fallbacks handle the rest).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from mzt.instruments import Registry
from mzt.instruments.info import suggestion
from mzt.instruments.loader import NATIVE_ONLY
from mzt.score.instrumentation import InstrumentChoice
from mzt.score.preparation import PreparedScore
from mzt.score.templating import (
    TemplateError,
    compile_template,
    prompt_variables,
    render,
    undefined_variables,
)
from mzt.support.errors import UsageError
from mzt.support.numbers import spans


class RunRefused(UsageError):
    """The run would fail for certain, so it does not start (nothing is written)."""

    code = "RUN_REFUSED"

    def __init__(self, job_id: str, causes: str, *, hint: str) -> None:
        super().__init__(
            f"Job {job_id} cannot run: {causes}. Nothing was started or written.", hint=hint
        )
        self.causes = causes


@dataclass(frozen=True, slots=True)
class _Finding:
    what: str  # one clause of the message
    hint: str  # what to do about it


def check_runnable(
    prepared: PreparedScore,
    instruments: Registry,
    *,
    override: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> None:
    """Raise `RunRefused` when some sheet of ``prepared`` cannot possibly run here.

    ``override`` is `--instrument`; ``environ`` supplies the PATH programs are found on
    (this process's environment by default, as for the attempts themselves).
    """
    env = os.environ if environ is None else environ
    found = [
        *_instrument_findings(prepared, instruments, override, env.get("PATH")),
        *_template_findings(prepared, override),
    ]
    if not found:
        return
    raise RunRefused(
        prepared.job_id,
        "; ".join(f.what for f in found),
        hint=" ".join(dict.fromkeys(f.hint for f in found)),
    )


def _instrument_findings(
    prepared: PreparedScore, registry: Registry, override: str | None, path: str | None
) -> list[_Finding]:
    unknown: dict[tuple[str, str], list[int]] = {}  # (name, profile): sheets
    stranded: dict[tuple[str, ...], list[int]] = {}  # chains with nothing usable: sheets
    reasons: dict[str, str] = {}
    for sheet in prepared.plan.sheets:
        chain = sheet.chain(override)
        usable = False
        for choice in chain:
            if choice.profile not in registry and not _broken(registry, choice.profile):
                unknown.setdefault((choice.name, choice.profile), []).append(sheet.num)
                continue
            if choice.name not in reasons:
                reasons[choice.name] = _unusable(registry, choice, path) or ""
            usable = usable or not reasons[choice.name]
        known = tuple(c.name for c in chain if (c.name, c.profile) not in unknown)
        if not usable and known:
            stranded.setdefault(known, []).append(sheet.num)
    found = [
        _Finding(
            f"{_named_by(name, profile, override)} is unknown ({_sheets(nums)})",
            suggestion(profile, registry.names()),
        )
        for (name, profile), nums in unknown.items()
    ]
    for names, nums in stranded.items():
        listed = ", ".join(f"{name} ({reasons[name]})" for name in names)
        found.append(
            _Finding(
                f"no instrument of {_sheets(nums)} can be used here: {listed}",
                f"Install {' or '.join(names)} (`mzt instruments check {names[0]}` says how), "
                "or choose one that is here with --instrument (`mzt instruments list`).",
            )
        )
    return found


def _named_by(name: str, profile: str, override: str | None) -> str:
    if name == override:
        return f"the instrument {name!r} given with --instrument"
    if name != profile:
        return f"the instrument {profile!r} of the score's alias {name!r}"
    return f"the score's instrument {name!r}"


def _sheets(nums: list[int]) -> str:
    return f"sheet {nums[0]}" if len(nums) == 1 else f"sheets {spans(nums)}"


def _broken(registry: Registry, name: str) -> bool:
    return any(p.name == name for p in registry.file_problems)


def _unusable(registry: Registry, choice: InstrumentChoice, path: str | None) -> str | None:
    """Why the known instrument ``choice`` cannot be used here; None when it can."""
    instrument = registry.get(choice.profile)
    if instrument is None:
        if choice.profile in NATIVE_ONLY:
            return f"not available in mzt: {NATIVE_ONLY[choice.profile]}"
        problem = next(p for p in registry.file_problems if p.name == choice.profile)
        return f"its profile {problem.path} was skipped: {problem.message}"
    if not instrument.runnable:
        return "an HTTP instrument of a kind mzt cannot call"
    if instrument.profile.cli is not None and instrument.locate(path) is None:
        return f"not installed: `{instrument.executable}` is not on PATH"
    return None


def _template_findings(prepared: PreparedScore, override: str | None) -> list[_Finding]:
    """A V101 variable that stops the prompt of every sheet (one read only in some
    branches leaves the other sheets running, as before)."""
    loaded = prepared.loaded
    text = loaded.template
    if text is None:
        return []
    names = undefined_variables(text, loaded.score.prompt.variables)
    if not names:
        return []
    hit = _undefined_everywhere(prepared, names, override)
    return [
        _Finding(
            f"the template uses {name!r}, which is not defined, on every sheet",
            f"Define {name!r} in prompt.variables or fix its spelling "
            "(`mzt validate` says where, as V101).",
        )
        for name in sorted(hit)
    ]


def _undefined_everywhere(
    prepared: PreparedScore, names: Iterable[str], override: str | None
) -> set[str]:
    """The names whose absence stopped each sheet's prompt; empty as soon as one sheet
    renders, or fails for another reason (which a run may not share)."""
    loaded, plan = prepared.loaded, prepared.plan
    assert loaded.template is not None
    template = compile_template(loaded.template)
    messages = {f"{name!r} is undefined": name for name in names}
    ws = str(prepared.workspace)
    hit: set[str] = set()
    for sheet in plan.sheets:
        first = sheet.chain(override)[0].name
        variables = prompt_variables(plan, sheet, loaded.score, ws, instrument_name=first)
        try:
            render(template, variables)
        except TemplateError as exc:
            name = messages.get(str(exc))
            if name is None:
                return set()
            hit.add(name)
        else:
            return set()
    return hit
