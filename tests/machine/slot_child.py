"""A separate process that takes machine slots, for the tests that need real holders.

``race HOME LIMIT CAPACITY LOOPS OUT``: take, hold a moment, release, LOOPS times, writing
each hold's monotonic start and end (taken inside the hold) to OUT.
``hold HOME JOB LIMIT:CAPACITY...``: take them all, print ``held``, keep them until stdin
closes. ``hold-spawn``: the same, but first start ``sleep`` (which inherits every
inheritable descriptor) and print its pid after ``held``.
``wait HOME JOB CAPACITY LOG``: wait in turn (fair share) for a ``sheets`` slot, print
``joined`` once queued, log ``JOB PID`` when served, hold until stdin closes.

Imported, :func:`holding` runs a ``hold`` child for the length of a ``with`` block.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from mzt.machine import fairshare, slots


def race(home: Path, limit: str, capacity: int, loops: int, out: Path) -> None:
    holder = slots.Holder(f"racer-{out.stem}", str(home))
    lines = []
    for _ in range(loops):
        while (slot := slots.take(limit, capacity, holder, home=home)) is None:
            time.sleep(0.0005)  # the caller's wait: the mechanism never blocks
        started = time.monotonic_ns()
        time.sleep(0.002)
        ended = time.monotonic_ns()
        slot.release()
        lines.append(f"{started} {ended}\n")
    out.write_text("".join(lines))


def hold(home: Path, job: str, specs: list[str], spawn: bool) -> None:
    limits = [(spec.rsplit(":", 1)[0], int(spec.rsplit(":", 1)[1])) for spec in specs]
    taken = slots.take_all(limits, slots.Holder(job, str(home), 2, "claude-code"), home=home)
    if taken is None:
        print("full", flush=True)
        return
    print("held", flush=True)
    if spawn:
        # close_fds=False: only O_CLOEXEC keeps the slot descriptors from the child.
        child = subprocess.Popen(["sleep", "600"], close_fds=False)
        print(child.pid, flush=True)
    sys.stdin.read()
    taken.release()


def wait(home: Path, job: str, capacity: int, log: Path) -> None:
    """Wait in turn for a ``sheets`` slot; once it is held, log ``job pid``; hold it until
    stdin closes."""
    waiter = fairshare.Waiter([("sheets", capacity)], slots.Holder(job, str(home)), home=home)
    taken = waiter.try_take()
    print("joined" if taken is None else "took", flush=True)
    while taken is None:
        time.sleep(0.002)
        taken = waiter.try_take()
    with log.open("a") as out:
        out.write(f"{job} {os.getpid()}\n")
    sys.stdin.read()
    taken.release()


@contextlib.contextmanager
def holding(home: Path, job: str, *specs: str) -> Iterator[subprocess.Popen[str]]:
    """A separate process holding a slot of each ``LIMIT:CAPACITY`` for ``job`` (sheet 2,
    instrument claude-code, workspace ``home``) from the start of the block to its end."""
    child = subprocess.Popen(
        [sys.executable, __file__, "hold", str(home), job, *specs],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        said = child.stdout.readline().strip()
        assert said == "held", f"the holder said {said!r}"
        yield child
    finally:
        let_go(child)


def let_go(child: subprocess.Popen[str]) -> None:
    """End a ``hold`` child: it releases its slots when its stdin closes."""
    with contextlib.suppress(BrokenPipeError):
        if child.stdin is not None and not child.stdin.closed:
            child.stdin.close()
    child.wait(timeout=30)
    if child.stdout is not None:
        child.stdout.close()


if __name__ == "__main__":
    mode, home_text, *rest = sys.argv[1:]
    if mode == "wait":
        wait(Path(home_text), rest[0], int(rest[1]), Path(rest[2]))
    elif mode == "race":
        race(Path(home_text), rest[0], int(rest[1]), int(rest[2]), Path(rest[3]))
    else:
        hold(Path(home_text), rest[0], rest[1:], spawn=mode == "hold-spawn")
