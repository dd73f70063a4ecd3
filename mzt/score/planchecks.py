"""The checks of `mzt validate` that read the plan: instruments, timeouts, sheet-keyed settings."""

from __future__ import annotations

from collections.abc import Iterable

from mzt.score.catalog import Catalog
from mzt.score.conditions import ExpressionError, compile_expression
from mzt.score.findings import Findings, Path_
from mzt.score.models import DEFAULT_INSTRUMENT, KNOWN_CONFIG_KEYS, InstrumentConfig, Score
from mzt.score.plan import Plan
from mzt.support.hints import closest

SHORT_TIMEOUT = 60.0
LONG_TIMEOUT = 2 * 3600.0


def check_instruments(found: Findings, plan: Plan, catalog: Catalog) -> None:
    score = found.loaded.score
    aliases = score.instruments
    backend_type = score.backend.type
    if (
        score.instrument is not None
        and "type" in score.backend.model_fields_set
        and backend_type != DEFAULT_INSTRUMENT
    ):
        found.add(
            "V011",
            f"`instrument: {score.instrument}` and `backend.type: {backend_type}` both choose "
            "the instrument",
            ("backend", "type"),
            severity="error",
            hint="keep one of the two (`instrument` is the newer spelling)",
        )
    for alias, spec in aliases.items():
        if spec.profile not in catalog:
            found.add(
                "V210",
                f"the alias {alias!r} uses the unknown instrument {spec.profile!r}",
                ("instruments", alias, "profile"),
                hint=_instrument_hint(spec.profile, catalog),
            )
    reported: set[str] = set()
    for sheet in plan.sheets:
        for choice, code in ((sheet.instrument, "V210"), *((f, "V211") for f in sheet.fallbacks)):
            if choice.name in aliases or choice.profile in catalog or choice.name in reported:
                continue
            reported.add(choice.name)
            kind = "instrument" if code == "V210" else "fallback instrument"
            found.add(
                code,
                f"unknown {kind} {choice.name!r} (first used by sheet {sheet.num})",
                _instrument_path(score, choice.name),
                hint=_instrument_hint(choice.name, catalog),
            )
    configs: list[tuple[Path_, InstrumentConfig]] = [
        (("instrument_config",), score.instrument_config)
    ]
    configs += [
        (("movements", n, "instrument_config"), m.instrument_config)
        for n, m in score.movements.items()
    ]
    configs += [(("instruments", a, "config"), s.config) for a, s in aliases.items()]
    configs += [
        (("sheet", "per_sheet_instrument_config", n), c)
        for n, c in score.sheet.per_sheet_instrument_config.items()
    ]
    for path, config in configs:
        for key in config.unknown_keys():
            close = closest(key, sorted(KNOWN_CONFIG_KEYS), cutoff=0.75)
            found.add(
                "V302",
                f"{key!r} is not a setting mzt knows; it is passed to the instrument as is",
                (*path, key),
                hint=f"did you mean {close!r}?" if close else None,
            )


def _instrument_path(score: object, name: str) -> Path_:
    if getattr(score, "instrument", None) == name:
        return ("instrument",)
    if name in getattr(score, "instrument_fallbacks", []):
        return ("instrument_fallbacks",)
    return ()


def _instrument_hint(name: str, catalog: Catalog) -> str:
    close = closest(name, catalog.names())
    if close:
        return f"did you mean {close!r}?"
    return "known instruments: " + ", ".join(catalog.names())


def check_timeouts(found: Findings, plan: Plan) -> None:
    short: dict[float, list[int]] = {}
    long: dict[float, list[int]] = {}
    for sheet in plan.sheets:
        timeout = sheet.instrument.timeout_seconds
        if timeout < SHORT_TIMEOUT:
            short.setdefault(timeout, []).append(sheet.num)
        elif timeout > LONG_TIMEOUT:
            long.setdefault(timeout, []).append(sheet.num)
    for timeout, sheets in short.items():
        found.add(
            "V103", f"the attempt timeout of {_sheets(sheets)} is {timeout:g} s (under a minute)"
        )
    for timeout, sheets in long.items():
        found.add(
            "V104",
            f"the attempt timeout of {_sheets(sheets)} is {timeout / 3600:.1f} h",
            severity="info",
        )


def _is_chain(plan: Plan) -> bool:
    """Whether no two sheets could ever run at once: every sheet after the first waits,
    directly or through others, for the one just before it."""
    if plan.total_sheets < 2:
        return False
    # Longest-path depth in topological order: a chain gives every sheet its own depth.
    waiting = {s.num: len(set(s.dependencies)) for s in plan.sheets}
    dependents: dict[int, list[int]] = {}
    for sheet in plan.sheets:
        for dep in set(sheet.dependencies):
            dependents.setdefault(dep, []).append(sheet.num)
    ready = [num for num, count in waiting.items() if count == 0]
    depth = dict.fromkeys(ready, 0)
    while ready:
        num = ready.pop()
        for after in dependents.get(num, ()):
            depth[after] = max(depth.get(after, 0), depth[num] + 1)
            waiting[after] -= 1
            if waiting[after] == 0:
                ready.append(after)
    return len(depth) == plan.total_sheets and len(set(depth.values())) == plan.total_sheets


def _sheets(nums: list[int]) -> str:
    if len(nums) == 1:
        return f"sheet {nums[0]}"
    shown = ", ".join(map(str, nums[:5])) + (", …" if len(nums) > 5 else "")
    return f"sheets {shown}"


def check_sheet_maps(found: Findings, plan: Plan) -> None:
    score = found.loaded.score
    cfg = score.sheet
    fanned = any(s.fan_count > 1 for s in plan.sheets)
    if fanned and not cfg.dependencies:
        found.add(
            "V206",
            "the score fans out but sets no sheet.dependencies: each stage waits for all of the "
            "previous stage",
            ("sheet",),
            severity="info",
        )
    if fanned and not score.parallel.enabled:
        found.add(
            "V207",
            "the score fans out but parallel.enabled is false, so instances run one at a time",
            ("sheet",),
            severity="info",
        )
    if score.parallel.enabled and score.parallel.max_concurrent > 1 and _is_chain(plan):
        # No pause to mention: the pause between sheets applies only when one runs at a time.
        found.add(
            "V215",
            f"on, but each of the {plan.total_sheets} sheets waits for the one before it "
            "(sheets without sheet.dependencies form a chain), so they run one at a "
            "time; declare sheet.dependencies or a fan-out to let them overlap",
            ("parallel", "enabled"),
        )
    stages = plan.total_stages
    for name, mapping in (
        ("skip_when", cfg.skip_when),
        ("skip_when_command", cfg.skip_when_command),
    ):
        for key in mapping:
            if key > stages:
                found.add(
                    "V212", f"{name} names stage {key}, which does not exist", ("sheet", name, key)
                )
    for key, expression in cfg.skip_when.items():
        try:
            compile_expression(expression)
        except ExpressionError as exc:
            found.add(
                "V305",
                f"the skip_when expression {exc}",
                ("sheet", "skip_when", key),
                severity="error",
            )
    for key in score.movements:
        if key > stages:
            found.add(
                "V213",
                f"movement {key} does not exist (the score has {stages} stages)",
                ("movements", key),
            )
    _check_sheet_keys(found, plan, _sheet_keyed(score))


def _sheet_keyed(score: Score) -> Iterable[tuple[str, Iterable[int]]]:
    cfg = score.sheet
    yield "descriptions", cfg.descriptions
    yield "cadenzas", cfg.cadenzas
    yield "prompt_extensions", cfg.prompt_extensions
    yield "per_sheet_instruments", cfg.per_sheet_instruments
    yield "per_sheet_instrument_config", cfg.per_sheet_instrument_config
    yield "per_sheet_fallbacks", cfg.per_sheet_fallbacks
    yield "backend.timeout_overrides", score.backend.timeout_overrides
    yield "backend.sheet_overrides", score.backend.sheet_overrides
    yield "slurm.sheets", score.slurm.sheets
    configs = [("instrument_config", score.instrument_config)]
    configs += [
        (f"movements.{n}.instrument_config", m.instrument_config)
        for n, m in score.movements.items()
    ]
    configs += [(f"instruments.{a}.config", s.config) for a, s in score.instruments.items()]
    for where, config in configs:
        yield f"{where}.timeout_overrides", config.timeout_overrides or {}


def _check_sheet_keys(
    found: Findings, plan: Plan, maps: Iterable[tuple[str, Iterable[int]]]
) -> None:
    total = plan.total_sheets
    for name, keys in maps:
        where = name if "." in name else f"sheet.{name}"
        for key in keys:
            if key > total:
                found.add(
                    "V214",
                    f"{where} names sheet {key}, which does not exist (the score has {total})",
                    (*where.split("."), key),
                )
    for instrument, nums in found.loaded.score.sheet.instrument_map.items():
        for num in nums:
            if num > total:
                found.add(
                    "V214",
                    f"sheet.instrument_map names sheet {num}, which does not exist",
                    ("sheet", "instrument_map", instrument),
                )
