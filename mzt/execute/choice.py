"""Which executor a run uses.

``local`` runs attempts as processes of this machine; ``slurm`` submits each as a Slurm
job. The name comes from ``--executor``, else ``MZT_EXECUTOR`` (both read by the CLI), else
the machine configuration's ``executor``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from mzt.execute import slurm_cli
from mzt.execute.base import Executor
from mzt.execute.local import NAME as LOCAL
from mzt.execute.local import LocalExecutor
from mzt.machine.config import MachineConfig
from mzt.support import paths

if TYPE_CHECKING:
    from mzt.score.models.slurm import ScoreSlurm

SLURM = slurm_cli.EXECUTOR
NAMES = (LOCAL, SLURM)


def executor_factory(
    name: str,
    config: MachineConfig,
    workspace: Path,
    job_id: str,
    score_slurm: ScoreSlurm | None = None,
) -> Callable[[int], Executor]:
    """Makes the run's executor from its concurrency limit."""
    if name != SLURM:
        return lambda n: LocalExecutor(n, subreaper=True)
    from mzt.execute.slurm import SlurmExecutor, SlurmOptions

    # The machine's options, then the score's, then a sheet's own (see SlurmOptions.over).
    options = SlurmOptions().over(config.slurm)
    per_sheet: dict[int, SlurmOptions] = {}
    if score_slurm is not None:
        options = options.over(score_slurm)
        per_sheet = {num: options.over(own) for num, own in score_slurm.sheets.items()}
    folder = paths.slurm_dir(workspace, job_id)
    return lambda n: SlurmExecutor(
        n,
        attempts_dir=folder,
        job_id=job_id,
        workspace=workspace,
        options=options,
        sheet_options=per_sheet,
    )
