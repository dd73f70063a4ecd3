"""`mzt doctor`'s look at Slurm: are its commands here, does the cluster answer.

Only ``--executor slurm`` needs Slurm: without its commands the check is ``ok`` and says
so, unless the machine configuration makes ``slurm`` the default executor.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mzt.execute.slurm_cli import COMMANDS, missing_commands
from mzt.views.doctor import Check

SINFO_SECONDS = 10.0
SHARED_STORAGE = (
    "the workspace must be on storage every node shares; keep every `mzt run` of one "
    "workspace on one login node (locks on NFS: see the README's Slurm section)"
)


def check_slurm(home: Path, env: Mapping[str, str]) -> Check:
    from mzt.machine.config import MachineConfigError, load

    try:
        default = load(home=home, environ=env).executor
    except MachineConfigError:
        default = "local"  # the config check reports the file itself
    missing = missing_commands(env)
    details: dict[str, Any] = {"missing": missing, "default_executor": default, "cluster": None}
    if len(missing) == len(COMMANDS):
        if default == "slurm":
            return Check(
                "slurm",
                "slurm",
                "problem",
                "config.yaml makes slurm the default executor, but sbatch, squeue, scontrol "
                "and scancel are not on PATH",
                details,
            )
        return Check(
            "slurm", "slurm", "ok", "not installed (only --executor slurm needs it)", details
        )
    if missing:
        return Check(
            "slurm", "slurm", "problem", f"{', '.join(missing)} missing from PATH", details
        )
    try:
        done = subprocess.run(
            ["sinfo", "-h", "-o", "%T"],
            env=dict(env),
            capture_output=True,
            text=True,
            timeout=SINFO_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Check("slurm", "slurm", "warning", f"sinfo could not be run: {exc}", details)
    states = done.stdout.split()
    details["cluster"] = {"node_states": states}
    if done.returncode != 0 or not states:
        said = (done.stderr or done.stdout).strip().splitlines()
        why = said[-1] if said else f"exit {done.returncode}"
        return Check("slurm", "slurm", "warning", f"the cluster does not answer: {why}", details)
    return Check(
        "slurm",
        "slurm",
        "ok",
        f"sbatch, squeue, scontrol, scancel here; nodes {', '.join(states)}; {SHARED_STORAGE}",
        details,
    )
