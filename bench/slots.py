"""The cost of an attempt's machine slots: taking its overall, instrument and model slots
together and releasing them, as a run will around every attempt.

Two settings, each repeated over ``--rounds`` rounds in fresh processes and shown as the
median of the rounds with min–max (target: under 0.3 ms per attempt):

* one process: ``--attempts`` take-and-release cycles in a loop, nobody else about;
  and the same through the fair-share queue (:mod:`mzt.machine.fairshare`), which looks
  at each limit's queue first (nobody waits there, so no ticket is taken);
* across processes: ``--processes`` processes doing the same loop at once on the same
  limits, so a scan meets slots others hold (capacities ``sheets`` 4, instrument 2, model
  2 by default); a try that finds a limit full (and releases what it took) counts as a
  cycle too, and the share of such tries is shown, with each process's CPU time per
  cycle (with more processes than CPUs, the wall time includes the others' turns).

Usage: python bench/slots.py [--attempts 5000] [--rounds 5] [--processes 4]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _shared import REPO, environment, machine, spread

LIMITS = (("sheets", 4), ("instrument-claude-code", 2), ("model-claude-sonnet-4.5", 2))


def measure(home: Path, attempts: int, start_at: float, fair: bool) -> dict[str, float]:
    """Cycles of take-all and release; seconds per cycle and the share found full."""
    sys.path.insert(0, str(REPO))
    from mzt.machine import fairshare, slots

    holder = slots.Holder("bench-job", str(home), 1, "claude-code")
    warm = slots.take_all(LIMITS, holder, home=home)  # folders made, modules loaded
    if warm is not None:
        warm.release()
    while time.time() < start_at:  # every process starts its loop at once
        time.sleep(0.001)
    full = 0
    started = time.perf_counter()
    cpu_started = time.process_time()
    for _ in range(attempts):
        if fair:  # the way in through the queue, nobody waiting: one look at each queue
            taken = fairshare.Waiter(LIMITS, holder, home=home).try_take()
        else:
            taken = slots.take_all(LIMITS, holder, home=home)
        if taken is None:
            full += 1
        else:
            taken.release()
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    return {"per_attempt": seconds / attempts, "cpu": cpu / attempts, "full_share": full / attempts}


def round_of(processes: int, attempts: int, fair: bool = False) -> list[dict[str, float]]:
    with tempfile.TemporaryDirectory(prefix="mzt-bench-slots-") as scratch:
        home = Path(scratch) / "home"
        start_at = time.time() + 0.5 + 0.1 * processes
        argv = [sys.executable, __file__, "--one", str(home), "--attempts", str(attempts)]
        argv += ["--fair"] if fair else []
        children = [
            subprocess.Popen(
                [*argv, "--start-at", str(start_at)],
                stdout=subprocess.PIPE,
                env=environment(home),
                text=True,
            )
            for _ in range(processes)
        ]
        results = []
        for child in children:
            out, _ = child.communicate()
            if child.returncode != 0:
                raise SystemExit(f"a measuring process exited {child.returncode}")
            results.append(json.loads(out))
        return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attempts", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--one", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--start-at", type=float, default=0.0, help=argparse.SUPPRESS)
    parser.add_argument("--fair", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one, args.attempts, args.start_at, args.fair)))
        return
    limits = ", ".join(f"{name} {capacity}" for name, capacity in LIMITS)
    print(f"machine slots per attempt ({limits}); {args.attempts} cycles, {args.rounds} rounds")
    print(f"  {machine()}")
    alone = [round_of(1, args.attempts)[0]["per_attempt"] for _ in range(args.rounds)]
    print(f"{'one process:':<30}{spread([s * 1e3 for s in alone], ' ms', 3)}   target < 0.3 ms")
    fair = [round_of(1, args.attempts, fair=True)[0]["per_attempt"] for _ in range(args.rounds)]
    label = "one process, via the queue:"
    print(f"{label:<30}{spread([s * 1e3 for s in fair], ' ms', 3)}   target < 0.3 ms")
    shared: list[float] = []
    cpu: list[float] = []
    full: list[float] = []
    for _ in range(args.rounds):
        results = round_of(args.processes, args.attempts)
        shared.append(sorted(r["per_attempt"] for r in results)[len(results) // 2])
        cpu.append(sorted(r["cpu"] for r in results)[len(results) // 2])
        full.append(sum(r["full_share"] for r in results) / len(results))
    label = f"{args.processes} processes at once:"
    print(f"{label:<30}{spread([s * 1e3 for s in shared], ' ms', 3)}   target < 0.3 ms")
    # More processes than CPUs share them: each one's wall time per cycle then includes
    # the turns of the others, and its own CPU time is what one cycle costs.
    label = "  of it CPU time:"
    print(f"{label:<30}{spread([s * 1e3 for s in cpu], ' ms', 3)}")
    print(f"{'  tries that found one full:':<30}{spread([f * 100 for f in full], ' %', 1)}")


if __name__ == "__main__":
    main()
