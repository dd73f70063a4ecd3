"""Start-up cost of everyday `mzt` commands, next to a bare `python -c pass`.

Each command below runs as a whole process, alternated round by round with
``python -c pass`` on the interpreter the ``mzt`` script uses (mzt, python, mzt,
python …). Printed per command: both medians and the median of the per-round ratios
mzt / python with their min–max, and the target:

* ``mzt --version`` (target ≤ 3×);
* ``mzt validate examples/hello.yaml`` (target ≤ 8×);
* ``mzt run -q -w WS examples/hello.yaml`` when that job already completed and the score
  did not change: the cron case, a no-op (target ≤ 5×). The job is run to completion
  once in setup with the very same command line, and timed once it is settled, as cron
  finds it: its checkpoint unchanged for two seconds (`mzt.state.head`);
* ``mzt status`` with no jobs: an empty ``MZT_HOME`` and an empty current folder
  (target ≤ 4×);
* ``mzt status JOB -w WS`` of a real, completed 10,000-sheet job (target ≤ 100 ms,
  absolute). The job is built once by running a 10,000-sheet score of ``true`` sheets
  (about a minute) and cached under the temp folder, keyed on the mzt sources, so later
  runs reuse it; ``--skip-big`` leaves this case out, ``--rebuild`` builds it again.

Usage: python bench/startup.py [--rounds 11] [--big-sheets 10000] [--skip-big] [--rebuild]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from _shared import (
    REPO,
    big_job,
    compare,
    environment,
    machine,
    mzt_command,
    mzt_python,
    python_pass,
    run,
    spread,
)

from mzt.state.head import SETTLED_SECONDS

HELLO = REPO / "examples" / "hello.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--big-sheets", type=int, default=10_000, help="sheets of the big job")
    parser.add_argument("--skip-big", action="store_true", help="leave the big job's status out")
    parser.add_argument("--rebuild", action="store_true", help="build the big job again")
    args = parser.parse_args()
    mzt = mzt_command()
    print(f"machine: {machine()}")
    print(f"floor: {mzt_python()} -c pass; {args.rounds} rounds, mzt and python alternating\n")
    with tempfile.TemporaryDirectory(prefix="mzt-bench-startup-") as tmp:
        root = Path(tmp)
        empty, empty_home = root / "empty", root / "empty" / "home"
        empty.mkdir()
        hello_home, hello_ws = root / "hello-home", root / "hello-ws"
        noop = [*mzt, "run", "-q", "-w", str(hello_ws), str(HELLO)]
        run(noop, env=environment(hello_home), cwd=root)  # the job completes here, once
        # The cron line itself: the score run in its own workspace, no -w.
        own_home, own_score = root / "own-home", root / "own" / "hello.yaml"
        own_score.parent.mkdir()
        own_score.write_bytes(HELLO.read_bytes())
        noop_own = [*mzt, "run", "-q", str(own_score)]
        run(noop_own, env=environment(own_home), cwd=root)
        # As cron finds it: completed a while ago. A checkpoint changed in the last two
        # seconds is read whole; once settled, the next look keeps its head for the rest.
        time.sleep(SETTLED_SECONDS + 0.2)
        run(noop, env=environment(hello_home), cwd=root)
        run(noop_own, env=environment(own_home), cwd=root)
        before = (hello_ws / ".marianne" / "hello.json").read_bytes()

        cases: list[tuple[str, list[str], dict[str, str], Path, str]] = [
            ("mzt --version", [*mzt, "--version"], environment(empty_home), empty, "≤ 3×"),
            (
                "mzt validate examples/hello.yaml",
                [*mzt, "validate", str(HELLO)],
                environment(empty_home),
                empty,
                "≤ 8×",
            ),
            (
                "mzt run score.yaml, completed job (no-op, own workspace)",
                noop_own,
                environment(own_home),
                root,
                "≤ 5×",
            ),
            (
                "mzt run -w DIR score.yaml, completed job (no-op, other workspace)",
                noop,
                environment(hello_home),
                root,
                "≤ 5×",
            ),
            ("mzt status, no jobs", [*mzt, "status"], environment(empty_home), empty, "≤ 4×"),
        ]
        if not args.skip_big:
            job, workspace, home = big_job(args.big_sheets, rebuild=args.rebuild)
            cases.append(
                (
                    f"mzt status JOB -w WS, {args.big_sheets:,} sheets",
                    [*mzt, "status", job, "-w", str(workspace)],
                    environment(home),
                    root,
                    "≤ 100 ms absolute",
                )
            )
        floor = python_pass()
        for label, argv, env, cwd, target in cases:
            figures: dict[str, list[float]] = {"mzt": [], "python": []}
            for _ in range(args.rounds):
                figures["mzt"].append(run(argv, env=env, cwd=cwd).seconds)
                figures["python"].append(run(floor, cwd=cwd).seconds)
            mine, bare = figures["mzt"], figures["python"]
            ratio_target = None if "absolute" in target else target
            compare(label, "mzt", mine, "python -c pass", bare, target=ratio_target)
            if "absolute" in target:
                absolute = spread([t * 1000 for t in mine], " ms", 1)
                print(f"    absolute: {absolute}   target {target}")
            print()
        after = (hello_ws / ".marianne" / "hello.json").read_bytes()
        same = "unchanged" if after == before else "rewritten"
        print(f"the completed job's checkpoint after {args.rounds} no-op runs: {same}")
        if empty_home.exists():
            print(f"note: `mzt status` with no jobs created {empty_home}")


if __name__ == "__main__":
    main()
