"""What agents are told about validations: requirement lines and completion-mode lines.

The prompt builder numbers and arranges these lines; each is a single line with paths
already expanded, so the agent sees the exact file names that will be checked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mzt.score.fields import TemplateError, display_command
from mzt.score.models.validation import ValidationRule
from mzt.validation.checks import context_workspace, excerpt, quoted, resolve_path

if TYPE_CHECKING:
    from mzt.validation.report import RuleResult

COMMAND_CHARS = 60  # of a command shown in a requirement or a line about it
ERROR_CHARS = 200  # of a command's output shown in a failure line
_PATTERN_CHARS = 120  # of a pattern shown in a line about a satisfied rule


def requirement_lines(
    rules: Sequence[tuple[int, ValidationRule]], context: Mapping[str, Any]
) -> list[str]:
    """One line per rule for the "Success Requirements" block, in the given order.

    ``rules`` are ``(index into score.validations, rule)`` pairs, as for
    :func:`mzt.validation.engine.run_validations`; relative paths are shown anchored at
    ``context["workspace"]``.
    """
    return [_requirement(rule, context) for _, rule in rules]


def _requirement(rule: ValidationRule, context: Mapping[str, Any]) -> str:
    if rule.type == "command_succeeds":
        text = f"This command must succeed: {_command(rule.command or '', context)}"
        if rule.working_directory:
            text += f" (run in {_path(rule.working_directory, context)})"
    else:
        path = _path(rule.path or "", context)
        pattern = rule.pattern or ""
        if rule.type == "file_exists":
            text = f"Create the file {path}"
        elif rule.type == "file_modified":
            text = f"Modify {path}"
        elif rule.type == "content_contains":
            text = f"{path} must contain: {quoted(pattern)}"
        else:
            text = f"{path} must match the pattern {quoted(pattern)}"
    return f"{rule.description}: {text}" if rule.description else text


def satisfied_line(result: RuleResult) -> str:
    """A rule that already passes, for the completion prompt's "do not redo" list."""
    pattern = quoted(result.pattern or "", _PATTERN_CHARS)
    if result.rule_type == "file_exists":
        text = f"[created] {result.path}"
    elif result.rule_type == "file_modified":
        text = f"[updated] {result.path}"
    elif result.rule_type == "content_contains":
        text = f"[verified] {result.path} contains {pattern}"
    elif result.rule_type == "content_regex":
        text = f"[verified] {result.path} matches {pattern}"
    else:
        text = f"[verified] `{excerpt(result.command or '', COMMAND_CHARS)}` succeeds"
    return f"{text} — {result.description}" if result.description else text


def failure_line(result: RuleResult) -> str:
    """A rule that does not pass yet: why, what the command said, and how to fix it."""
    reason = result.error_message or "The check failed"
    if result.output and result.failure_category in ("command", "timeout"):
        said = excerpt(" ".join(result.output.split()), ERROR_CHARS, tail=True)
        reason += f"; its output ends with: {said}"
    text = f"{result.description}: {reason}" if result.description else reason
    return f"{text}. Fix: {result.suggested_fix}" if result.suggested_fix else f"{text}."


def _path(template: str, context: Mapping[str, Any]) -> str:
    try:
        return str(resolve_path(template, context, context_workspace(context)))
    except TemplateError:
        return template  # the rule will fail as a config error; show what was written


def shown_command(command: str, context: Mapping[str, Any]) -> str:
    """A command validation's command as it ran, redacted: for the report and its lines."""
    # Imported here: only command checks show a command, and the redaction rules are a
    # visible share of a short attempt's start on a Slurm node.
    from mzt.support.redact import redact

    return redact(display_command(command, context))


def _command(command: str, context: Mapping[str, Any]) -> str:
    return excerpt(shown_command(command, context), COMMAND_CHARS)
