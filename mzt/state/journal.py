"""The append-only history file ``<job>.history.jsonl``: one JSON object per line.

It is both the job's execution history (attempts, validation results, retries, waits,
pause/cancel/resume) and the journal of sheet transitions that the checkpoint snapshot has
not absorbed yet. Rules:

* Only the run-lock holder appends. Each line is written whole, ending in ``\\n``, and
  ``fsync``-ed before the append returns, or soon after it by a background thread for
  the lines of finished attempts (see `mzt.state.syncer`); a failed append is cut off
  again (best effort) and its descriptor dropped, never ``fsync``-ed twice.
* A line without its ``\\n`` is a torn write (crash or power loss mid-append): readers
  ignore it, and the next writer cuts it off before appending, so a later line can never
  be glued onto a fragment.
* Readers need no lock: they read up to the last ``\\n`` they see.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import msgspec

from mzt.state.atomic import SYSCALLS, fsync_dir, write_all, write_error
from mzt.state.syncer import Syncer
from mzt.support.fsutil import not_regular_error

# True: fsync-ed before the append returns; "soon": by the background thread; False: by
# whatever durable write comes next.
Durability = bool | Literal["soon"]
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
_TAIL_PROBE = 1 << 16
_DECODER = msgspec.json.Decoder()


# A struct, not a dataclass: see mzt.state.liveness.ProcessIdentity.
class JournalLine(msgspec.Struct, frozen=True):
    """One complete line: where it starts, and its JSON object (``None`` if unparsable)."""

    offset: int
    record: dict[str, Any] | None


class Journal:
    """Appends to one job's history file, keeping its descriptor open between appends."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._size = 0
        self._repaired = 0
        self._syncer = Syncer(lambda fd: SYSCALLS.fsync(fd), "mzt-journal-sync")
        self._failure_told = False

    @property
    def size(self) -> int:
        """Bytes in the file as this writer knows them (0 when it does not exist)."""
        if self._fd is not None:
            return self._size
        try:
            return self.path.lstat().st_size
        except FileNotFoundError:
            return 0

    def append(self, text: str, *, durable: Durability = True) -> int:
        """Append ``text`` as one line; returns the byte offset where it starts.

        ``durable=False`` skips the fsync: the line is visible to readers at once and
        survives a crash of this process, and the next durable append (or snapshot)
        makes it survive a power loss too. Use it only for lines whose loss on power
        failure changes nothing that matters. ``"soon"`` leaves the fsync to the
        background thread; `sync` (which snapshots and `close` call) waits for it.
        """
        data = text.encode("utf-8") + b"\n"
        if durable is True:
            self.sync()  # its failure must not be hidden by an fsync that "succeeds" now
        else:
            self._refuse_after_failure()
        fd = self._open()
        start = self._size
        step = "write"
        try:
            write_all(fd, data)
            step = "fsync"
            if durable is True:
                SYSCALLS.fsync(fd)
        except OSError as exc:
            self._abandon(fd, start)
            raise write_error(self.path, exc, step) from exc
        self._size = start + len(data)
        if durable == "soon":
            self._syncer.ask(fd)
        return start

    def sync(self) -> None:
        """Wait until every line appended is on disk; raises if a background fsync failed."""
        self._raise_failure(self._syncer.wait())

    def _refuse_after_failure(self) -> None:
        self._raise_failure(self._syncer.failure)

    def _raise_failure(self, failure: OSError | None) -> None:
        if failure is not None:
            self._failure_told = True
            raise write_error(self.path, failure, "fsync")

    def repair(self) -> int:
        """Cut off a torn last line left by a crash; returns the bytes removed.

        Opening the file for appending does this anyway; calling it early just makes the
        repair happen at start-up rather than at the first append.
        """
        if self._fd is not None or not self.path.exists():
            return 0
        self._open()
        return self._repaired

    def close(self) -> None:
        """Wait for the background fsync, close the descriptor (the next append reopens
        it); raises if that fsync failed."""
        failure = self._syncer.stop()
        if self._fd is not None:
            fd, self._fd = self._fd, None
            with contextlib.suppress(OSError):
                SYSCALLS.close(fd)
        if not self._failure_told:  # once is enough: the run already stopped on it
            self._raise_failure(failure)

    def _open(self) -> int:
        if self._fd is not None:
            return self._fd
        flags = os.O_RDWR | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC
        step = "open"
        fd: int | None = None
        try:
            try:
                fd = SYSCALLS.open(self.path, flags | os.O_CREAT | os.O_EXCL, 0o600)
                created = True
            except FileExistsError:
                fd = SYSCALLS.open(self.path, flags)
                created = False
            if created:
                step = "chmod"
                SYSCALLS.fchmod(fd, 0o600)
                step = "folder fsync"
                fsync_dir(self.path.parent)  # the new file's name must survive a power loss
            elif not stat.S_ISREG(os.fstat(fd).st_mode):
                raise not_regular_error(self.path, os.fstat(fd).st_mode)
            step = "repair torn tail"
            self._size, self._repaired = _cut_torn_tail(fd)
        except OSError as exc:
            if fd is not None:
                _close_quietly(fd)
            raise write_error(self.path, exc, step) from exc
        self._fd = fd
        return fd

    def _abandon(self, fd: int, size: int) -> None:
        """After a failed append: remove what may have been written, drop the descriptor."""
        self._syncer.wait()  # it may be using the descriptor
        # If even this fails, the fragment is either torn (readers skip it) or complete.
        with contextlib.suppress(OSError):
            SYSCALLS.ftruncate(fd, size)
        self._fd = None
        _close_quietly(fd)


def _cut_torn_tail(fd: int) -> tuple[int, int]:
    """Truncate ``fd`` after its last intact line; returns ``(new size, bytes removed)``.

    Removes a fragment without a newline and, before it, complete lines that do not parse
    (a power loss can leave zeros or garbage where unsynced lines were going to be). Only
    the last ``_TAIL_PROBE`` bytes are checked for such lines; an intact line ends the walk.
    """
    size = os.fstat(fd).st_size
    keep = _end_of_last_line(fd, size)
    start = max(0, keep - _TAIL_PROBE)
    window = os.pread(fd, keep - start, start)
    end = len(window)  # window[:end] always ends just after a newline (or is empty)
    while end > 0:
        previous = window.rfind(b"\n", 0, end - 1)
        if previous < 0 and start > 0:
            break  # this line begins before the window: leave it alone
        if _parse(window[previous + 1 : end - 1]) is not None:
            break
        end = previous + 1
    keep = start + end
    if keep != size:
        SYSCALLS.ftruncate(fd, keep)
        SYSCALLS.fsync(fd)
    return keep, size - keep


def _end_of_last_line(fd: int, size: int) -> int:
    """Offset just after the last newline in the file (0 when there is none)."""
    end = size
    while end > 0:
        start = max(0, end - _TAIL_PROBE)
        newline = os.pread(fd, end - start, start).rfind(b"\n")
        if newline >= 0:
            return start + newline + 1
        end = start
    return 0


def _close_quietly(fd: int) -> None:
    with contextlib.suppress(OSError):
        SYSCALLS.close(fd)


def read_lines(path: Path, offset: int = 0) -> tuple[list[JournalLine], int]:
    """Complete lines of the history file from ``offset``, and where reading really began.

    An ``offset`` that is past the end, or does not start a line, is ignored and the file
    is read from its beginning (callers filter by ``seq`` anyway). A missing file has no
    lines. The last line is ignored when it has no newline yet.
    """
    lines, start, _ = read_lines_to(path, offset)
    return lines, start


def read_lines_to(path: Path, offset: int = 0) -> tuple[list[JournalLine], int, int]:
    """:func:`read_lines`, plus the offset just after the last complete line read."""
    try:
        fd = os.open(path, _READ_FLAGS)
    except FileNotFoundError:
        return [], offset, offset
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise not_regular_error(path, st.st_mode)
        if offset < 0 or offset > st.st_size:
            offset = 0
        if offset > 0 and os.pread(fd, 1, offset - 1) != b"\n":
            offset = 0
        data = _read_from(fd, offset)
    finally:
        os.close(fd)
    return list(_split(data, offset)), offset, offset + data.rfind(b"\n") + 1


def _read_from(fd: int, offset: int) -> bytes:
    chunks: list[bytes] = []
    position = offset
    while True:
        chunk = os.pread(fd, 1 << 20, position)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        position += len(chunk)


def _split(data: bytes, base: int) -> Iterator[JournalLine]:
    start = 0
    while True:
        end = data.find(b"\n", start)
        if end < 0:
            return  # no newline: a torn or still-being-written last line
        yield JournalLine(base + start, _parse(data[start:end]))
        start = end + 1


def _parse(raw: bytes) -> dict[str, Any] | None:
    try:
        record = _DECODER.decode(raw)
    except (msgspec.DecodeError, RecursionError):
        return None
    return record if isinstance(record, dict) else None
