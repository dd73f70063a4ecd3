"""Per-sheet orchestration overhead of `mzt run`, next to GNU parallel's per job.

Every sheet runs `true` through the `cli` instrument (bash), with no validations and no
pause between sheets, one at a time; GNU parallel runs the same commands one at a time
with --joblog. Overhead = time per sheet (or job) minus the floor: spawning `bash -c true`
from Python on this machine, measured in the same run. mzt's start-up is measured with
a one-sheet score and taken out.

Usage: python bench/run_overhead.py [--sheets 200 10000]
Installs GNU parallel with apt-get when it is missing (root).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml


def floor_per_spawn(n: int = 300) -> float:
    started = time.perf_counter()
    for _ in range(n):
        subprocess.run(["bash", "-c", "true"], check=True)
    return (time.perf_counter() - started) / n


def ensure_parallel() -> str | None:
    found = shutil.which("parallel")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "update", "-qq"], check=False, capture_output=True)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "parallel"], check=False, capture_output=True
        )
    return shutil.which("parallel")


def gnu_parallel(n: int, folder: Path) -> float:
    commands = folder / "commands.txt"
    commands.write_text("true\n" * n)
    started = time.perf_counter()
    with commands.open() as stdin:
        subprocess.run(
            ["parallel", "-j1", "--joblog", str(folder / "joblog.txt")],
            stdin=stdin,
            check=True,
            capture_output=True,
        )
    return time.perf_counter() - started


def mzt_run(n: int, folder: Path) -> float:
    score = folder / f"score-{n}.yaml"
    score.write_text(
        yaml.safe_dump(
            {
                "name": f"overhead-{n}",
                "workspace": f"./ws-{n}",
                "instrument": "cli",
                "pause_between_sheets_seconds": 0,
                "sheet": {"size": 1, "total_items": n},
                "prompt": {"template": "true"},
            }
        )
    )
    env = {**os.environ, "MZT_HOME": str(folder / "home")}
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "mzt", "run", "-q", "--fresh", str(score)], env=env, check=True
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sheets", type=int, nargs="+", default=[200, 10_000])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        floor = statistics.median(floor_per_spawn() for _ in range(3))
        startup = statistics.median(mzt_run(1, folder) for _ in range(3)) - floor
        print(f"floor: bash -c true spawned from Python      {floor * 1000:7.2f} ms")
        print(f"mzt start-up and finish (one-sheet score)    {startup * 1000:7.1f} ms")
        print()
        print(f"{'':34} {'per sheet':>10} {'overhead':>10}  {'vs parallel':>11}")
        parallel_overhead = None
        if ensure_parallel():
            wall = statistics.median(gnu_parallel(200, folder) for _ in range(3))
            per = wall / 200
            parallel_overhead = per - floor
            print(
                f"{'GNU parallel -j1 --joblog, 200':34} {per * 1000:8.2f}ms "
                f"{parallel_overhead * 1000:8.2f}ms  {'1.00x':>11}"
            )
        else:
            print("GNU parallel: not installed and could not be installed")
        for n in args.sheets:
            repeats = 3 if n <= 1000 else 1
            wall = statistics.median(mzt_run(n, folder) for _ in range(repeats)) - startup
            per = wall / n
            overhead = per - floor
            ratio = f"{overhead / parallel_overhead:10.2f}x" if parallel_overhead else "-"
            label = f"mzt run, {n:,} sheets"
            print(f"{label:34} {per * 1000:8.2f}ms {overhead * 1000:8.2f}ms  {ratio:>11}")
        print()
        print("Target: mzt's overhead per sheet at most 0.5x GNU parallel's, flat in sheet count.")


if __name__ == "__main__":
    main()
