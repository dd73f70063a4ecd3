"""The validation engine: run a sheet's validation rules after an attempt and report.

A rule is checked, and while it fails it is checked again up to ``retry_count`` more
times, ``retry_delay_ms`` apart, because agents and file systems finish writing a moment
late. Rules run in ascending ``stage`` order (input order within a stage); once a rule of
stage *k* fails, the rules of later stages are not run and are reported as skipped —
the fail-fast the score documentation promises. Skipped rules count as not passed.

Nothing here raises for a problem the user caused (an unknown ``{field}``, an invalid
regular expression, an unreadable file, a missing working directory): each becomes a
failed rule with a message that says what to fix. ``command_succeeds`` runs
``bash -c`` through :func:`mzt.support.process.run_process` (own process group, timeout ladder,
bounded output) and its ``{field}`` values reach the shell only as quoted references to
``MZT_V_*`` environment variables, so no value can inject shell syntax.

Paths (``path`` and ``working_directory``) are filled in with single-brace fields, then
``~`` is expanded, and a relative result is taken relative to the **workspace** — never
to the directory mzt happens to run in.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mzt.score.fields import COMMAND_ENV_PREFIX, TemplateError, substitute_command
from mzt.score.models.validation import ValidationRule
from mzt.support.process import ProcessRequest, StopRequest, run_process
from mzt.validation.checks import (
    Check,
    check_content,
    check_file_exists,
    check_file_modified,
    command_verdict,
    compile_pattern,
    config_error,
    context_workspace,
    excerpt,
    failure,
    resolve_path,
)
from mzt.validation.report import RuleResult, ValidationReport
from mzt.validation.texts import (
    COMMAND_CHARS,
    failure_line,
    requirement_lines,
    satisfied_line,
    shown_command,
)

__all__ = [
    "failure_line",
    "requirement_lines",
    "run_validations",
    "satisfied_line",
    "snapshot_mtimes",
]

DEFAULT_COMMAND_TIMEOUT = 3600.0
COMMAND_GRACE_SECONDS = 2.0
_PROCESS_TAIL_BYTES = 8 * 1024  # per stream; a little more than a result keeps
_STOP_POLL_SECONDS = 0.25  # a retry delay is slept in slices so a cancel is seen quickly


# --- public entry points ------------------------------------------------------------------


def snapshot_mtimes(
    rules: Sequence[tuple[int, ValidationRule]], context: Mapping[str, Any]
) -> dict[int, float]:
    """The mtime (seconds) of every ``file_modified`` rule's file, keyed by rule index.

    Take it before the sheet's first attempt. A file that does not exist (or cannot be
    examined) gets 0.0, so creating it counts as a modification; a rule whose path
    cannot be expanded gets no entry (it fails as a configuration error when run).
    Relative paths are anchored at ``context["workspace"]``.
    """
    workspace = context_workspace(context)
    mtimes: dict[int, float] = {}
    for index, rule in rules:
        if rule.type != "file_modified" or not rule.path:
            continue
        try:
            path = resolve_path(rule.path, context, workspace)
        except TemplateError:
            continue
        try:
            mtimes[index] = path.stat().st_mtime
        except (OSError, ValueError):
            mtimes[index] = 0.0
    return mtimes


def run_validations(
    rules: Sequence[tuple[int, ValidationRule]],
    context: Mapping[str, Any],
    *,
    workspace: Path,
    baseline: Mapping[int, float],
    environ: Mapping[str, str],
    should_stop: Callable[[], StopRequest | None] = lambda: None,
    sleep: Callable[[float], None] = time.sleep,
) -> ValidationReport:
    """Check ``rules`` (``(index into score.validations, rule)`` pairs) and report.

    ``context`` fills ``{fields}`` (see :func:`mzt.score.templating.validation_context`);
    relative paths and working directories are anchored at ``workspace``, not at the
    current directory. ``baseline`` holds the :func:`snapshot_mtimes` of the sheet (a
    missing entry means 0.0: any existing file counts as modified). Commands get
    ``environ`` plus their ``MZT_V_*`` values. ``should_stop`` is consulted before each
    check, during retry delays and while a command runs; once it answers, nothing more
    runs and the rest is reported as skipped. Never raises for a user-caused problem.
    """
    watch = _StopWatch(should_stop)
    env = {k: v for k, v in environ.items() if not k.startswith(COMMAND_ENV_PREFIX)}
    runner = _RuleRunner(context, workspace, baseline, env, watch, sleep)
    results: list[RuleResult] = []
    failed_stage: int | None = None
    # sorted() is stable: rules of one stage keep their order in the score.
    for index, rule in sorted(rules, key=lambda pair: pair[1].stage):
        stop = watch()
        if stop is not None:
            results.append(runner.skipped(index, rule, f"Not checked: mzt was {stop.reason}"))
            continue
        if failed_stage is not None and rule.stage > failed_stage:
            results.append(
                runner.skipped(
                    index,
                    rule,
                    f"Not checked because a stage-{failed_stage} validation failed",
                    f"Make the failing stage-{failed_stage} validations pass first.",
                )
            )
            continue
        result = runner.run(index, rule)
        results.append(result)
        if not result.passed and not result.skipped and failed_stage is None:
            failed_stage = rule.stage
    return ValidationReport(tuple(results), stopped=watch.request)


# --- the engine ---------------------------------------------------------------------------


class _StopWatch:
    """``should_stop`` made sticky: once a stop is requested, it stays requested."""

    def __init__(self, should_stop: Callable[[], StopRequest | None]) -> None:
        self.should_stop = should_stop
        self.request: StopRequest | None = None

    def __call__(self) -> StopRequest | None:
        if self.request is None:
            self.request = self.should_stop()
        return self.request


class _RuleRunner:
    """Checks single rules (with their re-checks) against one context."""

    def __init__(
        self,
        context: Mapping[str, Any],
        workspace: Path,
        baseline: Mapping[int, float],
        environ: Mapping[str, str],
        watch: _StopWatch,
        sleep: Callable[[float], None],
    ) -> None:
        self.context = context
        self.workspace = workspace
        self.baseline = baseline
        self.environ = environ
        self.watch = watch
        self.sleep = sleep

    def run(self, index: int, rule: ValidationRule) -> RuleResult:
        """Check ``rule``, re-checking a failure up to ``retry_count`` times."""
        started = time.monotonic()
        checks = 0
        while True:
            check = self._check(index, rule)
            checks += 1
            if check.passed or check.final or check.interrupted or checks > rule.retry_count:
                break
            if self._pause(rule.retry_delay_ms / 1000.0) is not None:
                break  # keep the failure we have; nothing more runs
        interrupted = check.interrupted
        if interrupted:
            # No verdict: the command was stopped, not judged.
            stop = self.watch.request
            reason = stop.reason if stop is not None else "stopped"
            check = Check(False, "skipped", f"Not finished: mzt was {reason}")
        return self._result(index, rule, check, checks=checks, started=started, skipped=interrupted)

    def skipped(
        self,
        index: int,
        rule: ValidationRule,
        message: str,
        fix: str | None = None,
    ) -> RuleResult:
        """A rule that was not run (a stage before it failed, or mzt is stopping)."""
        check = Check(False, "skipped", message, fix)
        return self._result(index, rule, check, checks=0, started=None, skipped=True)

    def _result(
        self,
        index: int,
        rule: ValidationRule,
        check: Check,
        *,
        checks: int,
        started: float | None,
        skipped: bool = False,
    ) -> RuleResult:
        return RuleResult(
            index=index,
            rule_type=rule.type,
            description=rule.description,
            stage=rule.stage,
            path=self._shown_path(rule.path),
            pattern=rule.pattern,
            command=shown_command(rule.command, self.context) if rule.command else None,
            passed=check.passed,
            skipped=skipped,
            checks=checks,
            error_message=check.message,
            actual_value=check.actual,
            expected_value=check.expected,
            failure_category=check.category,
            suggested_fix=check.fix,
            checked_at=datetime.now(UTC).isoformat(),
            duration_ms=0.0 if started is None else (time.monotonic() - started) * 1000.0,
            output=check.output,
        )

    def _shown_path(self, template: str | None) -> str | None:
        if template is None:
            return None
        try:
            return str(resolve_path(template, self.context, self.workspace))
        except TemplateError:
            return template

    def _pause(self, seconds: float) -> StopRequest | None:
        """Sleep ``seconds`` in slices, returning early with a stop request."""
        left = seconds
        while True:
            stop = self.watch()
            if stop is not None or left <= 0:
                return stop
            step = min(left, _STOP_POLL_SECONDS)
            self.sleep(step)
            left -= step

    # --- one check -----------------------------------------------------------------------

    def _check(self, index: int, rule: ValidationRule) -> Check:
        try:
            return self._check_once(index, rule)
        except (OSError, ValueError) as exc:
            # The checks handle what they expect; this catches the odd path or value the
            # OS refuses (an unencodable character, a name too long) so no rule can raise.
            return config_error(f"Cannot check this rule: {exc}")

    def _check_once(self, index: int, rule: ValidationRule) -> Check:
        if rule.type == "command_succeeds":
            if not rule.command:
                return config_error("command_succeeds needs a `command`")
            return self._command(rule, rule.command)
        if not rule.path:
            return config_error(f"{rule.type} needs a `path`")
        try:
            path = resolve_path(rule.path, self.context, self.workspace)
        except TemplateError as exc:
            return config_error(f"Cannot expand the path: {exc}")
        if rule.type == "file_exists":
            return check_file_exists(path)
        if rule.type == "file_modified":
            return check_file_modified(path, self.baseline.get(index, 0.0))
        if rule.pattern is None:
            return config_error(f"{rule.type} needs a `pattern`")
        if rule.type == "content_contains":
            return check_content(path, rule.pattern, None)
        regex = compile_pattern(rule.pattern)
        return regex if isinstance(regex, Check) else check_content(path, rule.pattern, regex)

    def _command(self, rule: ValidationRule, command: str) -> Check:
        shown = excerpt(shown_command(command, self.context), COMMAND_CHARS)
        text, additions = substitute_command(command, self.context)
        cwd = self.workspace
        if rule.working_directory:
            try:
                cwd = resolve_path(rule.working_directory, self.context, self.workspace)
            except TemplateError as exc:
                return config_error(f"Cannot expand the working directory: {exc}")
        if not cwd.is_dir():
            return failure(
                "missing",
                f"The working directory {cwd} of `{shown}` does not exist",
                f"Create the directory {cwd} (or fix working_directory in the score).",
                expected=f"directory {cwd}",
                actual="missing",
            )
        timeout = rule.timeout_seconds or DEFAULT_COMMAND_TIMEOUT
        import shutil  # here: only command checks run bash

        bash = shutil.which("bash", path=self.environ.get("PATH") or os.defpath) or "/bin/bash"
        outcome = run_process(
            ProcessRequest(
                # "--": a command text that starts with "-" is a command, not an option.
                argv=(bash, "-c", "--", text),
                cwd=cwd,
                env={**self.environ, **additions},
                timeout=timeout,
                grace_seconds=COMMAND_GRACE_SECONDS,
                tail_bytes=_PROCESS_TAIL_BYTES,
            ),
            should_stop=self.watch,
        )
        return command_verdict(outcome, shown, cwd, timeout)
