"""What a Slurm job's end means for its attempt, when the job wrote no report.

A remote attempt that ran to its end reports itself (`mzt.execute.remote`). One that did
not was ended by Slurm: a time limit, a failed node, preemption, memory, a cancel. Its
end state (``scontrol show job``'s ``JobState``) becomes the attempt's error, with the
E-code and retry policy a local attempt ending the same way would get.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mzt.support.process import ExitReason, StopRequest

if TYPE_CHECKING:
    from mzt.execute.attempt import AttemptReport, AttemptSpec

# Slurm's end states, as the attempt error each one is: (code, category, retriable, text, wait).
ENDINGS: dict[str, tuple[str, str, bool, str, float]] = {
    "TIMEOUT": ("E001", "timeout", True, "the Slurm job reached its time limit", 60),
    "DEADLINE": ("E001", "timeout", True, "the Slurm job reached its deadline", 60),
    "NODE_FAIL": ("E002", "signal", True, "the Slurm job's node failed (NODE_FAIL)", 30),
    "BOOT_FAIL": ("E002", "signal", True, "the Slurm job's node did not boot (BOOT_FAIL)", 30),
    "PREEMPTED": ("E002", "signal", True, "Slurm preempted the job (PREEMPTED)", 30),
    "OUT_OF_MEMORY": ("E005", "fatal", False, "the Slurm job ran out of memory", 0),
    "CANCELLED": ("E004", "signal", False, "the Slurm job was cancelled outside mzt", 0),
}


def ended(
    spec: AttemptSpec, job_id: str, state: str, duration: float, output: str
) -> AttemptReport:
    """The report of job ``job_id``, which ended in ``state`` without a report of its own."""
    if state in ENDINGS:
        code, category, retriable, text, wait = ENDINGS[state]
        return failed(
            spec,
            f"{text} (job {job_id})",
            code=code,
            category=category,
            retriable=retriable,
            wait=wait,
            reason="timeout" if code == "E001" else "error",
            duration=duration,
            output=output,
        )
    last = output.strip().splitlines()[-1] if output.strip() else ""
    said = f"; its output ends: {last}" if last else ""
    return failed(
        spec,
        f"the Slurm job {job_id} ended ({state or 'state unknown'}) without a report{said}",
        retriable=True,
        wait=10,
        duration=duration,
        output=output,
    )


def tail(path: Path, size: int = 4096) -> str:
    """The last ``size`` bytes of the job's output file, as text ("" if unreadable)."""
    try:
        with path.open("rb") as file:
            file.seek(0, 2)
            file.seek(max(0, file.tell() - size))
            return file.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


def failed(
    spec: AttemptSpec,
    message: str,
    *,
    code: str = "E999",
    category: str = "transient",
    retriable: bool = False,
    wait: float = 0.0,
    reason: ExitReason = "error",
    duration: float = 0.0,
    output: str = "",
) -> AttemptReport:
    """An attempt that failed before or around its run, with this error."""
    from mzt.execute.attempt import AttemptReport
    from mzt.instruments.classify import ErrorInfo
    from mzt.support.process import Outcome
    from mzt.support.redact import redact

    text = redact(message)
    shown = redact(output) or text
    outcome = Outcome(None, None, reason, duration, "", shown, 0, len(output), False, error=text)
    error = ErrorInfo(code, category, retriable, text, wait)
    return AttemptReport(spec, outcome, None, None, error)


def stopped(spec: AttemptSpec, request: StopRequest, duration: float) -> AttemptReport:
    """An attempt this run stopped (a cancel, a signal): its end is no failure."""
    from mzt.execute.attempt import AttemptReport
    from mzt.instruments.classify import classify
    from mzt.support.process import Outcome

    outcome = Outcome(None, None, request.reason, duration, "", "", 0, 0, False)
    return AttemptReport(spec, outcome, None, None, classify(outcome))
