"""A dead conductor's Slurm jobs: which the next run re-attaches to, and stopping the rest.

A Slurm job does not need the conductor that submitted it. So a run that takes over a
job whose conductor died watches the dead one's jobs still queued or running, and folds
those that reported (:func:`reattachable`); jobs of this job that no checkpoint names
(a conductor killed between ``sbatch`` and its journal) are cancelled
(:func:`stop_unrecorded`), and every cancel is waited out (:func:`wait_gone`) before a
sheet may run again.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from mzt.execute import slurm_cli
from mzt.execute.base import AttemptHandle
from mzt.execute.remote import REPORT_NAME
from mzt.support import records

if TYPE_CHECKING:
    from mzt.execute.attempt import AttemptSpec

# How long a cancelled leftover may take to end (Slurm's KillWait is 30 s by default).
LEFTOVER_WAIT_SECONDS = 180.0


def reattachable(
    handles: Iterable[AttemptHandle], environ: Mapping[str, str]
) -> list[tuple[AttemptHandle, AttemptSpec]]:
    """The recorded Slurm attempts of a dead run that can be watched to their end rather
    than stopped: each has written its report, or its job is still pending or running,
    and its spec can be read back (with ``environ``, this run's, as its environment)."""
    from mzt.execute.remote import AttemptFileError, load_folder

    candidates = [
        h
        for h in handles
        if h.executor == slurm_cli.EXECUTOR
        and str(h.extra.get("job_id") or "").isdigit()
        and h.extra.get("folder")
    ]
    if not candidates:
        return []
    states = slurm_cli.queue_states(str(h.extra["job_id"]) for h in candidates)
    found = []
    for handle in candidates:
        folder = Path(str(handle.extra["folder"]))
        alive = states.get(str(handle.extra["job_id"])) in slurm_cli.ALIVE
        if not alive and not (folder / REPORT_NAME).is_file():
            continue  # ended without a verdict: the sheet simply runs again
        try:
            spec = load_folder(folder)
        except AttemptFileError:
            continue
        found.append((handle, records.replace(spec, environ=dict(environ))))
    return found


def stop_unrecorded(job_id: str, workspace: Path, keep: Collection[str] = ()) -> dict[str, int]:
    """Cancel every pending or running Slurm job of this mzt job but those in ``keep``
    (re-attached ones; the recorded others were stopped first: these are the ones a
    conductor killed between ``sbatch`` and its journal write submitted); returns their
    ids and sheets once they are gone."""
    found = slurm_cli.by_comment(slurm_cli.comment_for(job_id, workspace))
    strays = {
        i: sheet
        for i, (state, sheet) in found.items()
        if state in slurm_cli.ALIVE and i not in keep
    }
    if strays:
        slurm_cli.cancel(strays)
        wait_gone(list(strays))
    return strays


def wait_gone(ids: Sequence[str]) -> None:
    """Wait until Slurm has ended every job of ``ids``; raise if one outlives the wait:
    running its sheet again then would make two copies of it."""
    deadline = time.monotonic() + LEFTOVER_WAIT_SECONDS
    while True:
        states = slurm_cli.queue_states(ids)
        alive = sorted(i for i, state in states.items() if state in slurm_cli.ALIVE)
        if not alive:
            return
        if time.monotonic() >= deadline:
            raise slurm_cli.SlurmError(
                f"the Slurm jobs {', '.join(alive)} of the run that died did not end within "
                f"{LEFTOVER_WAIT_SECONDS:.0f} s of scancel; nothing was run again",
                hint="check them with `squeue -j`, cancel them yourself, then run again",
            )
        time.sleep(0.2)
