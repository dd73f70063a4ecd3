"""Private-by-default file helpers: owner-only folders and files, opens that refuse symlinks.

Everything mzt writes about runs may contain prompts, outputs and paths, so folders are 0700
and files 0600 whatever the caller's umask says (modes are set explicitly after creation,
since a umask can only remove bits and a permissive one must not widen anything).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

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
    left them wider.
    """
    missing: list[Path] = []
    probe = path
    while not probe.exists():
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=PRIVATE_DIR_MODE)
        except FileExistsError:
            continue  # a sibling run created it first; fine
        folder.chmod(PRIVATE_DIR_MODE)
    st = path.lstat()
    if not stat.S_ISDIR(st.st_mode):
        raise NotADirectoryError(f"{path} exists and is not a folder")
    if st.st_uid == os.geteuid() and stat.S_IMODE(st.st_mode) != PRIVATE_DIR_MODE:
        path.chmod(PRIVATE_DIR_MODE)
    return path


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


def read_regular_file(path: Path, max_bytes: int | None = None) -> bytes:
    """Read a regular file without following a symlink and without blocking on a FIFO.

    Raises ``FileNotFoundError`` when absent, ``OSError`` (ELOOP) for a symlink and
    ``IsADirectoryError``/``OSError`` for anything that is not a regular file.
    """
    fd = os.open(path, _READ_FLAGS)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(f"{path} is not a regular file")
        chunks: list[bytes] = []
        total = 0
        # Read to EOF rather than to st_size: a writer may still be appending.
        while max_bytes is None or total < max_bytes:
            want = _READ_CHUNK if max_bytes is None else min(_READ_CHUNK, max_bytes - total)
            chunk = os.read(fd, want)
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
