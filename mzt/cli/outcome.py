"""How `mzt run` and `mzt resume` report a run: its progress while it runs, its outcome at
the end (no click needed to say either)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

from mzt.api import ExitCode
from mzt.cli import console

TYPE_CHECKING = False  # not `typing`: a share of the no-op `mzt run`'s whole answer

if TYPE_CHECKING:
    from mzt.api import Reporter, RunResult


@contextlib.contextmanager
def reporter_for(as_json: bool, quiet: bool) -> Iterator[Reporter]:
    """The run's progress reporter; on a terminal its live line is gone when this ends,
    however the run ended."""
    if as_json or quiet:  # from cron: no need to load the terminal's line drawing
        from mzt.api import NullReporter

        yield NullReporter()
        return
    from mzt.cli import liveline
    from mzt.cli.progress import LineReporter

    reporter = LineReporter(sys.stdout, live=liveline.wanted(sys.stdout))
    try:
        yield reporter
    finally:
        reporter.close()


def finish_run(result: RunResult, *, as_json: bool, quiet: bool) -> int:
    """Print the run's outcome the way the flags ask, and return its exit code.

    A closed stdout loses the text but never the job's exit code.
    """
    try:
        _print_outcome(result, as_json=as_json, quiet=quiet)
        sys.stdout.flush()
    except BrokenPipeError:
        console.silence(sys.stdout)
    return result.exit_code


def run_document(result: RunResult) -> dict[str, object]:
    """The run's ``mzt.run/1`` JSON document."""
    return {
        "schema": "mzt.run/1",
        "job_id": result.job_id,
        "status": result.status,
        "exit_code": result.exit_code,
        "progress": {"completed": result.completed, "total": result.total},
        "sheets_failed": result.failed_sheets,
        "duration_seconds": round(result.duration, 3),
        "workspace": str(result.workspace),
        "message": result.message,
        "failures": [f.to_json() for f in result.failures],
        "stopped_sheets": list(result.stopped_sheets),
        "hooks": list(result.hooks),
    }


def _print_outcome(result: RunResult, *, as_json: bool, quiet: bool) -> None:
    if as_json:
        console.emit_json(run_document(result))
    elif result.exit_code != ExitCode.OK:
        console.err(f"mzt: job {result.job_id} {result.status}: {result.message}")
        if quiet:  # the progress lines that named each failure were not printed
            for failure in result.failures:
                code = f"{failure.error_code} " if failure.error_code else ""
                console.err(f"  sheet {failure.sheet_num}: {code}{failure.message}")
        # Named here in every mode: no progress line says which attempts the stop cut short.
        how = "cancelled" if result.exit_code == ExitCode.CANCELLED else "interrupted"
        for num in result.stopped_sheets:
            console.err(f"  sheet {num}: stopped ({how})")
        if result.exit_code == ExitCode.HOOK_FAILED:
            resume = f"`mzt resume {result.job_id} -w {result.workspace}`"
            console.err(f"hint: fix the hook (or what it needs), then {resume} fires it again")
        elif result.status in ("paused", "failed", "cancelled") or result.exit_code >= 128:
            console.err(f"hint: {next_step(result)}")
    elif not quiet and result.message and result.message != "completed":
        console.out(f"{result.job_id}: {result.message}")


_NO_COMMAND = (126, 127)


def next_step(result: RunResult) -> str:
    """What to do about a run that did not complete, fitted to why its sheets failed:
    resuming alone helps only when the cause may have passed."""
    resume = f"`mzt resume {result.job_id} -w {result.workspace}`"
    unknown = sorted(
        {f.instrument or "?" for f in result.failures if "unknown instrument" in f.message}
    )
    if unknown:
        return (
            f"no instrument is called {', '.join(unknown)}: fix the name in the score "
            f"(`mzt instruments list` shows them all), then {resume}"
        )
    missing = sorted({f.instrument or "?" for f in result.failures if f.error_code == "E505"})
    if missing:
        check = f"`mzt instruments check {missing[0]}`"
        return f"install {', '.join(missing)} ({check} says how), then {resume}"
    if any(f.error_code == "E009" and f.exit_code in _NO_COMMAND for f in result.failures):
        # The shell found no such program (127) or could not execute it (126): resuming
        # runs the same line, which fails the same way until something changes.
        return (
            "a command the sheet runs is missing or cannot be executed: install it or "
            f"fix the score, then {resume}"
        )
    if any((f.error_code or "").startswith("E3") for f in result.failures):
        return f"fix the score (its prompt or settings, as the error says), then {resume}"
    return f"continue it with {resume}"
