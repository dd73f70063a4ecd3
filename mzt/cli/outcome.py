"""How `mzt run` and `mzt resume` report the end of a run (no click needed to say it)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from mzt.api import ExitCode
from mzt.cli import console

if TYPE_CHECKING:
    from mzt.api import RunResult


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


def _print_outcome(result: RunResult, *, as_json: bool, quiet: bool) -> None:
    if as_json:
        console.emit_json(
            {
                "schema": "mzt.run/1",
                "job_id": result.job_id,
                "status": result.status,
                "exit_code": result.exit_code,
                "progress": {"completed": result.completed, "total": result.total},
                "sheets_failed": result.failed_sheets,
                "duration_seconds": round(result.duration, 3),
                "workspace": str(result.workspace),
                "message": result.message,
            }
        )
    elif result.exit_code != ExitCode.OK:
        console.err(f"mzt: job {result.job_id} {result.status}: {result.message}")
        if result.status in ("paused", "failed", "cancelled") or result.exit_code >= 128:
            console.err(
                f"hint: continue it with `mzt resume {result.job_id} -w {result.workspace}`"
            )
    elif not quiet and result.message and result.message != "completed":
        console.out(f"{result.job_id}: {result.message}")
