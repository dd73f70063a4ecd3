"""`mzt.execute.choice`: which executor a run gets, and the sbatch options of each sheet."""

from __future__ import annotations

from pathlib import Path

from mzt.execute.choice import executor_factory
from mzt.execute.local import LocalExecutor
from mzt.execute.slurm import SlurmExecutor
from mzt.machine.config import MachineConfig
from mzt.score.models.slurm import ScoreSlurm


def _slurm(tmp_path: Path, score: ScoreSlurm | None) -> SlurmExecutor:
    machine = MachineConfig.model_validate(
        {"slurm": {"partition": "batch", "time_limit": "30", "extra_args": ["--qos=low"]}}
    )
    made = executor_factory("slurm", machine, tmp_path, "job", score)(4)
    assert isinstance(made, SlurmExecutor)
    made.close()
    return made


def test_local_is_the_default(tmp_path: Path) -> None:
    made = executor_factory("local", MachineConfig(), tmp_path, "job")(2)
    assert isinstance(made, LocalExecutor)


def test_without_a_score_block_every_sheet_gets_the_machines_options(tmp_path: Path) -> None:
    made = _slurm(tmp_path, None)
    assert made.options.sbatch_args() == ["--partition=batch", "--time=30", "--qos=low"]
    assert made.sheet_options == {}


def test_the_score_then_a_sheet_replace_what_they_set_and_add_their_arguments(
    tmp_path: Path,
) -> None:
    score = ScoreSlurm.model_validate(
        {
            "account": "proj",
            "extra_args": ["--mem=4G"],
            "sheets": {3: {"time_limit": "2:00:00", "extra_args": ["--gres=gpu:1", "--qos=high"]}},
        }
    )
    made = _slurm(tmp_path, score)
    assert made.options.sbatch_args() == [
        "--partition=batch",
        "--account=proj",
        "--time=30",
        "--qos=low",
        "--mem=4G",
    ]
    # sbatch takes the last of a repeated option: the sheet's --qos wins over the machine's.
    assert made.sheet_options[3].sbatch_args() == [
        "--partition=batch",
        "--account=proj",
        "--time=2:00:00",
        "--qos=low",
        "--mem=4G",
        "--gres=gpu:1",
        "--qos=high",
    ]
    assert set(made.sheet_options) == {3}
