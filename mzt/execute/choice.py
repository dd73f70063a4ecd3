"""Which executor a run uses, and the leftovers only one of them can find.

``local`` runs attempts as processes of this machine; ``slurm`` submits each as a Slurm
job. The name comes from ``--executor``, else ``MZT_EXECUTOR`` (both read by the CLI), else
the machine configuration's ``executor``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from mzt.execute import slurm_cli
from mzt.execute.base import AttemptHandle, Executor, Leftover
from mzt.execute.local import NAME as LOCAL
from mzt.execute.local import LocalExecutor
from mzt.machine.config import MachineConfig
from mzt.support import paths

if TYPE_CHECKING:
    from mzt.execute.attempt import AttemptSpec

SLURM = slurm_cli.EXECUTOR
NAMES = (LOCAL, SLURM)


def executor_factory(
    name: str, config: MachineConfig, workspace: Path, job_id: str
) -> Callable[[int], Executor]:
    """Makes the run's executor from its concurrency limit."""
    if name != SLURM:
        return lambda n: LocalExecutor(n, subreaper=True)
    from mzt.execute.slurm import SlurmExecutor, SlurmOptions

    settings = config.slurm
    options = SlurmOptions(
        partition=settings.partition,
        account=settings.account,
        time_limit=settings.time_limit,
        extra_args=tuple(settings.extra_args),
    )
    folder = paths.slurm_dir(workspace, job_id)
    return lambda n: SlurmExecutor(
        n, attempts_dir=folder, job_id=job_id, workspace=workspace, options=options
    )


def stop_unrecorded_jobs(
    job_id: str, workspace: Path, keep: Collection[str] = ()
) -> list[Leftover]:
    """Slurm jobs of this job that no checkpoint names (its conductor died between
    ``sbatch`` and the journal), cancelled and waited for; ``keep``: re-attached job ids."""
    from mzt.execute.slurm_leftovers import stop_unrecorded

    found = []
    for slurm_id, sheet in stop_unrecorded(job_id, workspace, keep).items():
        handle = AttemptHandle(SLURM, "", sheet, 0, "", extra={"job_id": slurm_id})
        found.append(Leftover(handle, ()))
    return found


def reattachable(
    handles: Iterable[AttemptHandle], environ: Mapping[str, str]
) -> list[tuple[AttemptHandle, AttemptSpec]]:
    """A dead run's Slurm attempts to watch to their end instead of stopping them."""
    from mzt.execute.slurm_leftovers import reattachable as slurm_reattachable

    return slurm_reattachable(handles, environ)


def stop_dropped(handles: Sequence[AttemptHandle]) -> list[Leftover]:
    """Stop re-attached Slurm attempts that the opened job no longer has in progress."""
    from mzt.execute.slurm import SlurmExecutor

    return SlurmExecutor().stop_leftovers(handles)
