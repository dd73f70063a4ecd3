"""Durable whole-file replacement: a reader sees the old file or the new one, never a mix.

Protocol for :func:`atomic_write`:

1. ``mkstemp`` in the target's own folder (same file system, so the rename is atomic;
   unpredictable name, ``O_EXCL``, never through a planted symlink), mode forced to 0600;
2. write every byte (``os.write`` may write less than asked, so loop);
3. ``fsync`` the temp file, then close it;
4. ``os.replace`` it over the target;
5. ``fsync`` the folder, so the rename itself survives a power loss.

Any ``OSError`` before step 4 removes the temp file, leaves the target untouched and raises
:class:`~mzt.support.errors.StateWriteError` naming the path, the errno and the step. An ``fsync``
that failed is never retried on the same descriptor: after such an error the kernel may have
dropped the dirty pages and a second ``fsync`` would report a success that never happened.
A failure of the folder ``fsync`` (step 5) is raised too, with ``replaced=True``: the new
file is visible but its durability is unknown.

Every system call goes through :data:`SYSCALLS` so tests can make the k-th call fail, or
kill the process right after it, without touching the real ``os`` module.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from mzt.support.errors import StateWriteError

TEMP_SUFFIX = ".tmp"


class Syscalls:
    """The system calls the durable write paths make, gathered in one replaceable place."""

    def __init__(self) -> None:
        self.mkstemp: Callable[..., tuple[int, str]] = _mkstemp
        self.open: Callable[..., int] = os.open
        self.write: Callable[[int, Any], int] = os.write
        self.fsync: Callable[[int], None] = os.fsync
        self.close: Callable[[int], None] = os.close
        self.replace: Callable[[Any, Any], None] = os.replace
        self.ftruncate: Callable[[int, int], None] = os.ftruncate
        self.fchmod: Callable[[int, int], None] = os.fchmod
        self.unlink: Callable[[Any], None] = os.unlink


def _mkstemp(*, dir: str | Path, prefix: str, suffix: str) -> tuple[int, str]:
    """What ``tempfile.mkstemp`` does (a fresh name, created exclusively, 0600, not
    inherited), without importing `tempfile` and `random` into every process that writes
    one file, such as an attempt on a Slurm node."""
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    folder = os.path.abspath(dir)  # noqa: PTH100 (a str path, as mkstemp returns)
    for _ in range(100):
        name = f"{folder}/{prefix}{os.urandom(6).hex()}{suffix}"
        try:
            return os.open(name, flags, 0o600), name
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no unused temporary file name", folder)


SYSCALLS = Syscalls()


def errno_name(exc: OSError) -> str:
    """``ENOSPC`` for an ``OSError`` carrying errno 28; ``EUNKNOWN`` when it has none."""
    if exc.errno is None:
        return "EUNKNOWN"
    return errno.errorcode.get(exc.errno, str(exc.errno))


def write_error(path: Path, exc: OSError, step: str, *, replaced: bool = False) -> StateWriteError:
    """The typed error for ``exc`` raised while doing ``step`` on ``path``."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    return StateWriteError(str(path), errno_name(exc), reason, step, replaced=replaced)


def temp_prefix(target: Path) -> str:
    """Prefix of the temp files written for ``target``: hidden and tied to its name."""
    return f".{target.name}."


def write_all(fd: int, data: bytes) -> None:
    """Write every byte of ``data`` to ``fd``, looping over short writes."""
    view = memoryview(data)
    while view:
        written = SYSCALLS.write(fd, view)
        if written <= 0:
            # A zero-byte write on a regular file means the device took nothing; treat it
            # as the disk-full it almost always is rather than spinning.
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        view = view[written:]


def fsync_dir(folder: Path) -> None:
    """Make the folder's entries (a rename, a new file) durable."""
    dfd = SYSCALLS.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        SYSCALLS.fsync(dfd)
    finally:
        SYSCALLS.close(dfd)


def atomic_write(
    path: Path, data: bytes | Iterable[bytes], *, mode: int = 0o600, durable: bool = True
) -> None:
    """Replace ``path`` with ``data`` durably and atomically (see the module docstring).

    ``data`` may be pieces, written in turn (a big snapshot need never be one object).
    ``durable=False`` keeps the atomic replace but skips both fsyncs: readers never see
    a partial file and a crash of this process loses nothing, but a power loss may.
    """
    folder = path.parent
    step = "create temp file"
    fd: int | None = None
    tmp: str | None = None
    try:
        fd, tmp = SYSCALLS.mkstemp(dir=folder, prefix=temp_prefix(path), suffix=TEMP_SUFFIX)
        step = "chmod temp file"
        SYSCALLS.fchmod(fd, mode)
        step = "write"
        for piece in (data,) if isinstance(data, bytes | bytearray) else data:
            write_all(fd, piece)
        step = "fsync"
        if durable:
            SYSCALLS.fsync(fd)
        step = "close"
        # The descriptor is gone after close() even when it reports an error, so forget it
        # first: closing it again could close an unrelated descriptor another thread opened.
        closing, fd = fd, None
        SYSCALLS.close(closing)
        step = "rename"
        SYSCALLS.replace(tmp, path)
        tmp = None
    except BaseException as exc:
        if fd is not None:
            _quietly(SYSCALLS.close, fd)
        if tmp is not None:
            _quietly(SYSCALLS.unlink, tmp)
        if isinstance(exc, OSError):
            raise write_error(path, exc, step) from exc
        raise
    if not durable:
        return
    try:
        fsync_dir(folder)
    except OSError as exc:
        raise write_error(path, exc, "folder fsync", replaced=True) from exc


def remove_temp_files(target: Path) -> list[Path]:
    """Delete temp files a crashed :func:`atomic_write` of ``target`` left behind.

    Only the process that owns ``target`` (the run-lock holder for a checkpoint) may call
    this: a temp file of a write in progress elsewhere would otherwise vanish under it.
    """
    removed: list[Path] = []
    prefix = temp_prefix(target)
    try:
        entries = list(target.parent.iterdir())
    except OSError:
        return removed
    for entry in entries:
        if entry.name.startswith(prefix) and entry.name.endswith(TEMP_SUFFIX):
            try:
                entry.unlink()
            except FileNotFoundError:
                continue
            removed.append(entry)
    return removed


def _quietly(func: Callable[[Any], object], arg: Any) -> None:
    """Best-effort cleanup: the original error is the one worth reporting."""
    with contextlib.suppress(OSError):
        func(arg)
