"""Scheduling many jobs on shared machine slots: how busy the slots stay, how evenly the
jobs get turns, how long a sheet can wait.

``--jobs`` runs (default 50) of ``--sheets`` trivial sheets each (default 20, each runs
``true`` on the ``cli`` instrument, all of one job free to run at once) are started at
the same moment on ``--slots`` sheet slots (default 8; MZT_MAX_CONCURRENT_SHEETS, with the
``cli`` instrument's limit raised to match and max_concurrent_jobs to the number of jobs).
Memory and process backpressure are set out of the way: this measures the slots' turns,
not the machine's size. After all have ended, each job's checkpoint gives every
attempt's start and end as mzt recorded them (`mzt status --json`), and from those:

* utilisation: attempt time over ``slots`` × (first attempt's start → last one's end);
* fairness: in the busy window (every job started, none finished yet), the attempts
  each job started, max over min;
* longest wait: the longest a sheet waited from its job's spawn to its own start (and the
  median of each job's first start, which is mostly start-up on a loaded machine);
* wall time: from the first spawn to the last run's exit.

Usage: python bench/schedule.py [--jobs 50] [--sheets 20] [--slots 8] [--quick]
[--timeout 600] (``--quick``: 10 jobs × 10 sheets; at the timeout the runs are stopped
and the figures are those of the sheets done by then).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from _shared import environment, machine, mzt_command, status_json


def _seconds(stamp: object) -> float:
    assert isinstance(stamp, str), stamp
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def attempts_of(job: str, workspace: Path, home: Path) -> list[tuple[float, float]]:
    """(start, end) of each sheet's attempt, in seconds since the epoch."""
    document = status_json(job, workspace, home)
    if document is None:
        raise SystemExit(f"mzt status {job} failed")
    sheets = document["sheets"]
    assert isinstance(sheets, dict)
    found = []
    for sheet in sheets.values():
        if sheet.get("status") != "completed":
            continue  # the runs were stopped at --timeout
        if sheet.get("attempt_count") != 1:
            raise SystemExit(f"{job}: a sheet took {sheet.get('attempt_count')} attempts")
        found.append((_seconds(sheet["started_at"]), _seconds(sheet["completed_at"])))
    return found


def fanned_score(path: Path, name: str, sheets: int) -> Path:
    """A stage of ``sheets`` voices that each run ``true``, all free to run at once.

    Written as YAML by hand: ``fan_out`` is keyed by a stage number, which JSON (and so
    ``_shared.true_score``) can only write as a string, and a score wants an integer.
    """
    path.write_text(
        f"name: {name}\n"
        f"workspace: ./ws-{name}\n"
        "instrument: cli\n"
        "pause_between_sheets_seconds: 0\n"
        f"sheet: {{size: 1, total_items: 1, fan_out: {{1: {sheets}}}}}\n"
        f"parallel: {{enabled: true, max_concurrent: {sheets}}}\n"
        "prompt: {template: 'true'}\n"
    )
    return path


def run_all(
    folder: Path, jobs: int, sheets: int, slots: int, timeout: float
) -> tuple[dict[str, float], float, bool]:
    """Start every job at once: their spawn moments (epoch seconds), the wall time, and
    whether all ended by themselves (else they were stopped after ``timeout`` seconds)."""
    home = folder / "home"
    home.mkdir()
    (home / "config.yaml").write_text(f"instruments:\n  cli: {{max_concurrent: {slots}}}\n")
    env = environment(
        home,
        MZT_MAX_CONCURRENT_SHEETS=str(slots),
        MZT_MAX_CONCURRENT_JOBS=str(jobs),
        MZT_MAX_MEMORY_MB=str(1 << 20),
        MZT_MAX_PROCESSES=str(100 * jobs * sheets),
    )
    names = [f"job{n:03d}" for n in range(jobs)]
    scores = {name: fanned_score(folder / f"{name}.yaml", name, sheets) for name in names}
    spawned: dict[str, float] = {}
    children = []
    began = time.perf_counter()
    for name in names:
        spawned[name] = time.time()
        err = (folder / f"{name}.err").open("w")
        children.append(
            subprocess.Popen(
                [*mzt_command(), "run", "-q", str(scores[name])],
                cwd=folder,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
        )
    deadline = began + timeout
    for name, child in zip(names, children, strict=True):
        try:
            code = child.wait(max(0.0, deadline - time.perf_counter()))
        except subprocess.TimeoutExpired:
            break
        if code != 0:
            tail = (folder / f"{name}.err").read_text()[-2000:]
            raise SystemExit(f"{name} exited {code}:\n{tail}")
    wall = time.perf_counter() - began
    finished = all(child.poll() is not None for child in children)
    for child in children:
        if child.poll() is None:
            child.terminate()  # a run stops its attempts and writes its checkpoint
    for child in children:
        child.wait()
    return spawned, wall, finished


def busy_window(runs: dict[str, list[tuple[float, float]]]) -> tuple[float, float, str] | None:
    """The stretch in which to compare the jobs' turns, and what it is.

    Every job started and none finished yet, when there is such a stretch; else (start-up
    of many runs on few cores spreads their first starts) from the median first start
    to the median last end, comparing only the jobs present all through it.
    """
    firsts = [min(start for start, _ in pairs) for pairs in runs.values()]
    lasts = [max(end for _, end in pairs) for pairs in runs.values()]
    if min(lasts) > max(firsts):
        return max(firsts), min(lasts), "all jobs running"
    begin, finish = statistics.median(firsts), statistics.median(lasts)
    if finish > begin:
        return begin, finish, "median first start to median last end"
    return None


def report(
    runs: dict[str, list[tuple[float, float]]], spawned: dict[str, float], slots: int
) -> list[str]:
    every = [pair for pairs in runs.values() for pair in pairs]
    first = min(start for start, _ in every)
    last = max(end for _, end in every)
    busy = sum(end - start for start, end in every) / (slots * (last - first))
    lines = [f"{'utilisation of the slots:':<34}{busy:.1%} over {last - first:.2f} s"]
    window = busy_window(runs)
    if window is None:
        lines.append(f"{'per-job turns, busy window:':<34}none (the jobs barely overlapped)")
    else:
        begin, finish, how = window
        present = [
            pairs
            for pairs in runs.values()
            if min(start for start, _ in pairs) <= begin and max(end for _, end in pairs) >= finish
        ]
        turns = [sum(1 for start, _ in pairs if begin <= start < finish) for pairs in present]
        share = f"{max(turns) / min(turns):.2f}×" if min(turns) else "∞ (a job had no turn)"
        lines.append(
            f"{'per-job turns, busy window:':<34}max/min {share} (min {min(turns)}, max "
            f"{max(turns)} attempts of {len(present)} jobs in {finish - begin:.2f} s, {how})"
        )
    waits = [start - spawned[job] for job, pairs in runs.items() for start, _ in pairs]
    firsts = [min(start for start, _ in pairs) - spawned[job] for job, pairs in runs.items()]
    lines.append(f"{'longest wait of a sheet:':<34}{max(waits):.2f} s from its job's spawn")
    lines.append(f"{'  median first start of a job:':<34}{statistics.median(firsts):.2f} s")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--sheets", type=int, default=20)
    parser.add_argument("--slots", type=int, default=8)
    parser.add_argument("--quick", action="store_true", help="10 jobs of 10 sheets")
    parser.add_argument(
        "--timeout", type=float, default=600, help="stop the runs after this many seconds"
    )
    args = parser.parse_args()
    if args.quick:
        args.jobs, args.sheets = 10, 10
    print(
        f"{args.jobs} jobs × {args.sheets} sheets (`true`) started at once on "
        f"{args.slots} sheet slots"
    )
    print(f"  {machine()}")
    with tempfile.TemporaryDirectory(prefix="mzt-bench-schedule-") as scratch:
        folder = Path(scratch)
        spawned, wall, finished = run_all(folder, args.jobs, args.sheets, args.slots, args.timeout)
        home = folder / "home"
        runs = {job: attempts_of(job, folder / f"ws-{job}", home) for job in spawned}
    done = sum(len(pairs) for pairs in runs.values())
    if not finished:
        total = args.jobs * args.sheets
        print(f"STOPPED after {wall:.0f} s (--timeout): {done} of {total} sheets done")
    runs = {job: pairs for job, pairs in runs.items() if pairs}
    if runs:
        for line in report(runs, spawned, args.slots):
            print(line)
    print(f"{'wall time:':<34}{wall:.2f} s ({done} attempts, {done / wall:.1f} per second)")


if __name__ == "__main__":
    sys.exit(main())
