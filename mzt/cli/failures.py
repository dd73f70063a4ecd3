"""What every command's failure looks like, whoever parsed its command line.

Click's command line (:mod:`mzt.cli.errors`) and the answers given before click is
imported (:mod:`mzt.cli.fast`) both end through `guarded`: a known failure as its message
(or JSON document) and exit code, a closed stdout silently, anything else as one line and
a crash report, never a traceback.
"""

from __future__ import annotations

import contextvars
import os
import shlex
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from mzt import __version__
from mzt.api import ExitCode, ForeignHostError, MztError, ScoreError
from mzt.cli import console

# Set by the --json option of whichever command runs, so failures can answer in JSON.
json_mode: contextvars.ContextVar[bool] = contextvars.ContextVar("json_mode", default=False)


def guarded(call: Callable[[], int], args: Sequence[str], *, as_json: bool = False) -> int:
    """``call``'s exit code, or the right message and code for how it failed.

    ``args`` is the command line (without the program), named again in the take-over hint.
    """
    token = json_mode.set(as_json)
    try:
        return call()
    except MztError as exc:
        if isinstance(exc, ForeignHostError):
            # The exact way out is the very command given, once more with the override.
            extra = [] if "--take-over" in args else ["--take-over"]
            exc.take_over_with(shlex.join(["mzt", *args, *extra]))
        report(exc)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        console.err("mzt: interrupted")
        return 130
    except BrokenPipeError:
        quiet_stdout()
        return 0
    except Exception as exc:  # the last line of defence: no traceback reaches users
        return report_unexpected(exc)
    finally:
        json_mode.reset(token)


def report_unexpected(exc: Exception) -> int:
    """One line for the user, a crash report file for the details; the exit code."""
    report = _crash_report(exc)
    where = f"; a crash report was written to {report}" if report else ""
    from mzt.api import redact

    summary = redact(f"{type(exc).__name__}: {exc}")
    console.err(f"mzt: unexpected error: {summary}{where}")
    return ExitCode.INTERNAL


def report(exc: MztError) -> None:
    """A known failure's message and hint, or its JSON document under --json."""
    if json_mode.get():
        json_error(exc.code, str(exc), exc.hint, exc)
        return
    if isinstance(exc, ScoreError):
        for issue in exc.issues:
            console.err(f"{console.style('error', 'red', sys.stderr)}: {issue.render(exc.source)}")
        return
    console.err(f"{console.style('error', 'red', sys.stderr)}: {exc.message}")
    if exc.hint:
        console.err(f"hint: {exc.hint}")


def json_error(code: str, message: str, hint: str | None, exc: MztError | None = None) -> None:
    error: dict[str, object] = {"code": code, "message": message, "hint": hint}
    if isinstance(exc, ScoreError):
        error["issues"] = [i.to_json() for i in exc.issues]
    console.emit_json({"schema": "mzt.error/1", "error": error})


def quiet_stdout() -> None:
    # The reader went away (`mzt list | head -1`); make the interpreter's final flush silent.
    console.silence(sys.stdout)


def _crash_report(exc: BaseException) -> Path | None:
    # Only a crash needs these; every healthy command would pay for them at start-up.
    import datetime as dt
    import platform
    import traceback

    from mzt.api import crash_dir, ensure_private_dir, redact

    try:
        folder = crash_dir()
        ensure_private_dir(folder)  # MZT_HOME too, when this creates it
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        path = folder / f"crash-{stamp}-{os.getpid()}.txt"
        text = (
            f"mzt {__version__} on Python {platform.python_version()} ({platform.platform()})\n"
            f"argv: {sys.argv}\n\n" + "".join(traceback.format_exception(exc))
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(redact(text))
        return path
    except (OSError, MztError):  # MZT_HOME itself unusable: the one line must do
        return None
