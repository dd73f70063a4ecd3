"""`mzt validate`'s checks: what can be known about a score without running it.

Each check adds `Issue`s with a V-code. Errors make the score unusable (exit 2);
warnings and infos are advice. Checks only read the file system (existence tests),
never write, never run anything.
"""

from __future__ import annotations

import re
from pathlib import Path

from mzt.score.bounds import LIMIT_CODE, MAX_FORMAT_WIDTH, MAX_ITERATIONS, LimitError, check_spec
from mzt.score.catalog import Catalog
from mzt.score.claudechecks import check_claude_settings
from mzt.score.conditions import parse_condition
from mzt.score.fields import FIELD, TemplateError, format_fields
from mzt.score.findings import Findings, Path_
from mzt.score.isolationchecks import check_isolation
from mzt.score.loader import LoadedScore
from mzt.score.models import REQUIRED_FIELDS, InjectionItem
from mzt.score.plan import Plan
from mzt.score.planchecks import check_instruments, check_sheet_maps, check_timeouts
from mzt.score.templating import (
    BUILTIN_VARIABLES,
    compile_template,
    jinja_globals,
    loop_product,
    undefined_variables,
)
from mzt.support.fsutil import entry_exists, kind_of
from mzt.support.hints import closest

_SINGLE_BRACE = re.compile(r"(?<!\{)\{([A-Za-z_][A-Za-z0-9_]*)\}(?!\})")
_JINJA_MARK = re.compile(r"\{\{|\{%")
_PATTERNED = ("content_contains", "content_regex")


def check_score(loaded: LoadedScore, plan: Plan, workspace: Path, catalog: Catalog) -> Findings:
    """Run every check; the score and plan are already valid as data."""
    found = Findings(loaded)
    _check_template(found)
    _check_workspace(found, workspace)
    _check_files(found)
    _check_workdirs(found)
    _check_validations(found, plan)
    check_instruments(found, plan, catalog)
    check_claude_settings(found, plan)
    check_timeouts(found, plan)
    check_sheet_maps(found, plan)
    check_isolation(found, plan, workspace)
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
        undefined = undefined_variables(text, prompt.variables)
    except TemplateError as exc:
        found.add("V001", f"template syntax error at {exc}", path, severity="error")
        return
    iterations = loop_product(text)
    if iterations > MAX_ITERATIONS:
        found.add(
            "V013",
            f"the template's nested loops over literal ranges ask for {iterations:,} iterations; "
            f"a render stops after {MAX_ITERATIONS:,}",
            path,
            severity="error",
            hint="loop over the items the sheet needs (e.g. range(start_item, end_item + 1))",
        )
    user = set(prompt.variables)
    suggestions = sorted(BUILTIN_VARIABLES | user)
    for name in sorted(undefined):
        close = closest(name, suggestions, cutoff=0.7)
        found.add(
            "V101",
            f"the template uses {name!r}, which is not defined",
            path,
            hint=f"did you mean {close!r}?" if close else "add it to prompt.variables",
        )
    single = {m.group(1) for m in _SINGLE_BRACE.finditer(text)}
    for name in sorted(single & ((BUILTIN_VARIABLES | user) - jinja_globals()) if single else ()):
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
    blocker = _not_a_folder(workspace)
    if blocker is not None:
        what = f"the workspace {blocker} is {kind_of(blocker)}, not a folder"
        if blocker != workspace:
            what = (
                f"{blocker} is {kind_of(blocker)}, not a folder, so the workspace "
                f"{workspace} cannot be created"
            )
        found.add(
            "V002",
            what,
            ("workspace",),
            severity="error",
            hint="move it aside or choose another workspace",
        )
        return
    parent = workspace.parent
    if not parent.is_dir():
        found.add(
            "V002",
            f"the workspace's parent folder {parent} does not exist; a run will create it",
            ("workspace",),
            hint="check the path if that is not what you meant",
        )


def _not_a_folder(path: Path) -> Path | None:
    """The nearest of ``path`` and its parents that is there but is not a folder."""
    for probe in (path, *path.parents):
        if entry_exists(probe):
            return None if probe.is_dir() else probe
    return None


def _check_workdirs(found: Findings) -> None:
    loaded = found.loaded
    score = loaded.score
    configs: list[tuple[Path_, str | None]] = [
        (("backend", "working_directory"), score.backend.working_directory),
        (("instrument_config", "working_directory"), score.instrument_config.working_directory),
    ]
    for path, value in configs:
        if not value or _JINJA_MARK.search(value) or "{" in value:
            continue  # filled in at run time
        folder = Path(value).expanduser()
        folder = folder if folder.is_absolute() else loaded.base_dir / folder
        if not folder.is_dir():
            state = "does not exist" if not entry_exists(folder) else f"is {kind_of(folder)}"
            found.add(
                "V005",
                f"the working directory {folder} {state}",
                path,
                severity="error",
                hint="create the folder, or fix the path (relative paths start at the "
                "score's folder)",
            )


def _check_files(found: Findings) -> None:
    loaded = found.loaded
    score = loaded.score
    if loaded.template_path is not None and loaded.template is None:
        where = loaded.template_path
        state = "does not exist" if not entry_exists(where) else "cannot be read as UTF-8"
        if entry_exists(where) and not where.is_file():
            state = f"is {kind_of(where)}, not a regular file"
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
    items: list[tuple[Path_, str, InjectionItem]] = [
        (("sheet", "prelude", i), "prelude", item) for i, item in enumerate(score.sheet.prelude)
    ]
    items += [
        (("sheet", "cadenzas", num, i), f"cadenza (sheet {num})", item)
        for num, entries in score.sheet.cadenzas.items()
        for i, item in enumerate(entries)
    ]
    for path, source, item in items:
        target = item.file or item.directory or ""
        try:
            compile_template(target)
        except TemplateError as exc:
            found.add("V001", f"path template syntax error at {exc}", path, severity="error")
            continue
        if _JINJA_MARK.search(target) or not Path(target).is_absolute():
            continue  # rendered or workspace-relative: earlier sheets may create it
        if not Path(target).exists():
            kind = "file" if item.file else "folder"
            found.add("V108", f"the {kind} {target} injected by the {source} does not exist", path)


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
    if all(rule.type == "file_exists" for rule in score.validations):
        found.add(
            "V205",
            "every validation is file_exists, so a file left by an earlier run passes them",
            ("validations",),
            severity="info",
            hint="add a content or file_modified check, or set "
            "workspace_lifecycle.archive_on_fresh for `mzt run --fresh`",
        )
    fields = BUILTIN_VARIABLES | set(score.prompt.variables) | {"start_item", "end_item"}
    sample = {name: 0 for name in fields}
    applied = {i for sheet in plan.sheets for i in sheet.validations}
    for i, rule in enumerate(score.validations):
        base: Path_ = ("validations", i)
        for name in REQUIRED_FIELDS[rule.type]:
            value = getattr(rule, name)
            if value is None:
                found.add("V008", f"a {rule.type} rule needs `{name}`", base, severity="error")
            elif not value.strip():
                what = "empty" if value == "" else "only blanks"
                found.add(
                    "V008",
                    f"a {rule.type} rule needs `{name}`, and this one is {what}",
                    (*base, name),
                    severity="error",
                )
        if rule.pattern is not None and not rule.pattern.strip() and rule.type in _PATTERNED:
            found.add("V106", "the pattern is blank, so it matches any file", (*base, "pattern"))
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
                if exc.code == LIMIT_CODE:
                    _wide_spec(found, str(exc), (*base, key))
                    continue
                found.add(
                    "V010",
                    str(exc),
                    (*base, key),
                    severity="error",
                    hint="fields are built-in variables or prompt.variables",
                )
        if rule.command:
            _check_command_specs(found, rule.command, fields, (*base, "command"))
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


def _check_command_specs(
    found: Findings, command: str, fields: frozenset[str] | set[str], path: Path_
) -> None:
    """A command's ``{name:spec}`` fields are filled in at run time: bound their widths now."""
    for match in FIELD.finditer(command):
        if match.group(1) in fields and match.group(2):
            try:
                check_spec(match.group(2), f"{{{match.group(1)}}} in the command")
            except LimitError as exc:
                _wide_spec(found, str(exc), path)
                return


def _wide_spec(found: Findings, message: str, path: Path_) -> None:
    found.add(
        "V012",
        message,
        path,
        severity="error",
        hint=f"widths and precisions up to {MAX_FORMAT_WIDTH} are allowed, e.g. {{sheet_num:03d}}",
    )


def _check_unused(found: Findings) -> None:
    score = found.loaded.score
    for key in score.unused_keys():
        found.add("V301", f"`{key}` is accepted, not used by mzt", (key,))
    for key in score.backend.ollama.unused() if score.backend.ollama else ():
        found.add("V301", f"`{key}` is accepted, not used by mzt", ("backend", "ollama", key))
    if score.state_backend == "sqlite":
        found.add(
            "V303",
            "state_backend sqlite is accepted; mzt keeps JSON checkpoints",
            ("state_backend",),
        )
    # Valid settings that this version of mzt does not carry out yet: say so rather than
    # let a user believe a hook ran or a chained job started. Every such setting is
    # carried out now; the check stays for the next one.
    pending: list[tuple[tuple[str, ...], bool, str]] = []
    for path, present, what in pending:
        if present:
            found.add("V304", f"{what} by this version of mzt", path)
