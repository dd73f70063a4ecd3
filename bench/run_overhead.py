"""Per-sheet cost of a whole `mzt run`, next to GNU parallel's per job.

For each sheet count N (``--sheets``, default 200 and 10,000), one round times:

* mzt: a score of N sheets that each run ``true`` through the ``cli`` instrument (bash),
  no validations, no pause between sheets, ``max_concurrent: 1``, as one whole
  ``mzt run -q`` process in a fresh workspace and a fresh ``MZT_HOME``;
* GNU parallel: ``parallel -j1 --joblog FILE`` reading N ``true`` lines from stdin, as
  one whole process.

Both are timed from spawn to reap (start-up and exit included, nothing subtracted).
Every round runs all sizes and both sides in the same order (mzt, parallel, mzt,
parallel …), so noise from the shared machine falls on both. Printed per size: each
side's median time per job, and the median of the per-round ratios mzt / parallel with
their min–max (target ≤ 0.5×); then mzt's time per sheet at the largest count over the
smallest, round by round (target within 1.1×).

Usage: python bench/run_overhead.py [--sheets 200 10000] [--rounds 3]
Installs GNU parallel with apt-get when it is missing (root). The default takes about
seven minutes on two cores (the 10,000-sheet runs dominate).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from _shared import compare, ensure_tool, environment, machine, mzt_command, run, spread, true_score


def mzt_round(score: Path, root: Path, n: int, number: int) -> float:
    workspace = root / f"mzt-{n}-{number}"
    home = root / f"home-{n}-{number}"
    argv = [*mzt_command(), "run", "-q", "-w", str(workspace), str(score)]
    return run(argv, env=environment(home), cwd=root).seconds


def parallel_round(commands: Path, root: Path, n: int, number: int) -> float:
    joblog = root / f"joblog-{n}-{number}.txt"
    seconds = run(["parallel", "-j1", "--joblog", str(joblog)], stdin=commands, cwd=root).seconds
    jobs = len(joblog.read_text().splitlines()) - 1  # a header line, then one per job
    if jobs != n:
        raise SystemExit(f"GNU parallel ran {jobs} jobs, not {n}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sheets", type=int, nargs="+", default=[200, 10_000])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    sizes = sorted(set(args.sheets))
    if not ensure_tool("parallel", "parallel"):
        raise SystemExit("GNU parallel is not installed and could not be installed")
    print(f"machine: {machine()}")
    print(f"{args.rounds} rounds; each round: for each size, mzt then GNU parallel\n")
    with tempfile.TemporaryDirectory(prefix="mzt-bench-overhead-") as tmp:
        root = Path(tmp)
        scores = {n: true_score(root / f"score-{n}.yaml", f"overhead-{n}", n) for n in sizes}
        commands = {n: root / f"commands-{n}.txt" for n in sizes}
        for n, path in commands.items():
            path.write_text("true\n" * n)
        mzt: dict[int, list[float]] = {n: [] for n in sizes}
        gnu: dict[int, list[float]] = {n: [] for n in sizes}
        for number in range(args.rounds):
            for n in sizes:
                mzt[n].append(mzt_round(scores[n], root, n, number))
                gnu[n].append(parallel_round(commands[n], root, n, number))
            print(f"  round {number + 1}/{args.rounds} done", file=sys.stderr)
    for n in sizes:
        compare(
            f"{n:,} jobs, time per job (whole process / {n:,})",
            "mzt run, cli `true`, max_concurrent 1",
            [t / n for t in mzt[n]],
            "parallel -j1 --joblog",
            [t / n for t in gnu[n]],
            target="≤ 0.5×",
        )
        print(
            f"    whole process: mzt {statistics.median(mzt[n]):.2f} s,"
            f" parallel {statistics.median(gnu[n]):.2f} s (medians)"
        )
        print()
    if len(sizes) > 1:
        small, large = sizes[0], sizes[-1]
        flat = [
            (big / large) / (little / small)
            for big, little in zip(mzt[large], mzt[small], strict=True)
        ]
        gnu_flat = [
            (big / large) / (little / small)
            for big, little in zip(gnu[large], gnu[small], strict=True)
        ]
        print(f"time per sheet at {large:,} over time per sheet at {small:,}, per round")
        print(f"    {'mzt run':<40} {spread(flat, '×')}   target within 1.1×")
        print(f"    {'parallel (for reference)':<40} {spread(gnu_flat, '×')}")


if __name__ == "__main__":
    main()
