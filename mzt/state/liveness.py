"""Who wrote a checkpoint, and whether that process can still be alive.

The run lock is the authority on liveness (see :mod:`mzt.state.lock`): a kernel ``flock`` vanishes
with its process, however that process died. What this module provides is the secondary
evidence recorded next to it — pid, process start time, host and boot id — which survives
pid reuse (a recycled pid has a different start time; a reboot changes the boot id) and is
what messages show to people.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from enum import StrEnum
from types import ModuleType

import msgspec

from mzt.support import procinfo

HAS_PROC = os.path.exists("/proc/self/stat")  # noqa: PTH110 (one stat, at import)

# Start times are boot time + jiffies (as psutil derives them too); a wall-clock
# adjustment shifts the boot time the kernel reports, so compare with some slack. A
# recycled pid that started within the same second as the original is not a realistic
# risk.
START_TIME_TOLERANCE = 1.0


def format_timestamp(epoch: float | None) -> str | None:
    """ISO-8601 UTC text (``2026-05-01T10:00:00Z``) for an epoch time, or ``None``."""
    if epoch is None:
        return None
    moment = datetime.fromtimestamp(epoch, UTC).replace(microsecond=0)
    return moment.isoformat().replace("+00:00", "Z")


def process_start_time(pid: int) -> float | None:
    """Start time (epoch seconds) of process ``pid``, or ``None`` if it cannot be read."""
    if pid <= 0:
        return None
    if HAS_PROC:  # read directly: importing psutil costs a run's start about 10 ms
        return procinfo.started_epoch(pid)
    try:
        return float(psutil().Process(pid).create_time())
    except (psutil().Error, OSError):
        return None


def pid_alive(pid: int | None) -> bool:
    """Whether a process with this pid exists and is not a defunct zombie.

    ``EPERM`` means the process exists but belongs to someone else, so it counts as alive;
    only "no such process" (or a defunct entry awaiting its parent) counts as gone.
    """
    if pid is None or pid <= 0:
        # kill(0) would signal our own process group: never ask about pids <= 0.
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return True
    if HAS_PROC:
        found = procinfo.read_stat(pid)
        return found is not None and found.alive  # None: it ended since the kill
    try:
        return bool(psutil().Process(pid).status() != psutil().STATUS_ZOMBIE)
    except psutil().NoSuchProcess:
        return False
    except (psutil().Error, OSError):
        return True


# Structs, not dataclasses: `mzt status` imports this module, and importing `dataclasses`
# (it pulls `inspect`, `ast`, `dis`...) and making a dataclass cost milliseconds there.
class ProcessIdentity(msgspec.Struct, frozen=True):
    """A process named well enough to survive pid reuse: pid, start time, host, boot id."""

    pid: int
    start_time: float | None
    host: str
    boot_id: str | None

    @property
    def started_at(self) -> str | None:
        """The start time as ISO-8601 UTC text, for messages."""
        return format_timestamp(self.start_time)

    def to_dict(self) -> dict[str, object]:
        """The JSON form stored in checkpoints (``writer``) and lock files."""
        return {
            "pid": self.pid,
            "start_time": self.start_time,
            "started_at": self.started_at,
            "host": self.host,
            "boot_id": self.boot_id,
        }

    @classmethod
    def from_dict(cls, data: object) -> ProcessIdentity | None:
        """Parse :meth:`to_dict` output; ``None`` for anything malformed."""
        if not isinstance(data, dict):
            return None
        pid = data.get("pid")
        host = data.get("host")
        start = data.get("start_time")
        boot = data.get("boot_id")
        if not isinstance(pid, int) or isinstance(pid, bool) or not isinstance(host, str):
            return None
        start_time = float(start) if isinstance(start, int | float) else None
        return cls(pid, start_time, host, boot if isinstance(boot, str) else None)

    def describe(self) -> dict[str, object]:
        """``{pid, host, started_at}``: what error messages name."""
        return {"pid": self.pid, "host": self.host, "started_at": self.started_at}


_current: ProcessIdentity | None = None


def current_identity() -> ProcessIdentity:
    """This process's identity (recomputed after a fork, since the pid changes)."""
    global _current
    pid = os.getpid()
    if _current is None or _current.pid != pid:
        started = process_start_time(pid)
        _current = ProcessIdentity(pid, started, procinfo.host(), procinfo.boot_id())
    return _current


class Verdict(StrEnum):
    """What the recorded identity says about the process it names."""

    ALIVE = "alive"  # that very process still runs here
    DEAD = "dead"  # provably gone: no such pid, pid reused, or a previous boot
    FOREIGN = "foreign"  # recorded on another host: nothing can be proven from here
    UNKNOWN = "unknown"  # nothing recorded


class Evidence(msgspec.Struct, frozen=True):
    """A verdict plus the sentence that explains it to a person."""

    verdict: Verdict
    reason: str


def examine(recorded: ProcessIdentity | None, here: ProcessIdentity | None = None) -> Evidence:
    """Judge whether the process ``recorded`` can still be running, seen from ``here``."""
    if recorded is None:
        return Evidence(Verdict.UNKNOWN, "no writer process was recorded")
    here = here or current_identity()
    who = f"pid {recorded.pid} on {recorded.host}"
    if recorded.started_at:
        who += f" (started {recorded.started_at})"
    if recorded.host != here.host:
        return Evidence(Verdict.FOREIGN, f"{who} ran on another host ({here.host} is this one)")
    if recorded.boot_id and here.boot_id and recorded.boot_id != here.boot_id:
        return Evidence(Verdict.DEAD, f"{who} ran before this machine last booted")
    if not pid_alive(recorded.pid):
        return Evidence(Verdict.DEAD, f"{who} no longer exists")
    if recorded.start_time is not None:
        actual = process_start_time(recorded.pid)
        if actual is not None and abs(actual - recorded.start_time) > START_TIME_TOLERANCE:
            return Evidence(
                Verdict.DEAD,
                f"{who} is gone; pid {recorded.pid} now belongs to another process "
                f"(started {format_timestamp(actual)})",
            )
    return Evidence(Verdict.ALIVE, f"{who} is still running")


def psutil() -> ModuleType:
    """psutil, imported when first needed (read-only commands often never need it)."""
    import psutil as module

    return module
