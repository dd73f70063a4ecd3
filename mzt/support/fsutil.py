"""Private-by-default file helpers: owner-only folders and files, opens that refuse symlinks.

Everything mzt writes about runs may contain prompts, outputs and paths, so folders are 0700
and files 0600 whatever the caller's umask says (modes are set explicitly after creation,
since a umask can only remove bits and a permissive one must not widen anything).
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from mzt.support.errors import FolderError

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
PRIVATE_UMASK = 0o077

# O_NONBLOCK keeps an open of a FIFO planted at a state path from hanging forever.
_READ_CHUNK = 1 << 20
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


def set_private_umask() -> int:
    """Make everything this process creates owner-only; returns the previous umask."""
    return os.umask(PRIVATE_UMASK)


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` and any missing parents as 0700 folders; return it.

    Folders that already exist keep their mode, except ``path`` itself when it is ours:
    mzt's own folders are tightened to 0700 in case an older run or a permissive umask
    left them wider. Anything that stops it (a file in the way, a read-only or pseudo file
    system, no permission) raises :class:`~mzt.support.errors.FolderError` naming the
    folder that could not be made.
    """
    missing: list[Path] = []
    probe = path
    while not os.path.lexists(probe):
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    current = path
    try:
        for current in reversed(missing):
            try:
                current.mkdir(mode=PRIVATE_DIR_MODE)
            except FileExistsError:
                continue  # a sibling run created it first; fine
            current.chmod(PRIVATE_DIR_MODE)
        current = path
        st = path.lstat()
        if not stat.S_ISDIR(st.st_mode):
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(path))
        if st.st_uid == os.geteuid() and stat.S_IMODE(st.st_mode) != PRIVATE_DIR_MODE:
            path.chmod(PRIVATE_DIR_MODE)
    except OSError as exc:
        raise _folder_error(current, exc) from exc
    return path


def _folder_error(folder: Path, exc: OSError) -> FolderError:
    code = errno.errorcode.get(exc.errno or 0, "EUNKNOWN")
    blocker = _blocking_entry(folder) if exc.errno == errno.ENOTDIR else None
    if blocker is None:
        return FolderError(str(folder), code, exc.strerror or str(exc))
    what = f"it is {kind_of(blocker)}" if blocker == folder else f"{blocker} is {kind_of(blocker)}"
    return FolderError(str(folder), code, f"{what}, not a folder", blocker=str(blocker))


def _blocking_entry(path: Path) -> Path | None:
    """The nearest of ``path`` (a symlink counts) and its parents that is there but no folder."""
    for probe in (path, *path.parents):
        try:
            st = probe.lstat() if probe == path else probe.stat()
        except OSError:
            continue
        return None if stat.S_ISDIR(st.st_mode) else probe
    return None


_KINDS = (
    (stat.S_ISREG, "a regular file"),
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISLNK, "a symlink"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def kind_of(path: Path, mode: int | None = None) -> str:
    """``a FIFO``, ``a folder``, ``a symlink``...: what is at ``path`` (not following it)."""
    if mode is None:
        try:
            mode = os.lstat(path).st_mode
        except OSError:
            return "missing"
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def not_regular_error(path: Path, mode: int) -> OSError:
    """The error for something that should be a regular file but is ``mode``'s kind."""
    number = errno.EISDIR if stat.S_ISDIR(mode) else errno.EINVAL
    return OSError(number, f"it is {kind_of(path, mode)}, not a regular file", str(path))


def symlink_error(path: Path) -> OSError:
    """ELOOP from an ``O_NOFOLLOW`` open of a symlink, said plainly."""
    return OSError(errno.ELOOP, "it is a symlink, which mzt does not follow here", str(path))


def entry_exists(path: Path) -> bool:
    """True when anything is at ``path``: a file, a folder, a FIFO, a dangling symlink.

    Finding a job asks this rather than ``is_file()``: a checkpoint that is there but is not
    a regular file must be reported as unusable, not as missing.
    """
    return os.path.lexists(path)


def open_nofollow(path: Path, flags: int, mode: int = PRIVATE_FILE_MODE) -> int:
    """``os.open`` that refuses a symlink at ``path`` (ELOOP) and is never inherited.

    A file this call creates gets exactly ``mode``, whatever the umask.
    """
    created = False
    if flags & os.O_CREAT and not flags & os.O_EXCL:
        # Find out whether this open creates the file, so only a new file gets its mode fixed.
        try:
            fd = os.open(path, flags | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
            created = True
        except FileExistsError:
            fd = os.open(path, (flags & ~os.O_CREAT) | os.O_NOFOLLOW | os.O_CLOEXEC)
    else:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
        created = bool(flags & os.O_CREAT)
    if created:
        try:
            os.fchmod(fd, mode)
        except OSError:
            os.close(fd)
            raise
    return fd


def read_regular_file(path: Path, max_bytes: int | None = None, *, follow: bool = False) -> bytes:
    """Read a regular file without following a symlink and without blocking on a FIFO.

    Raises ``FileNotFoundError`` when absent, ``OSError`` (ELOOP) for a symlink and
    ``IsADirectoryError``/``OSError`` for anything that is not a regular file (a FIFO, a
    device such as /dev/zero that would never end). ``follow`` reads through symlinks:
    for the user's own files (score, template, profiles, injected files), not mzt's state.
    """
    try:
        fd = os.open(path, _READ_FLAGS & ~os.O_NOFOLLOW if follow else _READ_FLAGS)
    except OSError as exc:
        if exc.errno == errno.ELOOP and path.is_symlink():
            raise symlink_error(path) from exc
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise not_regular_error(path, st.st_mode)
        chunks: list[bytes] = []
        total = 0
        # Read to EOF rather than to st_size: a writer may still be appending. The first
        # read asks for the whole file and a byte more, so a file that did not grow is one
        # buffer, returned as it is: read in chunks, a big checkpoint's bytes were copied
        # once more into one, and every page of both copies is a page fault for `status`.
        want = st.st_size + 1 if st.st_size else _READ_CHUNK
        while max_bytes is None or total < max_bytes:
            if max_bytes is not None:
                want = min(want, max_bytes - total)
            chunk = os.read(fd, want)
            want = _READ_CHUNK
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def is_own_regular_file(path: Path) -> bool:
    """True when ``path`` is a regular file (not a symlink) owned by the effective user.

    Signal files (pause/cancel) are honoured only when this holds, so another user on a
    shared machine cannot steer someone else's run.
    """
    try:
        st = os.lstat(path)  # not Path.lstat: this runs several times per sheet
    except OSError:
        return False
    return stat.S_ISREG(st.st_mode) and st.st_uid == os.geteuid()
