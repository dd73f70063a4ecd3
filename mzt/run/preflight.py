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
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from mzt.instruments import Registry
from mzt.instruments.loader import NATIVE_ONLY
from mzt.score.fields import TemplateError
from mzt.score.plan import SheetPlan
from mzt.score.preparation import PreparedScore
from mzt.score.templating import (
    compile_template,
    environment,
    prompt_variables,
    render,
    undefined_variables,
)
from mzt.support import records
from mzt.support.errors import UsageError
from mzt.support.numbers import spans

if TYPE_CHECKING:
    from jinja2 import nodes


class RunRefused(UsageError):
    """The run would fail for certain, so it does not start (nothing is written)."""

    code = "RUN_REFUSED"

    def __init__(self, job_id: str, causes: str, *, hint: str) -> None:
        super().__init__(
            f"Job {job_id} cannot run: {causes}. Nothing was started or written.", hint=hint
        )
        self.causes = causes


@records.record(frozen=True, slots=True)
class _Finding:
    what: str  # one clause of the message
    hint: str  # what to do about it


def check_runnable(
    prepared: PreparedScore,
    instruments: Registry,
    *,
    override: str | None = None,
    sheets: Iterable[int] | None = None,
    environ: Mapping[str, str] | None = None,
) -> None:
    """Raise `RunRefused` when some sheet of ``prepared`` cannot possibly run here.

    ``override`` is `--instrument`; ``sheets`` the numbers of the sheets the run will
    execute (default: all); ``environ`` supplies the PATH programs are found on (this
    process's environment by default, as for the attempts themselves).
    """
    env = os.environ if environ is None else environ
    plan = prepared.plan
    chosen = plan.sheets if sheets is None else tuple(plan.sheet(n) for n in sheets)
    if not chosen:
        return
    found = [
        *_instrument_findings(chosen, instruments, override, env.get("PATH")),
        *_template_findings(prepared, chosen, override),
    ]
    if not found:
        return
    raise RunRefused(
        prepared.job_id,
        "; ".join(f.what for f in found),
        hint=" ".join(dict.fromkeys(f.hint for f in found)),
    )


def _instrument_findings(
    sheets: Sequence[SheetPlan], registry: Registry, override: str | None, path: str | None
) -> list[_Finding]:
    unknown: dict[tuple[str, str], list[int]] = {}  # (name, profile): sheets
    stranded: dict[tuple[tuple[str, str], ...], list[int]] = {}  # chains none can play
    reasons: dict[str, str] = {}  # by profile; "" when it can be used here
    # Scores have few distinct chains and may have 100,000 sheets: judge each chain once.
    judged: dict[tuple[tuple[str, str], ...], tuple[list[tuple[str, str]], bool]] = {}
    for sheet in sheets:
        chain = tuple((c.name, c.profile) for c in sheet.chain(override))
        if chain not in judged:
            judged[chain] = _judge(chain, registry, reasons, path)
        missing, none_usable = judged[chain]
        for pair in missing:
            unknown.setdefault(pair, []).append(sheet.num)
        if none_usable:
            stranded.setdefault(tuple(c for c in chain if c not in missing), []).append(sheet.num)
    found = [
        _Finding(
            f"{_named_by(name, profile, override)} is unknown ({_sheets(nums)})",
            _suggestion(profile, registry),
        )
        for (name, profile), nums in unknown.items()
    ]
    if not stranded:
        return found
    whats = [
        f"no instrument of {_sheets(nums)} can be used here: {_listed(known, reasons)}"
        for known, nums in stranded.items()
    ]
    profiles = list(dict.fromkeys(p for known in stranded for _, p in known))
    others = ", and likewise for the others" if len(profiles) > 1 else ""
    install = (
        f"Install {' or '.join(profiles)} (`mzt instruments check {profiles[0]}` says "
        f"how{others}), or choose one that is here with --instrument (`mzt instruments list`)."
    )
    return [*found, _Finding("; ".join(whats), install)]


def _judge(
    chain: tuple[tuple[str, str], ...],
    registry: Registry,
    reasons: dict[str, str],
    path: str | None,
) -> tuple[list[tuple[str, str]], bool]:
    """The chain's unknown instruments, and whether none of its known ones can be used."""
    missing = [c for c in chain if c[1] not in registry and not _broken(registry, c[1])]
    known = [profile for name, profile in chain if (name, profile) not in missing]
    for profile in known:
        if profile not in reasons:
            reasons[profile] = _unusable(registry, profile, path) or ""
    return missing, bool(known) and all(reasons[p] for p in known)


def _listed(chain: tuple[tuple[str, str], ...], reasons: dict[str, str]) -> str:
    return ", ".join(
        f"{name} ({reasons[profile]})"
        if name == profile
        else f"{name} (profile {profile}, {reasons[profile]})"
        for name, profile in chain
    )


def _suggestion(name: str, registry: Registry) -> str:
    # Imported here: the facts module costs a run start that has nothing to refuse.
    from mzt.instruments.info import suggestion

    return suggestion(name, registry.names())


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


def _unusable(registry: Registry, profile: str, path: str | None) -> str | None:
    """Why the known instrument ``profile`` cannot be used here; None when it can."""
    instrument = registry.get(profile)
    if instrument is None:
        if profile in NATIVE_ONLY:
            return f"not available in mzt: {NATIVE_ONLY[profile]}"
        problem = next(p for p in registry.file_problems if p.name == profile)
        return f"its profile {problem.path} was skipped: {problem.message}"
    if instrument.profile.cli is not None:
        found = instrument.locate(path)
        return None if found else f"not installed: `{instrument.executable}` is not on PATH"
    # Asked only of HTTP profiles: answering imports the HTTP client.
    return None if instrument.runnable else "an HTTP instrument of a kind mzt cannot call"


def _template_findings(
    prepared: PreparedScore, sheets: Sequence[SheetPlan], override: str | None
) -> list[_Finding]:
    """A V101 variable that stops the prompt of every sheet (one read only in some
    branches leaves the other sheets running, as before)."""
    loaded = prepared.loaded
    text = loaded.template
    if text is None:
        return []
    names = undefined_variables(text, loaded.score.prompt.variables)
    if not names:
        return []
    hit = _read_at_top(text, names) or _undefined_everywhere(prepared, sheets, names, override)
    return [
        _Finding(
            f"the template uses {name!r}, which is not defined, on every sheet",
            f"Define {name!r} in prompt.variables or fix its spelling "
            "(`mzt validate` says where, as V101).",
        )
        for name in sorted(hit)
    ]


def _read_at_top(text: str, names: set[str]) -> set[str]:
    """Those of ``names`` that every render reaches unless it failed before: printed,
    tested by an ``if`` or looped over at the template's top level (attributes and items
    included). Answers a typo without rendering each of 100,000 sheets."""
    from jinja2 import nodes  # a template with markup: the check already loaded Jinja

    found: set[str] = set()
    for node in environment().parse(text).body:
        exprs: list[nodes.Node]
        if isinstance(node, nodes.Output):
            exprs = list(node.nodes)
        elif isinstance(node, nodes.If):
            exprs = [node.test]
        elif isinstance(node, nodes.For):
            exprs = [node.iter]
        else:
            continue
        for expr in exprs:
            while isinstance(expr, nodes.Getattr | nodes.Getitem):
                expr = expr.node
            if isinstance(expr, nodes.Name) and expr.name in names:
                found.add(expr.name)
    return found


def _undefined_everywhere(
    prepared: PreparedScore, sheets: Sequence[SheetPlan], names: Iterable[str], override: str | None
) -> set[str]:
    """The names whose absence stopped each sheet's prompt; empty as soon as one sheet
    renders, or fails for another reason (which a run may not share)."""
    loaded, plan = prepared.loaded, prepared.plan
    assert loaded.template is not None
    template = compile_template(loaded.template)
    messages = {f"{name!r} is undefined": name for name in names}
    ws = str(prepared.workspace)
    hit: set[str] = set()
    for sheet in sheets:
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


def override_note(prepared: PreparedScore, override: str | None) -> str | None:
    """What a run should say when ``--instrument cli`` replaces a score's agents: the cli
    profile runs each prompt as a bash script, and prompts written for an agent are prose
    (a new user trying an agent score offline otherwise sees only bash errors)."""
    if override != "cli":
        return None
    agents = sorted(
        {s.instrument.name for s in prepared.plan.sheets if s.instrument.profile != "cli"}
    )
    if not agents:
        return None
    named = ", ".join(agents[:3]) + (f" and {len(agents) - 3} more" if len(agents) > 3 else "")
    return (
        f"--instrument cli runs each sheet's prompt as a bash script; this score's prompts "
        f"were written for {named}"
    )
