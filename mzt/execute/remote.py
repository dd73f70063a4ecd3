"""One attempt run by a separate `mzt` process (a Slurm job), exactly as a local one runs.

The conductor writes the attempt's spec into a folder of the workspace and starts
``mzt slurm-attempt FOLDER`` elsewhere; this reads the spec, runs the instrument and the
validations (`mzt.execute.attempt.execute`), and writes the report beside it, atomically,
as the last thing it does. A report exists only for an attempt that ran to its end: one
stopped by a signal (``scancel``, a time limit, preemption) writes none, and the conductor
reads why from Slurm instead.
"""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from mzt.support import records
from mzt.support.errors import MztError
from mzt.support.exitcodes import ExitCode
from mzt.support.process import StopRequest

if TYPE_CHECKING:
    from mzt.execute.attempt import AttemptSpec

SPEC_NAME = "spec.json"
REPORT_NAME = "report.json"
SCRIPT_NAME = "job.sh"
OUTPUT_NAME = "slurm.out"
MAX_SPEC_BYTES = 64 * 1024 * 1024

# The exit status of a remote attempt that was stopped by a signal and wrote no report.
STOPPED_STATUS = 143


class AttemptFileError(MztError):
    """The attempt's spec cannot be read: nothing of the attempt ran."""

    exit_code = ExitCode.USAGE
    code = "ATTEMPT_FILE"


def load_folder(folder: Path) -> AttemptSpec:
    """The spec in ``folder`` as the conductor wrote it; raises :class:`AttemptFileError`."""
    from mzt.execute import wire
    from mzt.support.fsutil import read_regular_file

    try:
        return wire.load_spec(read_regular_file(folder / SPEC_NAME, MAX_SPEC_BYTES))
    except (OSError, wire.WireError) as exc:
        raise AttemptFileError(
            f"The attempt spec {folder / SPEC_NAME} cannot be used: {exc}; nothing was run",
            hint="this command is run by the Slurm jobs of `mzt run --executor slurm`, in "
            "the folders that run writes",
        ) from None


def run_folder(folder: Path, sent: AttemptSpec | None = None) -> int:
    """Run the attempt in ``folder``; 0 once its report is written, else why not (> 0)."""
    from mzt.execute import wire
    from mzt.execute.attempt import execute
    from mzt.state.atomic import atomic_write

    stopping = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        stopping.set()

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, on_signal)
    sent = sent or load_folder(folder)
    # The spec leaves the environment out (it would put secrets at rest in the workspace):
    # sbatch exported the conductor's to the job, and Slurm added the job's own.
    spec = records.replace(sent, environ=dict(os.environ))

    def should_stop() -> StopRequest | None:
        return StopRequest("interrupted") if stopping.is_set() else None

    report = execute(spec, should_stop)
    if stopping.is_set():
        return STOPPED_STATUS  # Slurm says why; a report would claim a verdict it lacks
    # The conductor puts its own spec back in; this one would carry the environment.
    report = records.replace(report, spec=sent)
    atomic_write(folder / REPORT_NAME, wire.dumps(report, where=where()), durable=True)
    return 0


def job_script(folder: Path, python: str) -> str:
    """The batch script of the attempt in ``folder``: this very mzt, on the node."""
    quoted = [_quote(python), "-m", "mzt", "slurm-attempt", _quote(str(folder))]
    return "#!/bin/sh\n# an mzt attempt; its spec and report are beside this file\nexec " + (
        " ".join(quoted) + "\n"
    )


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"


def where() -> dict[str, str]:
    """Which Slurm job and node ran the attempt, as the job's environment says."""
    return {
        "slurm_job_id": os.environ.get("SLURM_JOB_ID", ""),
        "node": os.environ.get("SLURMD_NODENAME", "") or os.uname().nodename,
    }
