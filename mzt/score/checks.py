"""`mzt validate`'s checks: what can be known about a score without running it.

Each check adds `Issue`s with a V-code. Errors make the score unusable (exit 2);
warnings and infos are advice. Checks only read the file system (existence tests),
never write, never run anything.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from mzt.score.catalog import Catalog
from mzt.score.conditions import ExpressionError, compile_expression, parse_condition
from mzt.score.loader import LoadedScore
from mzt.score.models import (
    DEFAULT_INSTRUMENT,
    KNOWN_CONFIG_KEYS,
    REQUIRED_FIELDS,
    InjectionItem,
    InstrumentConfig,
    Score,
)
from mzt.score.plan import Plan
from mzt.score.templating import (
    BUILTIN_VARIABLES,
    TemplateError,
    compile_template,
    format_fields,
    jinja_globals,
    undeclared_variables,
)
from mzt.support.errors import Issue

Path_ = tuple[str | int, ...]
_SINGLE_BRACE = re.compile(r"(?<!\{)\{([A-Za-z_][A-Za-z0-9_]*)\}(?!\})")
_JINJA_MARK = re.compile(r"\{\{|\{%")
SHORT_TIMEOUT = 60.0
LONG_TIMEOUT = 2 * 3600.0


@dataclass
class Findings:
    """Issues found so far, split by severity."""

    loaded: LoadedScore
    errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)

    def add(
        self,
        code: str,
        message: str,
        path: Path_ = (),
        *,
        severity: str = "warning",
        hint: str | None = None,
    ) -> None:
        issue = Issue(
            code,
            message,
            ".".join(map(str, path)),
            self.loaded.locate(path) if path else None,
            hint=hint,
            severity=severity,
        )
        (self.errors if severity == "error" else self.warnings).append(issue)


def check_score(loaded: LoadedScore, plan: Plan, workspace: Path, catalog: Catalog) -> Findings:
    """Run every check; the score and plan are already valid as data."""
    found = Findings(loaded)
    _check_template(found)
    _check_workspace(found, workspace)
    _check_files(found)
    _check_validations(found, plan)
    _check_instruments(found, plan, catalog)
    _check_timeouts(found, plan)
    _check_sheet_maps(found, plan)
    _check_unused(found)
    return found


def _check_template(found: Findings) -> None:
    loaded = found.loaded
    prompt = loaded.score.prompt
    path: Path_ = ("prompt", "template_file" if prompt.template_file else "template")
    text = loaded.template
    if text is None:
        if prompt.template_file is None:
            found.add(
                "V102",
                "the score has no prompt template; each sheet gets a default one-line prompt",
                ("prompt",),
                severity="info",
            )
        return
    try:
        compile_template(text)
        names = undeclared_variables(text)
    except TemplateError as exc:
        found.add("V001", f"template syntax error at {exc}", path, severity="error")
        return
    user = set(prompt.variables)
    known = BUILTIN_VARIABLES | user | jinja_globals()
    suggestions = sorted(BUILTIN_VARIABLES | user)
    for name in sorted(names - known):
        close = difflib.get_close_matches(name, suggestions, n=1, cutoff=0.7)
        found.add(
            "V101",
            f"the template uses {name!r}, which is not defined",
            path,
            hint=f"did you mean {close[0]!r}?" if close else "add it to prompt.variables",
        )
    for name in sorted(
        {m.group(1) for m in _SINGLE_BRACE.finditer(text)} & (known - jinja_globals())
    ):
        found.add(
            "V202",
            f"the template contains {{{name}}} with single braces, which prompts do not fill in",
            path,
            hint=f"write {{{{ {name} }}}}",
        )
    for name in sorted(user & BUILTIN_VARIABLES):
        found.add(
            "V208",
            f"prompt.variables.{name} has the name of a built-in variable; the built-in wins",
            ("prompt", "variables", name),
            hint="rename the variable",
        )


def _check_workspace(found: Findings, workspace: Path) -> None:
    parent = workspace.parent
    if not parent.is_dir():
        found.add(
            "V002",
            f"the workspace's parent folder {parent} does not exist; a run will create it",
            ("workspace",),
            hint="check the path if that is not what you meant",
        )


def _check_files(found: Findings) -> None:
    loaded = found.loaded
    score = loaded.score
    if loaded.template_path is not None and loaded.template is None:
        state = "does not exist" if not loaded.template_path.exists() else "cannot be read as UTF-8"
        found.add(
            "V003",
            f"the template file {loaded.template_path} {state}",
            ("prompt", "template_file"),
            severity="error",
            hint="paths are relative to the score's folder",
        )
    configs: list[tuple[Path_, str | None]] = [
        (("backend", "system_prompt_file"), score.backend.system_prompt_file),
        (("instrument_config", "system_prompt_file"), score.instrument_config.system_prompt_file),
    ]
    for path, value in configs:
        if value and not _JINJA_MARK.search(value) and not (loaded.base_dir / value).exists():
            found.add(
                "V004", f"the system prompt file {value} does not exist", path, severity="error"
            )
    items: list[tuple[Path_, InjectionItem]] = [
        (("sheet", "prelude", i), item) for i, item in enumerate(score.sheet.prelude)
    ]
    items += [
        (("sheet", "cadenzas", num, i), item)
        for num, entries in score.sheet.cadenzas.items()
        for i, item in enumerate(entries)
    ]
    for path, item in items:
        target = item.file or item.directory or ""
        try:
            compile_template(target)
        except TemplateError as exc:
            found.add("V001", f"path template syntax error at {exc}", path, severity="error")
            continue
        if _JINJA_MARK.search(target) or not Path(target).is_absolute():
            continue  # rendered or workspace-relative: earlier sheets may create it
        if not Path(target).exists():
            found.add(
                "V108",
                f"the injected {'file' if item.file else 'folder'} {target} does not exist",
                path,
            )


def _check_validations(found: Findings, plan: Plan) -> None:
    score = found.loaded.score
    if not score.validations:
        found.add(
            "V203",
            "the score has no validations: a sheet counts as done when its instrument exits 0",
            ("validations",) if "validations" in score.model_fields_set else (),
            severity="info",
        )
        return
    fields = BUILTIN_VARIABLES | set(score.prompt.variables) | {"start_item", "end_item"}
    sample = {name: 0 for name in fields}
    applied = {i for sheet in plan.sheets for i in sheet.validations}
    for i, rule in enumerate(score.validations):
        base: Path_ = ("validations", i)
        missing = [f for f in REQUIRED_FIELDS[rule.type] if getattr(rule, f) in (None, "")]
        if rule.type == "content_contains" and rule.pattern == "":
            found.add("V106", "the pattern is empty, so it matches any file", (*base, "pattern"))
            missing = [f for f in missing if f != "pattern"]
        for name in missing:
            found.add("V008", f"a {rule.type} rule needs `{name}`", base, severity="error")
        if rule.type == "content_regex" and rule.pattern:
            try:
                re.compile(rule.pattern, re.MULTILINE)
            except re.error as exc:
                found.add(
                    "V007",
                    f"the pattern is not a valid regex: {exc}",
                    (*base, "pattern"),
                    severity="error",
                )
        for key in ("path", "working_directory"):
            value = getattr(rule, key)
            if not value:
                continue
            if _JINJA_MARK.search(value):
                found.add(
                    "V201",
                    f"{key} uses Jinja braces; validation paths take single-brace fields",
                    (*base, key),
                    hint="write {workspace}/file.md, not {{ workspace }}/file.md",
                )
                continue
            try:
                format_fields(value, sample)
            except TemplateError as exc:
                found.add(
                    "V010",
                    str(exc),
                    (*base, key),
                    severity="error",
                    hint="fields are built-in variables or prompt.variables",
                )
        condition = rule.effective_condition()
        if rule.condition is not None:
            for clause in parse_condition(rule.condition).unreadable():
                found.add(
                    "V306",
                    f"the condition clause {clause!r} cannot be read and counts as true",
                    (*base, "condition"),
                    hint="clauses look like `sheet_num >= 2`, joined by ` and `",
                )
        if condition is not None and i not in applied:
            found.add(
                "V307",
                "the rule applies to no sheet",
                (*base, "condition" if rule.condition else "sheet"),
            )


def _check_instruments(found: Findings, plan: Plan, catalog: Catalog) -> None:
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
            close = difflib.get_close_matches(key, sorted(KNOWN_CONFIG_KEYS), n=1, cutoff=0.75)
            found.add(
                "V302",
                f"{key!r} is not a setting mzt knows; it is passed to the instrument as is",
                (*path, key),
                hint=f"did you mean {close[0]!r}?" if close else None,
            )


def _instrument_path(score: object, name: str) -> Path_:
    if getattr(score, "instrument", None) == name:
        return ("instrument",)
    if name in getattr(score, "instrument_fallbacks", []):
        return ("instrument_fallbacks",)
    return ()


def _instrument_hint(name: str, catalog: Catalog) -> str:
    close = difflib.get_close_matches(name, catalog.names(), n=1, cutoff=0.6)
    if close:
        return f"did you mean {close[0]!r}?"
    return "known instruments: " + ", ".join(catalog.names())


def _check_timeouts(found: Findings, plan: Plan) -> None:
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


def _sheets(nums: list[int]) -> str:
    if len(nums) == 1:
        return f"sheet {nums[0]}"
    shown = ", ".join(map(str, nums[:5])) + (", …" if len(nums) > 5 else "")
    return f"sheets {shown}"


def _check_sheet_maps(found: Findings, plan: Plan) -> None:
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


def _check_unused(found: Findings) -> None:
    score = found.loaded.score
    for key in score.unused_keys():
        found.add("V301", f"`{key}` is accepted, not used by mzt", (key,))
    if score.state_backend == "sqlite":
        found.add(
            "V303",
            "state_backend sqlite is accepted; mzt keeps JSON checkpoints",
            ("state_backend",),
        )
    # Valid settings that this version of mzt does not carry out yet: say so rather than
    # let a user believe a hook ran or a worktree isolated the job.
    pending = [
        (("on_success",), bool(score.on_success), "on_success hooks are not run"),
        (("concert",), score.concert.enabled, "chained jobs (concert) are not started"),
        (("isolation",), score.isolation.enabled, "git worktree isolation is not set up"),
        (
            ("workspace_lifecycle",),
            score.workspace_lifecycle.archive_on_fresh,
            "--fresh does not archive the workspace",
        ),
        (("notifications",), bool(score.notifications), "notifications are not sent"),
        (("state_path",), score.state_path is not None, "state_path is ignored"),
    ]
    for path, present, what in pending:
        if present:
            found.add("V304", f"{what} by this version of mzt", path)
