"""Machine-wide slots: how many attempts of every run on this machine may run at once.

A limit is a name (``sheets``, ``jobs``, ``instrument-<name>``, ``model-<name>``) and a
capacity N. Its slots are the files ``$MZT_HOME/slots/<limit>/<i>.lock`` for i in 0..N-1
(folders 0700, files 0600; the name made safe as a job id is). A slot is held by an
exclusive ``flock`` on its file, taken without waiting: the kernel drops it when the
holder's descriptor closes or the holder dies, kill -9 included, so a slot never leaks and
nothing ever needs cleaning. The descriptor is opened ``O_CLOEXEC``: an agent the holder
starts never inherits it, and a child that outlives its parent holds nothing.

The holder writes who it is into the file it holds (job, workspace, sheet, instrument,
pid, process start time, since) so that a reader can say "4/4 held by jobs a, b". A file
whose lock is free is a free slot whatever record it still holds (a holder killed before
its release leaves one): only the lock says who holds a slot, never the text.

Decisions:

- No free slot: :func:`take` returns None at once and the caller waits (polling or on
  file events) and tries again; it never blocks in the kernel, so pause, cancel and
  signals keep working while a run waits.
- A set of limits (one attempt's overall, instrument and model slots) is taken all or
  nothing by :func:`take_all`, in the order of the limits' names, the same in every
  process; when one limit is full, the slots already taken are released before it
  returns None, so a waiting run holds nothing that others could use.
- A capacity lowered while slots above it are held: slots at or above the new capacity
  are never taken again, and their holders keep them until they release them. Readers
  count them (``5/4 held``) until then, so the machine is over its limit only for as
  long as attempts already running take to end.
- Odd files: a slot file that is a folder, a FIFO, a socket or a symlink, or a slots
  folder that is a symlink or a file, is never followed, opened for waiting or skipped
  silently (skipping would shrink the capacity unseen, down to a run waiting forever):
  taking a slot raises :class:`SlotFileError` or :class:`~mzt.support.errors.FolderError`
  naming the path (exit 5). Readers (:mod:`mzt.machine.slot_use`) never raise: they
  report the odd slot as a problem.
- A reader's probe takes a shared lock for an instant on a fresh descriptor; a taker
  that meets it in that instant counts that slot as busy for that one try, and so waits
  one more turn at worst. Holders are never disturbed.
"""

from __future__ import annotations

import errno
import fcntl
import functools
import json
import os
import stat
import time
from collections.abc import Iterable
from pathlib import Path

from mzt.support import paths, procinfo, records
from mzt.support.errors import FolderError, MztError
from mzt.support.exitcodes import ExitCode
from mzt.support.fsutil import ensure_private_dir, kind_of, open_nofollow

# O_NONBLOCK: opening a FIFO planted at a slot path must not wait for a writer.
_SLOT_FLAGS = os.O_RDWR | os.O_NONBLOCK
_TAKE = fcntl.LOCK_EX | fcntl.LOCK_NB
CONTENDED = frozenset({errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES})
RECORD_MAX_BYTES = 4096
SUFFIX = ".lock"


class SlotFileError(MztError):
    """A slot file cannot be used: something other than a plain file is at its path."""

    exit_code = ExitCode.STATE
    code = "SLOT_FILE"

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        super().__init__(
            f"Cannot use the slot {path}: {reason}",
            hint=(
                "Slot files are plain files mzt creates under $MZT_HOME/slots/; move aside "
                "whatever is at that path (it holds nothing a run needs)."
            ),
        )


@records.record(frozen=True, slots=True)
class Holder:
    """Who takes a slot: written into each slot file it holds, for readers."""

    job_id: str
    workspace: str
    sheet: int | None = None
    instrument: str = ""

    def encode(self) -> bytes:
        """The one-line JSON record, with this process's identity and the time now."""
        from mzt.support.redact import redact

        pid, started = _identity()
        document = {
            "job_id": self.job_id,
            "workspace": redact(self.workspace),
            "sheet": self.sheet,
            "instrument": redact(self.instrument),
            "pid": pid,
            "start_time": started,  # clock ticks after boot: the pid alone may be reused
            "since": round(time.time(), 3),
        }
        data = (json.dumps(document, separators=(",", ":")) + "\n").encode()
        return data[:RECORD_MAX_BYTES]


_IDENTITY: tuple[int, int | None] = (0, None)


def _identity() -> tuple[int, int | None]:
    """(pid, start time) of this process, read from /proc once per process."""
    global _IDENTITY  # a fork gets a new pid: the pid itself is the key
    pid = os.getpid()
    if _IDENTITY[0] != pid:
        found = procinfo.read_stat(pid)
        _IDENTITY = (pid, found.start_time if found else None)
    return _IDENTITY


class Slot:
    """One slot held by this process until :meth:`release` (or until it dies)."""

    __slots__ = ("fd", "index", "limit", "path")

    def __init__(self, limit: str, index: int, path: str, fd: int) -> None:
        self.limit = limit
        self.index = index
        self.path = path
        self.fd = fd

    @property
    def held(self) -> bool:
        return self.fd >= 0

    def release(self) -> None:
        """Empty the record and close: the kernel frees the lock with the descriptor."""
        fd, self.fd = self.fd, -1
        if fd < 0:
            return
        try:
            os.ftruncate(fd, 0)
        except OSError:
            pass  # a stale record is harmless: readers believe the lock, not the text
        finally:
            os.close(fd)

    def __repr__(self) -> str:
        return f"Slot({self.limit!r}, {self.index}, held={self.held})"


class SlotSet:
    """The slots of one attempt, taken together and released together."""

    __slots__ = ("slots",)

    def __init__(self, slots: tuple[Slot, ...]) -> None:
        self.slots = slots

    def release(self) -> None:
        for slot in reversed(self.slots):
            slot.release()

    def __enter__(self) -> SlotSet:
        return self

    def __exit__(self, *_: object) -> None:
        self.release()


def take(limit: str, capacity: int, holder: Holder, *, home: Path | None = None) -> Slot | None:
    """A free slot of ``limit``, held from now on; None when all ``capacity`` are held.

    Raises :class:`SlotFileError` or :class:`~mzt.support.errors.FolderError` (exit 5)
    when an odd file is in the way (see the module's notes).
    """
    _check_capacity(limit, capacity)
    return _take(limit, capacity, limit_folder(limit, home), holder.encode())


def take_all(
    limits: Iterable[tuple[str, int]], holder: Holder, *, home: Path | None = None
) -> SlotSet | None:
    """A slot of every limit, or none at all: None (holding nothing) when one is full.

    A limit named twice (or two names that are made safe alike) counts once, with the
    smaller capacity: they are one folder of slots.
    """
    wanted: dict[str, tuple[str, int]] = {}
    for name, capacity in limits:
        _check_capacity(name, capacity)
        key = paths.slot_limit_name(name)
        if key not in wanted or capacity < wanted[key][1]:
            wanted[key] = (name, capacity)
    record = holder.encode()
    taken: list[Slot] = []
    try:
        for key in sorted(wanted):  # one order in every process
            name, capacity = wanted[key]
            slot = _take(name, capacity, limit_folder(name, home), record)
            if slot is None:
                for held in reversed(taken):
                    held.release()
                return None
            taken.append(slot)
    except BaseException:
        for held in reversed(taken):
            held.release()
        raise
    return SlotSet(tuple(taken))


def _check_capacity(limit: str, capacity: int) -> None:
    # The machine configuration refuses these; a caller passing them is a bug, not input.
    if capacity < 1:
        raise ValueError(f"limit {limit!r}: capacity must be at least 1, not {capacity}")
    if not paths.slot_limit_name(limit):
        raise ValueError(f"limit {limit!r}: the name has no usable character")


def _take(limit: str, capacity: int, folder: str, record: bytes) -> Slot | None:
    for index in range(capacity):
        path = f"{folder}/{index}{SUFFIX}"
        fd, size = _open_slot(path)
        try:
            fcntl.flock(fd, _TAKE)
        except OSError as exc:
            os.close(fd)
            if exc.errno in CONTENDED:
                continue
            reason = f"it cannot be locked: {exc.strerror} ({errno_name(exc)})"
            raise SlotFileError(path, reason) from exc
        try:
            os.pwrite(fd, record, 0)
            if size > len(record):  # a longer record left by a holder that was killed
                os.ftruncate(fd, len(record))
        except OSError:
            pass  # the lock is what holds the slot; a reader shows "holder unknown"
        return Slot(limit, index, path, fd)
    return None


def _open_slot(path: str) -> tuple[int, int]:
    """A descriptor of the slot file (created 0600 if missing), never inherited; its size.

    The file is opened as :func:`~mzt.support.fsutil.open_nofollow` opens an existing
    file, without building a ``Path``: this runs for every slot tried at every attempt.
    """
    try:
        try:
            fd = os.open(path, _SLOT_FLAGS | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            fd = open_nofollow(Path(path), _SLOT_FLAGS | os.O_CREAT)
    except OSError as exc:
        raise SlotFileError(path, odd_reason(path, exc)) from exc
    try:
        found = os.fstat(fd)
    except OSError as exc:
        os.close(fd)
        raise SlotFileError(path, odd_reason(path, exc)) from exc
    if not stat.S_ISREG(found.st_mode):
        os.close(fd)
        raise SlotFileError(path, f"it is {kind_of(Path(path), found.st_mode)}, not a plain file")
    return fd, found.st_size


def odd_reason(path: str, exc: OSError) -> str:
    if exc.errno in (errno.ELOOP, errno.EISDIR, errno.ENXIO, errno.EOPNOTSUPP):
        return f"it is {kind_of(Path(path))}, not a plain file"
    return f"{exc.strerror or exc} ({errno_name(exc)})"


def errno_name(exc: OSError) -> str:
    return errno.errorcode.get(exc.errno or 0, "EUNKNOWN")


def limit_folder(limit: str, home: Path | None) -> str:
    """The limit's folder, made 0700 if missing; neither it nor ``slots/`` may be a link.

    Checked at every take (two lstat calls): a symlink put there later must not lead the
    slot files elsewhere, and ``O_NOFOLLOW`` guards only the last part of a path.
    """
    parent, folder = _folder_names(limit, str(home) if home else os.environ.get("MZT_HOME"))
    for path in (parent, folder):
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            ensure_private_dir(Path(folder))
            continue
        except OSError as exc:
            raise FolderError(path, errno_name(exc), exc.strerror or str(exc)) from exc
        if not stat.S_ISDIR(mode):
            what = f"it is {kind_of(Path(path), mode)}, not a folder"
            raise FolderError(path, "ENOTDIR", what, blocker=path)
    return folder


def limit_folder_name(limit: str, home: Path | None) -> str:
    """The limit's folder as a string, neither made nor checked (for a quick listing)."""
    return _folder_names(limit, str(home) if home else os.environ.get("MZT_HOME"))[1]


@functools.lru_cache(maxsize=64)
def _folder_names(limit: str, home: str | None) -> tuple[str, str]:
    # Keyed on MZT_HOME's value, which `mzt_home` reads (HOME does not change in a run).
    folder = paths.slot_limit_dir(limit, Path(home) if home else None)
    return str(folder.parent), str(folder)
