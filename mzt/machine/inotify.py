"""Linux inotify through the C library: a thread blocks in the kernel until a file changes.

The slot watcher needs two things a polling file-event library does not give: no work
at all while nothing changes (a waiting run may wait for hours, and dozens of runs may
wait at once), and the event the moment it happens (a turn handed to another run is an
idle slot until that run hears of it). A read of an inotify descriptor does both; the
reading thread sleeps in ``select`` without the interpreter lock.

Only what the slot watcher asks for is here: watch folders for a mask of events, read
batches of (mask, name), stop from another thread through a pipe. Anything that goes
wrong (no inotify on this system, the user's watch limit reached) raises ``OSError``,
and the caller falls back to polling.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import select
import struct
import threading
from collections.abc import Iterable

IN_MODIFY = 0x00000002
IN_CLOSE_WRITE = 0x00000008
IN_MOVED_FROM = 0x00000040
IN_DELETE = 0x00000200
IN_ONLYDIR = 0x01000000
IN_Q_OVERFLOW = 0x00004000  # events were lost: the reader must look for itself

_HEADER = struct.Struct("iIII")  # wd, mask, cookie, length of the name that follows
_BUFFER = 64 * 1024


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


class Inotify:
    """One inotify instance watching some folders, read by one thread."""

    def __init__(self, folders: Iterable[str], mask: int) -> None:
        libc = _libc()
        fd = libc.inotify_init1(os.O_CLOEXEC | os.O_NONBLOCK)
        if fd < 0:
            number = ctypes.get_errno()
            raise OSError(number, f"inotify_init1: {os.strerror(number)}")
        self.fd = fd
        self.stop_read, self.stop_write = os.pipe()  # not inherited: os.pipe is O_CLOEXEC
        # `stop` comes from another thread than `close`: never a write to a descriptor
        # number closed here and perhaps reused by then for another file.
        self.lock = threading.Lock()
        self.closed = False
        self.folders: dict[int, str] = {}  # watch descriptor -> folder
        try:
            for folder in folders:
                wd = libc.inotify_add_watch(fd, os.fsencode(folder), mask | IN_ONLYDIR)
                if wd < 0:
                    number = ctypes.get_errno()
                    raise OSError(number, f"inotify_add_watch {folder}: {os.strerror(number)}")
                self.folders[wd] = folder
        except BaseException:
            self.close()
            raise

    def read(self) -> list[tuple[int, str]] | None:
        """The next batch of (mask, path), waiting as long as it takes; None once stopped."""
        ready, _, _ = select.select([self.fd, self.stop_read], [], [])
        if self.stop_read in ready:
            return None
        try:
            data = os.read(self.fd, _BUFFER)
        except BlockingIOError:
            return []
        events = []
        offset = 0
        while offset + _HEADER.size <= len(data):
            wd, mask, _, length = _HEADER.unpack_from(data, offset)
            offset += _HEADER.size
            name = data[offset : offset + length].rstrip(b"\0").decode(errors="replace")
            offset += length
            events.append((mask, f"{self.folders.get(wd, '')}/{name}"))
        return events

    def stop(self) -> None:
        """Make a `read` in progress (or the next one) return None; safe from any thread."""
        with self.lock:
            if not self.closed:
                with contextlib.suppress(OSError):
                    os.write(self.stop_write, b"x")

    def close(self) -> None:
        """Close the descriptors (by the reading thread, once its reads are over)."""
        with self.lock:
            if self.closed:
                return
            self.closed = True
            for fd in (self.fd, self.stop_read, self.stop_write):
                with contextlib.suppress(OSError):
                    os.close(fd)
