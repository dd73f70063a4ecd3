"""Talking to Slurm through its own commands: submit a job, ask its state, cancel it.

Nothing here keeps state: each function runs one of ``sbatch``, ``squeue``, ``scontrol``
or ``scancel`` with an argument list (never a shell line) and reads its answer. Jobs that
finished stay visible to ``scontrol show job`` for the cluster's ``MinJobAge``; without
an accounting daemon that is the only place their end state is found, so the executor
asks while it still can.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from mzt.support.errors import MztError
from mzt.support.exitcodes import ExitCode

EXECUTOR = "slurm"  # the executor name the handles of Slurm attempts carry
COMMANDS = ("sbatch", "squeue", "scontrol", "scancel")
CALL_SECONDS = 60.0
# States of a job that may still run (or is running): anything else has ended.
ALIVE = frozenset(
    {
        "PENDING",
        "RUNNING",
        "CONFIGURING",
        "COMPLETING",
        "SUSPENDED",
        "REQUEUED",
        "REQUEUE_HOLD",
        "REQUEUE_FED",
        "RESIZING",
        "SIGNALING",
        "STAGE_OUT",
        "STOPPED",
        "RESV_DEL_HOLD",
    }
)


class SlurmMissingError(MztError):
    """``--executor slurm`` on a machine without Slurm's client commands."""

    exit_code = ExitCode.USAGE
    code = "SLURM_MISSING"

    def __init__(self, missing: Sequence[str]) -> None:
        super().__init__(
            f"--executor slurm runs each attempt as a Slurm job, but this machine has no "
            f"{', '.join(missing)} on PATH; nothing was started or changed",
            hint="run it on a Slurm login node (or install slurm-client and point "
            "SLURM_CONF at the cluster's configuration), or leave out --executor slurm "
            "to run the attempts here",
        )


class SlurmError(MztError):
    """A Slurm command failed; the message carries what it said."""

    exit_code = ExitCode.FAILED
    code = "SLURM"


def comment_for(job_id: str, workspace: Path) -> str:
    """The comment every Slurm job of this mzt job carries (one token, no spaces)."""
    import hashlib  # this module is loaded by every run for its names; this is Slurm's

    digest = hashlib.sha256(str(workspace).encode()).hexdigest()[:12]
    return f"mzt:{job_id}:{digest}"


def missing_commands(environ: Mapping[str, str] | None = None) -> list[str]:
    """The Slurm client commands not found on PATH."""
    import shutil

    search = (environ or os.environ).get("PATH", os.defpath)
    return [name for name in COMMANDS if shutil.which(name, path=search) is None]


def require(environ: Mapping[str, str] | None = None) -> None:
    missing = missing_commands(environ)
    if missing:
        raise SlurmMissingError(missing)


def _call(
    argv: Sequence[str], *, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    try:
        done = subprocess.run(
            list(argv),
            env=env,
            capture_output=True,
            text=True,
            timeout=CALL_SECONDS,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SlurmError(f"{argv[0]} could not be run: {exc}") from None
    if check and done.returncode != 0:
        said = (done.stderr or done.stdout).strip().splitlines()
        raise SlurmError(f"{argv[0]} failed (exit {done.returncode}): {said[-1] if said else ''}")
    return done


def submit(script: str, options: Sequence[str], *, env: dict[str, str] | None = None) -> str:
    """Submit the batch ``script`` (a path) with ``options``, its job getting ``env``;
    returns the job id."""
    done = _call(["sbatch", "--parsable", "--export=ALL", *options, script], env=env)
    job_id = done.stdout.strip().split(";")[0]
    if not job_id.isdigit():
        raise SlurmError(f"sbatch answered {done.stdout.strip()!r}, not a job id")
    return job_id


def queue_states(job_ids: Iterable[str]) -> dict[str, str]:
    """The state of each listed job Slurm still lists (absent: it has ended and is
    forgotten; ended jobs stay listed, in their end state, for ``MinJobAge``)."""
    return {job: state for job, (state, _) in job_places(job_ids).items()}


def job_places(job_ids: Iterable[str]) -> dict[str, tuple[str, str | None]]:
    """Job id → (state, node or None while pending) of the listed jobs Slurm knows."""
    ids = sorted(set(job_ids))
    if not ids:
        return {}
    done = _call(
        ["squeue", "-h", "--states=all", "-o", "%i %T %N", "-j", ",".join(ids)], check=False
    )
    if done.returncode != 0 and "Invalid job id" not in done.stderr:
        raise SlurmError(f"squeue failed (exit {done.returncode}): {done.stderr.strip()}")
    places: dict[str, tuple[str, str | None]] = {}
    for line in done.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] in ids:
            places[parts[0]] = (parts[1], parts[2] if len(parts) > 2 else None)
    return places


def by_comment(comment: str) -> dict[str, tuple[str, int]]:
    """Job id → (state, sheet) of this user's jobs Slurm knows whose comment is ``comment``
    (the sheet from a job name ending ``-s<N>``; 0 when it does not)."""
    done = _call(["squeue", "-h", "--me", "--states=all", "-o", "%i %T %j %k"], check=False)
    if done.returncode != 0:
        raise SlurmError(f"squeue failed (exit {done.returncode}): {done.stderr.strip()}")
    found: dict[str, tuple[str, int]] = {}
    for line in done.stdout.splitlines():
        parts = line.split(maxsplit=3)
        if len(parts) == 4 and parts[3].strip() == comment:
            _, _, sheet = parts[2].rpartition("-s")
            found[parts[0]] = (parts[1], int(sheet) if sheet.isdigit() else 0)
    return found


def job_facts(job_id: str) -> dict[str, str]:
    """``scontrol show job``'s fields of a job (empty once Slurm forgot it)."""
    done = _call(["scontrol", "-o", "show", "job", job_id], check=False)
    facts: dict[str, str] = {}
    for item in done.stdout.split():
        key, sep, value = item.partition("=")
        if sep and key not in facts:
            facts[key] = value
    return facts


def cancel(job_ids: Iterable[str]) -> None:
    """Ask Slurm to end these jobs (TERM, then KILL after the cluster's ``KillWait``)."""
    ids = sorted(set(job_ids))
    if ids:
        _call(["scancel", "--quiet", *ids], check=False)
