"""Which executor a run uses.

``local`` runs attempts as processes of this machine; ``slurm`` submits each as a Slurm
job. The name comes from ``--executor``, else ``MZT_EXECUTOR`` (both read by the CLI), else
the machine configuration's ``executor``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mzt.execute import slurm_cli
from mzt.execute.base import Executor
from mzt.execute.local import NAME as LOCAL
from mzt.execute.local import LocalExecutor
from mzt.machine.config import MachineConfig
from mzt.support import paths

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
