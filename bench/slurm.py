"""100 trivial sheets under `--executor slurm`, next to the same commands as one array job.

Each round times, against the same Slurm cluster:

* mzt: a score of N sheets (one stage fanned out to N voices, ``max_concurrent`` 20, the
  most a score may ask for, against the cluster's 16 CPUs) that
  each run ``true`` on the ``cli`` instrument, as one whole ``mzt run -q --executor slurm``
  process in a fresh workspace and ``MZT_HOME`` (whose ``config.yaml`` lifts the
  machine-wide limits to N, so Slurm's queue alone decides how many run at once);
* Slurm alone: ``sbatch --array=1-N`` of a script that runs ``true``, then waiting until
  ``squeue`` no longer lists the array (looked at every 0.1 s, as mzt looks for reports).

Both are timed from the first process spawned to the last job seen done, start-up
included. The sides alternate round by round (mzt, array, mzt, array …); printed: each
side's median and the median of the per-round ratios mzt / array with their min–max
(target within 1.5×), and how many Slurm jobs each mzt round submitted.

The cluster is the one ``SLURM_CONF`` names, else the loopback one of
``tests/slurm/cluster.sh``, started when it is not running (as root).

Usage: python bench/slurm.py [--sheets 100] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _shared import REPO, compare, environment, machine, mzt_command, run, write_score

MAX_CONCURRENT = 20  # the most a score's parallel.max_concurrent may say


def cluster_env() -> dict[str, str]:
    conf = os.environ.get("SLURM_CONF") or "/tmp/mzt-slurm/slurm.conf"
    if not os.environ.get("SLURM_CONF"):
        started = subprocess.run(
            [str(REPO / "tests" / "slurm" / "cluster.sh"), "start"],
            capture_output=True,
            text=True,
            check=False,
        )
        if started.returncode != 0:
            raise SystemExit(f"no Slurm cluster: {started.stderr.strip()}")
    return {"SLURM_CONF": conf}


def array_round(root: Path, n: int, env: dict[str, str]) -> float:
    script = root / "true.sh"
    script.write_text("#!/bin/sh\ntrue\n")
    script.chmod(0o700)
    started = time.perf_counter()
    submitted = subprocess.run(
        ["sbatch", "--parsable", f"--array=1-{n}", f"--output={root}/array-%A-%a.out", script],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **env},
    )
    job = submitted.stdout.strip().split(";")[0]
    while True:
        listed = subprocess.run(
            ["squeue", "-h", "-j", job, "-o", "%i"],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, **env},
        )
        if not listed.stdout.strip():
            return time.perf_counter() - started
        time.sleep(0.1)


def mzt_round(root: Path, n: int, number: int, env: dict[str, str]) -> tuple[float, int]:
    home = root / f"home-{number}"
    home.mkdir()
    (home / "config.yaml").write_text(
        f"max_concurrent_sheets: {n}\ninstruments:\n  cli: {{max_concurrent: {n}}}\n"
    )
    score = write_score(
        root / f"score-{number}.yaml",
        {
            "name": f"slurm-bench-{number}",
            "workspace": f"./ws-{number}",
            "instrument": "cli",
            "pause_between_sheets_seconds": 0,
            "sheet": {"size": 1, "total_items": 1, "fan_out": {1: n}},
            "parallel": {"enabled": True, "max_concurrent": min(n, MAX_CONCURRENT)},
            "prompt": {"template": "true"},
        },
    )
    argv = [*mzt_command(), "run", "-q", "--executor", "slurm", str(score)]
    seconds = run(argv, env=environment(home, **env), cwd=root).seconds
    attempts = root / f"ws-{number}" / ".marianne" / "slurm" / f"slurm-bench-{number}"
    submitted = len(list(attempts.glob("*/report.json")))
    return seconds, submitted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sheets", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    env = cluster_env()
    print(f"machine: {machine()}")
    print(f"{args.rounds} rounds; each round: mzt, then the bare array\n")
    mzt: list[float] = []
    array: list[float] = []
    jobs: list[int] = []
    with tempfile.TemporaryDirectory(prefix="mzt-bench-slurm-") as tmp:
        root = Path(tmp)
        for number in range(args.rounds):
            seconds, submitted = mzt_round(root, args.sheets, number, env)
            mzt.append(seconds)
            jobs.append(submitted)
            array.append(array_round(root, args.sheets, env))
            print(f"  round {number + 1}/{args.rounds} done", file=sys.stderr)
    compare(
        f"{args.sheets} trivial sheets through Slurm, whole time",
        "mzt run --executor slurm",
        mzt,
        f"sbatch --array=1-{args.sheets}, waited for",
        array,
        target="within 1.5×",
        scale=1.0,
        unit="s",
    )
    print(f"    Slurm jobs with a report per mzt round: {sorted(set(jobs))}")


if __name__ == "__main__":
    main()
