"""Is a job's run lock held? The look itself, without the lock's machinery.

`mzt run` of a completed job must know only that nobody holds the lock; importing
:mod:`mzt.state.lock` (liveness, msgspec) would cost more than that
whole answer. The lock registers the locks this process holds in `HELD_LOCKS`.
"""

from __future__ import annotations

import _thread
import errno
import fcntl
import os
from enum import StrEnum
from pathlib import Path

PROBE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
_CONTENDED = frozenset({errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES})

# (st_dev, st_ino) of the lock files this process holds, so a probe from the holder itself
# can say "held here" instead of mistaking its own lock for someone else's.
HELD_LOCKS: set[tuple[int, int]] = set()
# `threading.Lock` is this very lock; importing `threading` for it costs `mzt status` time.
HELD_GUARD = _thread.allocate_lock()


class LockProbe(StrEnum):
    """What a non-destructive look at a lock file found."""

    FREE = "free"
    HELD_HERE = "held_here"  # this very process holds it
    HELD_ELSEWHERE = "held_elsewhere"


def probe_lock(path: Path) -> LockProbe:
    """Is the lock held? Never creates the file and never disturbs a holder.

    It tries a shared, non-blocking ``flock`` on a fresh read-only descriptor and drops it
    at once; a holder's exclusive lock makes that fail. Anything that prevents the check
    (a symlink planted at the lock path, an unreadable file) reports "held elsewhere", so
    doubt never leads to recovering a job that may be alive.
    """
    try:
        fd = os.open(path, PROBE_FLAGS)
    except FileNotFoundError:
        return LockProbe.FREE
    except OSError:
        return LockProbe.HELD_ELSEWHERE
    try:
        st = os.fstat(fd)
        with HELD_GUARD:
            if (st.st_dev, st.st_ino) in HELD_LOCKS:
                return LockProbe.HELD_HERE
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in _CONTENDED:
                return LockProbe.HELD_ELSEWHERE
            raise
        fcntl.flock(fd, fcntl.LOCK_UN)
        return LockProbe.FREE
    finally:
        os.close(fd)
