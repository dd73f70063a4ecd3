"""What the runs on this machine use now: resident memory and child processes.

There is no daemon to ask, so the live runs are found through the machine slots: every
run holds a ``jobs`` slot from its first launch to its end, and a held slot's record
names the holder's pid and start time. A pid is believed only when /proc still shows
that start time for it, so a pid reused by an unrelated process after a run died is
never counted. The calling process counts as a run too: it may be about to take its
``jobs`` slot, and its own agents are on the machine all the same.

Memory is the resident set (RSS) of the runs and of all their descendants; processes
are those descendants alone (agents, validation commands and what they start), the runs
themselves not included; a zombie counts, as it still holds a pid. Shared pages are
counted once per process, as upstream did: the figure errs high, which only makes
backpressure start early.

A process that ends while it is being measured is simply not counted. Anything else
that stops a reading (/proc unreadable, a process's memory refused) makes the whole reading a
failure with its reason, never an exception: the caller holds launches rather than
guess (fail-closed).
"""

from __future__ import annotations

import os
from pathlib import Path

from mzt.machine.config import MachineConfig
from mzt.machine.limits import JOBS
from mzt.machine.slot_use import read_limit
from mzt.support import procinfo, records

PROC = "/proc"  # read directly once per reading, so an unreadable /proc is noticed
MB = 1024 * 1024


@records.record(frozen=True, slots=True)
class Usage:
    """One reading: what the runs and their descendants use, or why it could not be read."""

    memory_mb: float
    processes: int
    runs: frozenset[int] = frozenset()  # pids of the live runs, the caller's included
    descendants: frozenset[int] = frozenset()
    failure: str = ""  # empty when the reading worked

    @property
    def failed(self) -> bool:
        return bool(self.failure)


class ProbeError(Exception):
    """A reading that cannot be trusted; the message says why."""


def measure(config: MachineConfig, *, home: Path | None = None) -> Usage:
    """What the live runs (and this process) and their descendants use now; never raises."""
    try:
        runs = live_runs(config, home=home)
        return usage_of(runs)
    except ProbeError as exc:
        return Usage(0.0, 0, failure=str(exc))


def live_runs(config: MachineConfig, *, home: Path | None = None) -> frozenset[int]:
    """Pids of the runs holding a ``jobs`` slot whose start time matches, and this process."""
    use = read_limit(JOBS, config.max_concurrent_jobs, home=home)
    if use.problem:
        raise ProbeError(f"the job slots cannot be read: {use.problem}")
    found = {os.getpid()}
    for slot in use.slots:
        pid = live_holder(slot.holder) if slot.held and slot.holder is not None else None
        if pid is not None:
            found.add(pid)
    return frozenset(found)


def live_holder(record: dict[str, object]) -> int | None:
    """The pid the record names if that process is alive as itself (same start time).

    A record without a usable pid or start time (one being written, or damaged) names no
    one that can be checked, so it is not counted.
    """
    pid, started = record.get("pid"), record.get("start_time")
    if type(pid) is not int or type(started) is not int or pid <= 0:
        return None
    found = procinfo.read_stat(pid)
    alive = found is not None and found.alive and found.start_time == started
    return pid if alive else None


def usage_of(runs: frozenset[int]) -> Usage:
    """The memory and descendant count of ``runs``; raises :class:`ProbeError`."""
    _check_proc()
    tree = procinfo.subtree(runs)
    rss = 0
    counted: set[int] = set()
    for pid in tree:
        try:
            used = procinfo.rss_bytes(pid)
        except (OSError, ValueError, IndexError) as exc:
            raise ProbeError(f"process {pid} cannot be measured: {_reason(exc)}") from exc
        if used is None:
            continue  # ended while being measured: it no longer uses anything
        rss += used
        counted.add(pid)
    descendants = frozenset(counted - runs)
    return Usage(round(rss / MB, 1), len(descendants), runs, descendants)


def _check_proc() -> None:
    # procinfo's readers find "nothing" when /proc cannot be read: that would look like a
    # machine at rest, so one read here tells the two apart.
    path = f"{PROC}/{os.getpid()}/task"
    try:
        os.listdir(path)  # noqa: PTH208 - a plain listing; this runs before launches
    except OSError as exc:
        raise ProbeError(f"{path} cannot be read: {_reason(exc)}") from exc


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or getattr(exc, "msg", None) or str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
