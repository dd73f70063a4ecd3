"""How fast the read-only views answer: `mzt status`, no jobs and a 10,000-sheet job.

Each command runs as a whole process, alternated round by round with ``python -c pass``
on the interpreter the ``mzt`` script uses. Printed per command: both medians, the
median of the per-round ratios mzt / python with their min–max, the command's own
median and min–max in milliseconds (wall, and CPU time: on a loaded machine the wall time
of every process, ``python -c pass`` included, grows, its CPU time much less), and the
target:

* ``mzt status`` with no jobs: an empty ``MZT_HOME``, an empty current folder (≤ 4×);
* ``mzt status JOB -w WS`` of a real, completed job of ``--sheets`` sheets (≤ 100 ms);
* ``mzt status JOB -w WS --json`` of the same job (every sheet in the document).

The job is built once by running a score of ``true`` sheets on the ``cli`` instrument
and cached under the temp folder, keyed on the mzt sources (see ``_shared.big_job``);
``--job ID --workspace WS --home HOME`` uses an existing completed job instead, so
changes to mzt can be compared on the very same files.

Usage: python bench/status_speed.py [--rounds 15] [--sheets 10000] [--rebuild]
       [--job ID --workspace WS --home HOME]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from _shared import big_job, compare, environment, machine, mzt_command, python_pass, run, spread


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--sheets", type=int, default=10_000, help="sheets of the built job")
    parser.add_argument("--rebuild", action="store_true", help="build the job again")
    parser.add_argument("--job", help="an existing completed job's id (with --workspace)")
    parser.add_argument("--workspace", type=Path, help="that job's workspace")
    parser.add_argument("--home", type=Path, help="that job's MZT_HOME")
    args = parser.parse_args()
    mzt = mzt_command()
    print(f"machine: {machine()}")
    print(f"floor: {' '.join(python_pass())}; {args.rounds} rounds, mzt and python alternating\n")
    if args.job:
        if args.workspace is None:
            parser.error("--job needs --workspace")
        job, workspace = args.job, args.workspace.resolve()
        home = (args.home or Path(tempfile.gettempdir()) / "mzt-bench-status-home").resolve()
    else:
        job, workspace, home = big_job(args.sheets, rebuild=args.rebuild)
    with tempfile.TemporaryDirectory(prefix="mzt-bench-status-") as tmp:
        empty = Path(tmp)
        target = [job, "-w", str(workspace)]
        cases = [
            ("mzt status, no jobs", [*mzt, "status"], empty / "home", "≤ 4×"),
            ("mzt status JOB -w WS", [*mzt, "status", *target], home, "≤ 100 ms"),
            ("mzt status JOB -w WS --json", [*mzt, "status", *target, "--json"], home, ""),
        ]
        floor = python_pass()
        for label, argv, case_home, target_text in cases:
            env = environment(case_home)
            first = run(argv, env=env, cwd=empty, keep_stdout=True)
            mine: list[float] = []
            bare: list[float] = []
            cpu: list[float] = []
            for _ in range(args.rounds):
                done = run(argv, env=env, cwd=empty)
                mine.append(done.seconds)
                cpu.append(done.cpu_seconds)
                bare.append(run(floor, env=environment(), cwd=empty).seconds)
            ratio_target = target_text if target_text.endswith("×") else None
            compare(label, "mzt", mine, "python -c pass", bare, target=ratio_target)
            line = f"    {'mzt alone':<40} {spread([t * 1000 for t in mine], ' ms', 1)}"
            if target_text.endswith("ms"):
                line += f"   target {target_text}"
            print(line)
            cpu_text = spread([t * 1000 for t in cpu], " ms", 1)
            print(f"    {'mzt CPU time (user + system)':<40} {cpu_text}")
            print(f"    {'output':<40} {len(first.stdout):,} bytes")
            print()
        print(f"median python -c pass overall: {statistics.median(bare) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
