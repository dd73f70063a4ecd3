"""mzt only: the sbatch options of a score's attempts under ``--executor slurm``.

The machine configuration's ``slurm`` section applies to every score; a score adds its own
block for what its work needs (a longer time limit, a GPU), and may give single sheets
options of their own. The local executor ignores all of it.
"""

from __future__ import annotations

from mzt.machine.config import SlurmConfig
from mzt.score.models.base import SheetNum, empty_dict
from mzt.support.strictmodel import Field


class ScoreSlurm(SlurmConfig):
    """sbatch options for this score's attempts; set ones replace the machine's."""

    sheets: dict[SheetNum, SlurmConfig] = Field(
        default_factory=empty_dict,
        description="Sheet → options for its attempts only: set ones replace the score's, "
        "extra_args are added after the score's.",
    )
