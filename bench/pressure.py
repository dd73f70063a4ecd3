"""The cost of the backpressure check a run makes before every attempt launch.

``check()`` either reuses the reading shared in ``$MZT_HOME/pressure.json`` (cached: one
read and parse of a small file) or measures again (uncached: the job slots, /proc and
psutil for every live run and descendant, the rate-limit records, then the lock and an
atomic write). Both are timed with 0, 4 and 20 live child processes of the measuring
process (``sleep``, counted as the caller's descendants, as a run's agents are), and one
run holding a ``jobs`` slot in another process. The settings alternate round by round
(cached and uncached for 0, 4, 20, then again), so load from elsewhere falls on all of
them; each figure is the median of the rounds' per-call means with min–max.

Usage: python bench/pressure.py [--rounds 7] [--calls 200]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _shared import REPO, machine, spread

sys.path.insert(0, str(REPO))

from mzt.instruments import ratelimits
from mzt.machine import config as machine_config
from mzt.machine import pressure
from mzt.machine.limits import JOBS
from mzt.machine.pressure_probe import live_runs

CHILDREN = (0, 4, 20)
HOLDER = "import sys; from mzt.machine import slots; from pathlib import Path; " + (
    "h = Path(sys.argv[1]); s = slots.take('jobs', 15, slots.Holder('other', str(h)), home=h); "
    "print('held', flush=True); sys.stdin.read()"
)


@contextmanager
def sleepers(count: int) -> Iterator[None]:
    children = [subprocess.Popen(["sleep", "600"]) for _ in range(count)]
    try:
        yield
    finally:
        for child in children:
            child.kill()
        for child in children:
            child.wait()


@contextmanager
def other_run(home: Path) -> Iterator[None]:
    """Another process holding a jobs slot until the block ends, as a running job does."""
    child = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(home)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    assert child.stdout is not None and child.stdin is not None
    try:
        if child.stdout.readline().strip() != "held":
            raise SystemExit("the holding process could not take a jobs slot")
        yield
    finally:
        child.stdin.close()
        child.wait()


def per_call(home: Path, calls: int, cached: bool, expected: int) -> float:
    """Seconds per ``check()``; uncached calls each come 2 s after the last reading."""
    config = machine_config.defaults()
    start = datetime.now(UTC)
    found = pressure.check(config, rate_limits=ratelimits.all_records, home=home, now=start)
    if found.processes < expected:  # the children must be seen, or the figure means nothing
        raise SystemExit(f"the check saw {found.processes} processes, not {expected}")
    moments = [start + timedelta(seconds=0 if cached else 2 * (i + 1)) for i in range(calls)]
    began = time.perf_counter()
    for moment in moments:
        pressure.check(config, rate_limits=ratelimits.all_records, home=home, now=moment)
    return (time.perf_counter() - began) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    print(f"pressure check per call; {args.calls} calls, {args.rounds} rounds, interleaved")
    print(f"  {machine()}")
    figures: dict[tuple[int, bool], list[float]] = {(n, c): [] for n in CHILDREN for c in (1, 0)}
    with tempfile.TemporaryDirectory(prefix="mzt-bench-pressure-") as scratch:
        home = Path(scratch) / "home"
        with other_run(home):
            runs = live_runs(machine_config.defaults(), home=home)
            if len(runs) != 2:
                raise SystemExit(f"the check sees {len(runs)} live runs, not 2")
            print(f"  live runs: this process and one holding a {JOBS} slot")
            for _ in range(args.rounds):
                for count in CHILDREN:
                    with sleepers(count):
                        for cached in (True, False):
                            seconds = per_call(home, args.calls, cached, count)
                            figures[(count, cached)].append(seconds)
    for (count, cached), values in figures.items():
        label = f"{'cached' if cached else 'uncached'}, {count} children:"
        target = "target < 0.1 ms" if cached else "target < 5 ms"
        print(f"{label:<26}{spread([v * 1e3 for v in values], ' ms', 3)}   {target}")


if __name__ == "__main__":
    main()
