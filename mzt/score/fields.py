"""Single-brace ``{name}`` fields: validation paths, working folders and commands.

Kept apart from the Jinja2 prompt templates (`mzt.score.templating`) on purpose, and free
of Jinja2, so that a process which only runs validations (a Slurm job's attempt) never
loads it. In paths the values are formatted in; in commands each known field becomes a
quoted reference to an environment variable that holds its value, so no value can ever
become shell syntax.
"""

from __future__ import annotations

import re
import zlib

# What string.Formatter().parse is, without `string`: importing it compiles a pattern for
# string.Template, which nothing here uses.
from _string import formatter_parser  # type: ignore[import-not-found]
from collections.abc import Iterable, Mapping
from typing import Any

from mzt.score.bounds import LIMIT_CODE, LimitError, check_spec
from mzt.support.lazyre import LazyPattern

COMMAND_ENV_PREFIX = "MZT_V_"


class TemplateError(ValueError):
    """A template could not be compiled or rendered; the message says where and why.

    ``code`` is the error code a sheet that fails this way records: E307 when a bound
    (time, size, iterations, depth) was hit, E301 for any other unusable template.
    """

    def __init__(self, message: str, *, code: str = "E301") -> None:
        super().__init__(message)
        self.code = code


# --- single-brace fields -----------------------------------------------------------------


def format_fields(text: str, context: Mapping[str, Any]) -> str:
    """Fill ``{name}`` and ``{name:spec}`` fields; ``{{``/``}}`` are literal braces.

    Raises `TemplateError` for unknown names, empty or positional fields, attribute or
    index access and conversions, so a typo fails the validation instead of checking
    the wrong file.
    """
    out: list[str] = []
    try:
        parsed: list[tuple[str, str | None, str, str | None]] = list(formatter_parser(text))
    except ValueError as exc:
        raise TemplateError(f"{exc} in {text!r}") from None
    for literal, field, spec, conversion in parsed:
        out.append(literal)
        if field is None:
            continue
        if not field.isidentifier() or conversion:
            shown = "{" + field + ("!" + conversion if conversion else "") + "}"
            raise TemplateError(f"the field {shown} in {text!r} must be a plain {{name}}")
        if field not in context:
            raise TemplateError(f"unknown field {{{field}}} in {text!r}")
        try:
            check_spec(spec or "", f"{{{field}}} in {text!r}")
            out.append(format(context[field], spec or ""))
        except LimitError as exc:
            raise TemplateError(str(exc), code=LIMIT_CODE) from None
        except (ValueError, TypeError) as exc:
            raise TemplateError(f"cannot format {{{field}:{spec}}}: {exc}") from None
    return "".join(out)


# --- commands ------------------------------------------------------------------------------

FIELD = LazyPattern(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::([^{}:!]*))?\}")


def command_fields(command: str, keys: Iterable[str]) -> set[str]:
    """Which of ``keys`` appear as ``{key}`` fields in ``command``."""
    wanted = set(keys)
    return {m.group(1) for m in FIELD.finditer(command) if m.group(1) in wanted}


def substitute_command(command: str, context: Mapping[str, Any]) -> tuple[str, dict[str, str]]:
    """Replace known ``{key}`` fields with quoted environment-variable references.

    Returns the shell text and the variables to add to the command's environment.
    Unknown braces (``${VAR}``, awk's ``{print}``) are left as they are.
    """
    out: list[str] = []
    env: dict[str, str] = {}
    modes: list[str] = ["plain"]  # stack: plain, single, double, ansi, backtick, subst
    depth: list[int] = [0]  # open parentheses per `$(` frame
    i, n = 0, len(command)
    while i < n:
        char, mode = command[i], modes[-1]
        if char == "{" and (i == 0 or command[i - 1] != "$"):
            match = FIELD.match(command, i)
            value = _field_value(match, context) if match else None
            if match and value is not None:
                key, spec = match.group(1), match.group(2)
                var = (
                    COMMAND_ENV_PREFIX + key + (f"_{zlib.crc32(spec.encode()):08x}" if spec else "")
                )
                env[var] = value.replace("\0", "")
                out.append(_reference(var, mode))
                i = match.end()
                continue
        out.append(char)
        i += 1
        if mode == "single":
            if char == "'":
                modes.pop()
            continue
        if char == "\\" and mode != "single" and i < n:
            out.append(command[i])
            i += 1
            continue
        if mode == "ansi":
            if char == "'":
                modes.pop()
            continue
        if char == '"':
            if mode == "double":
                modes.pop()
            else:
                modes.append("double")
        elif char == "'" and mode != "double":
            if out[-2:-1] == ["$"]:
                modes.append("ansi")
            else:
                modes.append("single")
        elif char == "`":
            if mode == "backtick":
                modes.pop()
            else:
                modes.append("backtick")
        elif char == "(" and out[-2:-1] == ["$"]:
            modes.append("subst")
            depth.append(0)
        elif char == "(" and mode == "subst":
            depth[-1] += 1
        elif char == ")" and mode == "subst":
            if depth[-1] == 0:
                modes.pop()
                depth.pop()
            else:
                depth[-1] -= 1
    return "".join(out), env


def _field_value(match: re.Match[str], context: Mapping[str, Any]) -> str | None:
    """The text of a known field (with its format spec applied), or None to leave it alone.

    Raises `TemplateError` for a spec over the width bound: leaving such a field as
    written would run a command the score's author did not mean.
    """
    key, spec = match.group(1), match.group(2)
    if key not in context:
        return None
    try:
        check_spec(spec or "", f"{{{key}}} in a command")
    except LimitError as exc:
        raise TemplateError(str(exc), code=LIMIT_CODE) from None
    try:
        return format(context[key], spec or "")
    except (ValueError, TypeError):
        return None


def _reference(var: str, mode: str) -> str:
    if mode == "double":
        return "${" + var + "}"
    if mode == "single":
        return "'\"${" + var + "}\"'"
    if mode == "ansi":
        return "'\"${" + var + "}\"$'"
    return '"${' + var + '}"'


def display_command(command: str, context: Mapping[str, Any]) -> str:
    """The command as a person would read it, values filled in (never executed)."""

    def shown(match: re.Match[str]) -> str:
        try:
            return _field_value(match, context) or match.group(0)
        except TemplateError:
            return match.group(0)

    return FIELD.sub(shown, command)
