"""Single checks of validation rules: path expansion and the verdict of one look.

Each function here looks once and says what it saw, in words an agent can act on; the
re-checks, stage order and command execution live in :mod:`mzt.validation.engine`. Nothing
here raises for a problem the user caused: it becomes a failed `Check`.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from mzt.score.fields import TemplateError, format_fields
from mzt.support import records
from mzt.support.process import Outcome

MAX_CONTENT_BYTES = 50 * 1024 * 1024  # content checks read at most this much of a file
OUTPUT_TAIL_CHARS = 2000  # command output kept in a result

FailureCategory = Literal[
    "missing", "not_modified", "content", "command", "timeout", "config", "skipped"
]


@records.record(frozen=True, slots=True)
class Check:
    """The outcome of checking a rule once."""

    passed: bool
    category: FailureCategory | None = None
    message: str | None = None
    fix: str | None = None
    actual: Any = None
    expected: Any = None
    output: str = ""  # redacted tail of a failing command's output
    final: bool = False  # checking again cannot change the answer (config errors, timeouts)
    interrupted: bool = False  # a stop request ended a running command


def failure(category: FailureCategory, message: str, fix: str, **kwargs: Any) -> Check:
    """A failed check."""
    return Check(False, category, message, fix, **kwargs)


def config_error(message: str) -> Check:
    """A rule that cannot be checked as written; re-checking would not help."""
    fix = "Fix this validation rule in the score; the agent cannot make it pass."
    return Check(False, "config", message, fix, final=True)


# --- paths and texts ----------------------------------------------------------------------


def resolve_path(template: str, context: Mapping[str, Any], workspace: Path) -> Path:
    """Fill in ``template``'s fields, expand ``~``, and anchor a relative path at ``workspace``.

    Relative paths are taken relative to the workspace, never to the current directory.
    Raises `TemplateError` for a field that cannot be filled in or a NUL byte.
    """
    text = format_fields(template, context)
    if "\0" in text:
        raise TemplateError(f"the path {template!r} contains a NUL byte")
    path = Path(text)
    # "~name" of an unknown user stays as written, as the shell leaves it.
    with contextlib.suppress(RuntimeError):
        path = path.expanduser()
    return path if path.is_absolute() else workspace / path


def context_workspace(context: Mapping[str, Any]) -> Path:
    """The workspace named in a validation context (where relative paths are anchored)."""
    return Path(str(context.get("workspace", "")))


def excerpt(text: str, limit: int, *, tail: bool = False) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis (its end with ``tail``)."""
    if len(text) <= limit:
        return text
    return "…" + text[-(limit - 1) :] if tail else text[: limit - 1] + "…"


def quoted(text: str, limit: int = 500) -> str:
    """``text`` shown so its exact characters are clear: in backticks, or JSON-escaped."""
    shown = excerpt(text, limit)
    if "`" in shown or any(ord(c) < 32 or c == "\x7f" for c in shown):
        return json.dumps(shown, ensure_ascii=False)
    return f"`{shown}`"


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat()


def _not_there(exc: OSError) -> bool:
    return isinstance(exc, FileNotFoundError | NotADirectoryError)


def _size(count: int) -> str:
    mib = 1024 * 1024
    return f"{count // mib} MiB" if count % mib == 0 else f"{count} bytes"


def _kind(mode: int) -> str:
    return "a directory" if stat.S_ISDIR(mode) else "not a regular file"


# --- the file checks ----------------------------------------------------------------------


def check_file_exists(path: Path) -> Check:
    """Passes when ``path`` exists and is a regular file (a symlink to one counts)."""
    expected = "a regular file"
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        if _not_there(exc):
            return failure(
                "missing",
                f"The file {path} does not exist",
                f"Create the file {path}.",
                expected=expected,
                actual="missing",
            )
        return failure(
            "missing",
            f"Cannot examine {path}: {exc.strerror or exc}",
            f"Make {path} an accessible regular file.",
            expected=expected,
            actual="inaccessible",
        )
    if stat.S_ISREG(mode):
        return Check(True, expected=expected, actual=expected)
    return failure(
        "missing",
        f"{path} is {_kind(mode)}, not a file",
        f"Create {path} as a regular file.",
        expected=expected,
        actual=_kind(mode),
    )


def check_file_modified(path: Path, baseline: float) -> Check:
    """Passes when ``path`` exists and its mtime is later than ``baseline`` (0: any)."""
    expected = f"modified after {_iso(baseline)}" if baseline else "created or modified"
    try:
        mtime = path.stat().st_mtime
    except OSError as exc:
        reason = "does not exist" if _not_there(exc) else f"cannot be examined: {exc}"
        return failure(
            "missing",
            f"The file {path} {reason}",
            f"Write your changes to {path}.",
            expected=expected,
            actual="missing",
        )
    if mtime > baseline:
        return Check(True, expected=expected, actual=f"modified at {_iso(mtime)}")
    return failure(
        "not_modified",
        f"The file {path} was not modified during this sheet",
        f"Write your changes to {path}; it must be updated, not only read.",
        expected=expected,
        actual=f"last modified at {_iso(mtime)}",
    )


class _NotAFile(Exception):
    """The path exists but is not a regular file (the message says what it is)."""


def _read_capped(path: Path) -> tuple[str, bool]:
    """Up to `MAX_CONTENT_BYTES` of a regular file as text, and whether it was cut."""
    # O_NONBLOCK: opening a FIFO someone put at the path must not hang the check.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as handle:
        mode = os.fstat(handle.fileno()).st_mode
        if not stat.S_ISREG(mode):
            raise _NotAFile(_kind(mode))
        data = handle.read(MAX_CONTENT_BYTES + 1)
    cut = len(data) > MAX_CONTENT_BYTES
    return data[:MAX_CONTENT_BYTES].decode("utf-8", errors="replace"), cut


def compile_pattern(pattern: str) -> re.Pattern[str] | Check:
    """``pattern`` compiled for a multi-line search, or the config error saying why not."""
    try:
        return re.compile(pattern, re.MULTILINE)
    except (re.error, OverflowError, RecursionError) as exc:
        return config_error(f"Invalid regular expression {quoted(pattern, 200)}: {exc}")


def check_content(path: Path, pattern: str, regex: re.Pattern[str] | None) -> Check:
    """Passes when the file contains ``pattern`` (or, given ``regex``, a match of it).

    The file is read as UTF-8 with invalid bytes replaced, at most `MAX_CONTENT_BYTES`.
    """
    expected = f"{'a match for' if regex else 'the text'} {quoted(pattern, 200)}"
    try:
        text, cut = _read_capped(path)
    except _NotAFile as exc:
        return failure(
            "missing",
            f"{path} is {exc}, not a file",
            f"Create {path} as a regular file.",
            expected=expected,
            actual=str(exc),
        )
    except OSError as exc:
        if _not_there(exc):
            return failure(
                "missing",
                f"The file {path} does not exist",
                f"Create {path} containing {expected}.",
                expected=expected,
                actual="missing",
            )
        return failure(
            "missing",
            f"Cannot read {path}: {exc.strerror or exc}",
            f"Make {path} a readable regular file.",
            expected=expected,
            actual="unreadable",
        )
    found = regex.search(text) is not None if regex is not None else pattern in text
    note = f" (only the first {_size(MAX_CONTENT_BYTES)} were read)" if cut else ""
    if found:
        return Check(True, expected=expected, actual="found" + note)
    if regex is not None:
        message = f"{path} does not match the pattern {quoted(pattern, 200)}{note}"
        fix = f"Change {path} so that it contains a match for {quoted(pattern, 200)}."
    else:
        message = f"{path} does not contain the required text {quoted(pattern, 200)}{note}"
        fix = f"Add exactly {quoted(pattern)} to {path} (the exact text is checked)."
    return failure("content", message, fix, expected=expected, actual="not found" + note)


# --- the command verdict ------------------------------------------------------------------


def command_verdict(outcome: Outcome, shown: str, cwd: Path, timeout: float) -> Check:
    """What a finished (or stopped) validation command means; ``shown`` is its short form."""
    # Command rules have no path or pattern; the expectation names the command instead.
    expected = f"exit code 0 from `{shown}`"
    if outcome.reason in ("cancelled", "interrupted"):
        return Check(False, "skipped", f"`{shown}` was stopped", interrupted=True)
    output = output_tail(outcome)
    if outcome.reason == "timeout":
        return failure(
            "timeout",
            f"The command `{shown}` did not finish within {timeout:g} s and was stopped",
            "Make the command finish sooner (or raise timeout_seconds in the score).",
            expected=f"{expected} within {timeout:g} s",
            actual="timed out",
            output=output,
            # Running it again would cost the whole timeout again for the same answer.
            final=True,
        )
    if outcome.reason == "error":
        return failure(
            "command",
            f"The command `{shown}` could not be started: {outcome.error}",
            "Make sure bash is installed and on PATH.",
            expected=expected,
            actual="not started",
            final=True,
        )
    if outcome.succeeded:
        return Check(True, expected=expected, actual="exit code 0")
    if outcome.signal is not None:
        actual = f"killed by signal {outcome.signal}"
    else:
        actual = f"exit code {outcome.exit_code}"
    return failure(
        "command",
        f"The command `{shown}` failed ({actual})",
        f"Run `{shown}` in {cwd}, read what it reports, and fix the cause.",
        expected=expected,
        actual=actual,
        output=output,
    )


def output_tail(outcome: Outcome) -> str:
    """The end of stdout then stderr (errors usually come last), redacted and capped."""
    parts = [tail.strip() for tail in (outcome.stdout_tail, outcome.stderr_tail)]
    text = "\n".join(part for part in parts if part)
    # run_process already redacts its streams; redacting again is cheap and idempotent.
    from mzt.support.redact import redact  # here: only a failing command's output needs it

    return excerpt(redact(text), OUTPUT_TAIL_CHARS, tail=True)
