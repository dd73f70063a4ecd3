"""The run lock ``<job>.lock``: one live process per job, and the truth about liveness.

The lock is a kernel ``flock`` taken on a dedicated file (mode 0600, never through a
symlink). The kernel drops it when its process dies, however it dies, so
"can the lock be taken?" answers "is the job running?" without trusting pids. Rules:

* acquisition never waits for a live holder: it retries only for a fraction of a second
  (a reader's probe may hold a shared lock for a few microseconds), then fails with
  :class:`~mzt.support.errors.JobLockedError` naming the holder;
* there is no fallback to a marker-file lock: a file system without ``flock`` is an error;
* the descriptor is not inheritable, so an instrument's surviving grandchild can never keep
  a dead run's lock;
* the lock file is never deleted (deleting it would let two processes lock two inodes).

While holding the lock, the holder writes its identity (pid, process start time, host,
boot id) into the lock file, so "already running" messages name the real holder even
before its first checkpoint; the state's ``writer`` block is the fallback.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import time
from enum import StrEnum
from pathlib import Path
from types import TracebackType

import msgspec

from mzt.state.liveness import ProcessIdentity, Verdict, current_identity, examine
from mzt.state.lockprobe import HELD_GUARD, HELD_LOCKS, PROBE_FLAGS, LockProbe, probe_lock
from mzt.support.errors import JobLockedError, LockFileError
from mzt.support.fsutil import ensure_private_dir

ACQUIRE_GRACE_SECONDS = 0.25
_POLL_SECONDS = 0.02
SETTLE_SECONDS = ACQUIRE_GRACE_SECONDS
_SETTLE_POLL_SECONDS = 0.002
# Not inheritable (an instrument's grandchild must never keep a dead run's lock), never
# through a symlink, never blocking on a FIFO put in its place.
_OPEN_FLAGS = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_HOLDER_MAX_BYTES = 4096


def read_holder(lock_path: Path, state_path: Path | None = None) -> ProcessIdentity | None:
    """The recorded holder: the lock file's record, else the checkpoint's ``writer``."""
    import json  # only a held lock is read: `mzt status` of a finished job never asks

    for path, key in ((lock_path, None), (state_path, "writer")):
        if path is None:
            continue
        try:
            fd = os.open(path, PROBE_FLAGS)
        except OSError:
            continue
        try:
            raw = os.read(fd, _HOLDER_MAX_BYTES) if key is None else _read_all(fd)
        except OSError:
            continue
        finally:
            os.close(fd)
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):
            continue
        record = data.get(key) if key and isinstance(data, dict) else data
        identity = ProcessIdentity.from_dict(record)
        if identity is not None:
            return identity
    return None


def settled_probe(lock_path: Path, probe: LockProbe | None = None) -> LockProbe:
    """`probe_lock` (or the ``probe`` it just gave), with a lock held only by a dead run's
    last child looked at again.

    A run killed while it spawns a child leaves that child, between its fork and its exec,
    with a copy of the lock's descriptor: the lock stays held for the moment the child
    takes to exec (microseconds; longer on a loaded machine) although its recorded holder,
    on this host, is provably gone. Such a lock is probed again for up to
    `SETTLE_SECONDS`, so views do not call a killed run alive; a lock whose recorded
    holder lives, or ran on another host, is held at once.
    """
    if probe is None:
        probe = probe_lock(lock_path)
    deadline = time.monotonic() + SETTLE_SECONDS
    while probe == LockProbe.HELD_ELSEWHERE and time.monotonic() < deadline:
        # Read again each round: a new run may have taken the lock and written itself in.
        holder = read_holder(lock_path)
        if holder is None or examine(holder).verdict != Verdict.DEAD:
            break
        time.sleep(_SETTLE_POLL_SECONDS)
        probe = probe_lock(lock_path)
    return probe


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


class RunLock:
    """Exclusive run lock of one job; use as a context manager or acquire/release."""

    def __init__(
        self,
        path: Path,
        *,
        job_id: str,
        state_path: Path | None = None,
        grace: float = ACQUIRE_GRACE_SECONDS,
    ) -> None:
        self.path = path
        self.job_id = job_id
        self.state_path = state_path
        self.grace = grace
        self._fd: int | None = None
        self._key: tuple[int, int] | None = None

    @property
    def held(self) -> bool:
        """Whether this object currently holds the lock."""
        return self._fd is not None

    def acquire(self) -> RunLock:
        """Take the lock or raise :class:`JobLockedError` naming the current holder."""
        if self.held:
            return self
        ensure_private_dir(self.path.parent)
        try:
            fd = self._take()
        except OSError as exc:
            name = errno.errorcode.get(exc.errno or 0, "EUNKNOWN")
            reason = exc.strerror or str(exc)
            if exc.errno in (errno.ENOSYS, errno.ENOLCK, errno.EOPNOTSUPP):
                reason = "this file system does not support kernel locks (flock)"
            raise LockFileError(str(self.path), name, reason) from exc
        if fd is None:
            holder = read_holder(self.path, self.state_path)
            raise JobLockedError(
                self.job_id, str(self.path), holder.describe() if holder else None
            ) from None
        try:
            self._on_acquired(fd)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        try:
            st = self.path.lstat()
        except FileNotFoundError:
            st = None
        if st is None or (st.st_dev, st.st_ino) != self._key:
            # The file was deleted (`mzt clear`) or replaced while we took it: the lock we
            # hold is on an orphaned inode that no other process will ever look at.
            self.release()
            return self.acquire()
        return self

    def release(self) -> None:
        """Drop the lock (a no-op when not held)."""
        fd, self._fd = self._fd, None
        if self._key is not None:
            with HELD_GUARD:
                HELD_LOCKS.discard(self._key)
            self._key = None
        if fd is not None:
            os.close(fd)  # the kernel drops the lock with its last descriptor

    def _take(self) -> int | None:
        """The locked descriptor; None when a live holder kept it for the whole grace."""
        fd = os.open(self.path, _OPEN_FLAGS, 0o600)
        deadline = time.monotonic() + self.grace
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):  # a FIFO or device put in its place
                raise OSError(errno.EINVAL, "not a regular file")
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return fd
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        os.close(fd)
                        return None
                    time.sleep(_POLL_SECONDS)
        except BaseException:
            os.close(fd)
            raise

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    def _on_acquired(self, fd: int) -> None:
        st = os.fstat(fd)
        if st.st_uid == os.geteuid() and st.st_mode & 0o777 != 0o600:
            os.fchmod(fd, 0o600)  # an older file may have been created with a wider mode
        import json  # see read_holder

        record = json.dumps(current_identity().to_dict()).encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, record, 0)
        self._key = (st.st_dev, st.st_ino)
        with HELD_GUARD:
            HELD_LOCKS.add(self._key)


class LiveVerdict(StrEnum):
    """Liveness of a job as read commands report it."""

    ALIVE = "alive"  # the run lock is held: a process is running the job
    DEAD = "dead"  # the state says running but nobody holds the lock: a zombie
    FOREIGN = "foreign"  # the state was written on another host: cannot be judged here
    IDLE = "idle"  # not running, and nobody holds the lock


# A struct, not a dataclass: see mzt.state.liveness.ProcessIdentity.
class JobLiveness(msgspec.Struct, frozen=True):
    """Verdict on a job, the recorded holder, and the sentence that explains it."""

    verdict: LiveVerdict
    holder: ProcessIdentity | None
    reason: str

    @property
    def alive(self) -> bool | None:
        """``True``/``False``, or ``None`` when it cannot be known from this host."""
        if self.verdict == LiveVerdict.FOREIGN:
            return None
        return self.verdict == LiveVerdict.ALIVE


def job_liveness(lock_path: Path, *, running: bool, writer: ProcessIdentity | None) -> JobLiveness:
    """Judge a job from its run lock first and its recorded ``writer`` second.

    ``running`` is whether the state says the job is running. A free lock under a running
    state means the run died; the pid evidence only explains how. When this process holds
    the lock itself, a running state written by some *other* process is dead too (that is
    how a new run finds its crashed predecessor). A writer on another host is never judged.
    """
    probe = settled_probe(lock_path)
    here = current_identity()
    if probe == LockProbe.HELD_ELSEWHERE:
        holder = read_holder(lock_path) or writer
        return JobLiveness(LiveVerdict.ALIVE, holder, "the run lock is held")
    if writer is not None and writer.host != here.host and running:
        return JobLiveness(LiveVerdict.FOREIGN, writer, examine(writer, here).reason)
    if probe == LockProbe.HELD_HERE:
        if writer is None or _same_process(writer, here) or not running:
            return JobLiveness(LiveVerdict.ALIVE, here, "this process holds the run lock")
        return JobLiveness(
            LiveVerdict.DEAD,
            writer,
            f"this process holds the run lock, so the recorded writer is gone "
            f"({examine(writer, here).reason})",
        )
    if not running:
        return JobLiveness(LiveVerdict.IDLE, writer, "not running")
    evidence = examine(writer, here)
    if evidence.verdict == Verdict.ALIVE:
        reason = f"the run lock is free; {evidence.reason} but does not hold it (pid reused?)"
    else:
        reason = f"the run lock is free; {evidence.reason}"
    return JobLiveness(LiveVerdict.DEAD, writer, reason)


def _same_process(a: ProcessIdentity, b: ProcessIdentity) -> bool:
    if a.pid != b.pid or a.host != b.host:
        return False
    if a.start_time is None or b.start_time is None:
        return True
    return abs(a.start_time - b.start_time) <= 1.0
