"""How busy shared machine slots stay: three jobs of 20 sheets sharing 4 sheet slots.

Each round starts three `mzt run` processes at once, each of one stage fanned out to
``--sheets`` voices (``parallel.max_concurrent: 8``) on the ``cli`` instrument, under
``MZT_MAX_CONCURRENT_SHEETS=4``. Each sheet's bash script appends its own start and end
(``date +%s%N``) to one log before and after ``sleep 0.2``, so the figure is what the
agents saw, not what mzt says of them: the attempts' time over 4 × (first start → last
end). Printed: the median of the rounds with min–max (target ≥ 90 %), the one-job case
on the same slots beside it (rounds alternate: three jobs, one job, …), and the CPU time
the runs and their children spent per attempt.

Usage: python bench/slot_busy.py [--rounds 5] [--sheets 20] [--work 'sleep 0.2']
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

from _shared import environment, machine, mzt_command, spread, write_score

SLOTS = 4


def script(job: str, log: Path, work: str) -> str:
    stamp = "$(date +%s%N)"
    return f'echo "start {job} {stamp}" >> {log}\n{work}\necho "end {job} {stamp}" >> {log}\n'


def one_round(folder: Path, jobs: str, sheets: int, work: str) -> tuple[float, float]:
    """(busy share, CPU seconds per attempt) of ``jobs`` started at once."""
    home = folder / "home"
    home.mkdir()
    log = folder / "log"
    env = environment(home, MZT_MAX_CONCURRENT_SHEETS=str(SLOTS))
    children = []
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    for job in jobs:
        score = write_score(
            folder / f"{job}.yaml",
            {
                "name": job,
                "workspace": f"./ws-{job}",
                "instrument": "cli",
                "pause_between_sheets_seconds": 0,
                "sheet": {"size": 1, "total_items": 1, "fan_out": {1: sheets}},
                "parallel": {"enabled": True, "max_concurrent": 8},
                "prompt": {"template": script(job, log, work)},
            },
        )
        children.append(
            subprocess.Popen(
                [*mzt_command(), "run", "-q", str(score)],
                cwd=folder,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
        )
    for child in children:
        _, err = child.communicate(timeout=300)
        if child.returncode != 0:
            raise SystemExit(f"a run exited {child.returncode}: {err.decode()[-2000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    starts: dict[str, list[int]] = {}
    ends: dict[str, list[int]] = {}
    for line in log.read_text().splitlines():
        kind, job, stamp = line.split()
        (starts if kind == "start" else ends).setdefault(job, []).append(int(stamp))
    every_start = sorted(s for values in starts.values() for s in values)
    every_end = sorted(e for values in ends.values() for e in values)
    if len(every_start) != len(jobs) * sheets or len(every_end) != len(every_start):
        raise SystemExit(f"expected {len(jobs) * sheets} attempts, the log has {len(every_start)}")
    spent = sum(every_end) - sum(every_start)
    window = max(every_end) - min(every_start)
    return spent / (SLOTS * window), cpu / len(every_start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sheets", type=int, default=20)
    parser.add_argument("--work", default="sleep 0.2")
    args = parser.parse_args()
    print(
        f"3 jobs × {args.sheets} sheets ({args.work!r}) on {SLOTS} sheet slots, next to one "
        f"job alone; {args.rounds} rounds, alternating"
    )
    print(f"  {machine()}")
    figures: dict[str, list[tuple[float, float]]] = {"abc": [], "a": []}
    for _ in range(args.rounds):
        for jobs in figures:
            with tempfile.TemporaryDirectory(prefix="mzt-bench-busy-") as scratch:
                figures[jobs].append(one_round(Path(scratch), jobs, args.sheets, args.work))
    for jobs, label, target in (("abc", "three jobs", "   target ≥ 90 %"), ("a", "one job", "")):
        busy = [100 * b for b, _ in figures[jobs]]
        cpu = [1000 * c for _, c in figures[jobs]]
        print(f"{label + ':':<12} slots busy {spread(busy, ' %', 1)}{target}")
        print(f"{'':<12} CPU per attempt {spread(cpu, ' ms', 0)} (the runs and their agents)")


if __name__ == "__main__":
    sys.exit(main())
