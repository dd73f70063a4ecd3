"""What /proc says about a process: start time, group, session, environment, children.

A pid alone names nothing durable — pids are reused. A process is identified by its pid
together with its start time (clock ticks since boot, field 22 of /proc/<pid>/stat) and
the boot id, so a record written by a run that died can never be matched to an unrelated
process that later got the same pid. Linux only; elsewhere every lookup finds nothing.
"""

from __future__ import annotations

import contextlib
import functools
import os
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from mzt.support import records

BOOT_ID_PATH = Path("/proc/sys/kernel/random/boot_id")
_PR_SET_CHILD_SUBREAPER = 36
_BOOT_CLOCK: int | None = getattr(time, "CLOCK_BOOTTIME", None)


@records.record(frozen=True, slots=True)
class ProcStat:
    """The fields of /proc/<pid>/stat that identify and place a process."""

    pid: int
    state: str
    ppid: int
    pgid: int
    sid: int
    start_time: int  # clock ticks after boot

    @property
    def alive(self) -> bool:
        return self.state not in ("Z", "X")


def boot_clock_ns() -> int | None:
    """The clock a process's start time is taken from (CLOCK_BOOTTIME), None if unknown."""
    return time.clock_gettime_ns(_BOOT_CLOCK) if _BOOT_CLOCK is not None else None


def start_time_between(before: int | None, after: int | None) -> int | None:
    """The start time of a process forked between two `boot_clock_ns` readings.

    The kernel stamps a new process with this same clock at fork and /proc shows it in
    whole ticks, so when both readings fall in one tick that tick is the start time,
    exactly. Known so, it need not be read from /proc/<pid>/stat while the child is
    still in exec, a read that waits for the exec to finish. None when the readings
    straddle a tick (a few in a hundred spawns): read it then.
    """
    if before is None or after is None:
        return None
    tick = 1_000_000_000 // os.sysconf("SC_CLK_TCK")
    return before // tick if before // tick == after // tick else None


def read_stat(pid: int) -> ProcStat | None:
    try:  # a plain read, not Path: it runs at every attempt's start
        with open(f"/proc/{pid}/stat", "rb") as file:  # noqa: PTH123
            raw = file.read()
    except OSError:
        return None
    fields = raw[raw.rfind(b")") + 2 :].split()
    try:
        return ProcStat(
            pid,
            fields[0].decode(),
            int(fields[1]),
            int(fields[2]),
            int(fields[3]),
            int(fields[19]),
        )
    except (IndexError, ValueError):
        return None


def started_epoch(pid: int) -> float | None:
    """When ``pid`` started, in seconds since the epoch (as psutil's ``create_time``)."""
    found = read_stat(pid)
    boot = boot_time()
    if found is None or boot is None:
        return None
    return boot + found.start_time / os.sysconf("SC_CLK_TCK")


@functools.cache  # fixed while the machine runs: read once per process
def boot_time() -> float | None:
    """The kernel's boot time in seconds since the epoch (``btime`` of /proc/stat)."""
    with contextlib.suppress(OSError, ValueError), open("/proc/stat", "rb") as file:  # noqa: PTH123
        for line in file:
            if line.startswith(b"btime "):
                return float(line.split()[1])
    return None


def rss_bytes(pid: int) -> int | None:
    """The resident memory of ``pid`` in bytes; None when it has ended.

    Raises ``OSError`` when its memory cannot be read for another reason (permission).
    """
    try:
        with open(f"/proc/{pid}/statm", "rb") as file:  # noqa: PTH123 (see read_stat)
            raw = file.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return int(raw.split()[1]) * os.sysconf("SC_PAGE_SIZE")  # pages resident


def boot_id() -> str | None:
    """The kernel's per-boot random id (Linux), or ``None`` where there is none."""
    try:
        return BOOT_ID_PATH.read_text().strip() or None
    except OSError:
        return None


def host() -> str:
    """This machine's name, as ``gethostname`` gives it: glibc reads it from ``uname``, which
    needs no `socket` import (a run would import it for this alone)."""
    return os.uname().nodename


def read_environ(pid: int) -> set[bytes]:
    """The process's ``NAME=value`` entries (readable for the same uid only)."""
    try:
        data = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return set()
    return set(data.split(b"\0"))


def all_pids() -> Iterator[int]:
    try:
        names = [entry.name for entry in Path("/proc").iterdir()]
    except OSError:
        return
    for name in names:
        if name.isdigit():
            yield int(name)


def own_uid_pids() -> Iterator[int]:
    """Pids of processes of this user (others' environments cannot be read anyway)."""
    uid = os.getuid()
    for pid in all_pids():
        with contextlib.suppress(OSError):
            if Path(f"/proc/{pid}").stat().st_uid == uid:
                yield pid


def children_of_self() -> set[int]:
    """Direct children of this process, including ones it adopted as a subreaper."""
    return children_of("self")


def children_of(pid: int | str) -> set[int]:
    """Direct children of ``pid`` (of all its threads); empty once it is gone."""
    found: set[int] = set()
    # Strings and plain reads, not Path: this runs after every attempt, for every thread.
    try:
        tasks = os.listdir(f"/proc/{pid}/task")  # noqa: PTH208 (see above)
    except OSError:
        return found
    for task in tasks:
        path = f"/proc/{pid}/task/{task}/children"
        with contextlib.suppress(OSError, ValueError), open(path, "rb") as file:  # noqa: PTH123
            found.update(int(p) for p in file.read().split())
    return found


def subtree(roots: Iterable[int]) -> set[int]:
    """The given pids and every descendant of them that is still alive."""
    found: set[int] = set()
    todo = list(roots)
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(children_of(pid))
    return found


def become_subreaper(enable: bool = True) -> bool:
    """Adopt orphaned descendants (PR_SET_CHILD_SUBREAPER) instead of letting init have them."""
    import ctypes  # only a run that supervises attempts calls this, once

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(_PR_SET_CHILD_SUBREAPER, int(enable), 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def reap(pids: Iterable[int]) -> set[int]:
    """Collect the named children of ours that have exited; returns the pids collected."""
    reaped: set[int] = set()
    for pid in pids:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            reaped.add(pid)  # not ours (any more): nothing to wait for
            continue
        if done:
            reaped.add(pid)
    return reaped


@records.record(frozen=True, slots=True)
class Target:
    """A process to stop, pinned by its start time so a reused pid is never hit."""

    pid: int
    start_time: int


def _pidfd(target: Target) -> int | None:
    """A pidfd of ``target`` if it is still the same, live process."""
    try:
        fd = os.pidfd_open(target.pid)
    except (OSError, AttributeError):
        return None
    # Checked after opening: from here on the fd names this process even if the pid is reused.
    stat = read_stat(target.pid)
    if stat is None or stat.start_time != target.start_time or not stat.alive:
        os.close(fd)
        return None
    return fd


def signal_targets(targets: Iterable[Target], signum: int) -> list[Target]:
    """Send ``signum`` to every target still alive as itself; returns those signalled."""
    import signal  # here: the views that read start times send nothing

    hit = []
    for target in targets:
        fd = _pidfd(target)
        if fd is None:
            continue
        try:
            signal.pidfd_send_signal(fd, signum)
            hit.append(target)
        except OSError:
            pass
        finally:
            os.close(fd)
    return hit


def still_alive(target: Target) -> bool:
    stat = read_stat(target.pid)
    return stat is not None and stat.alive and stat.start_time == target.start_time


def stop_targets(targets: list[Target], grace: float, *, poll: float = 0.05) -> list[Target]:
    """SIGTERM → up to ``grace`` seconds → SIGKILL; returns the targets that were alive."""
    import signal

    hit = signal_targets(targets, signal.SIGTERM)
    end = time.monotonic() + grace
    while time.monotonic() < end and any(still_alive(t) for t in hit):
        time.sleep(poll)
    signal_targets([t for t in hit if still_alive(t)], signal.SIGKILL)
    end = time.monotonic() + 2.0
    while time.monotonic() < end and any(still_alive(t) for t in hit):
        time.sleep(poll)
    return hit
