"""Reading a log file's last lines, and what was appended to it since, never through a symlink."""

from __future__ import annotations

import codecs
import os
import stat
from pathlib import Path

from mzt.support.output_log import MARKER, MAX_TAIL_KEPT
from mzt.support.redact import redact

DEFAULT_LINES = 50
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
_BLOCK = 1 << 16


def _open(path: Path) -> int | None:
    """A read descriptor for a regular file, or ``None`` (missing, symlink, not a file)."""
    try:
        fd = os.open(path, _READ_FLAGS)
    except OSError:
        return None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return None
    return fd


def _start_of_last_lines(fd: int, size: int, lines: int) -> int:
    """Offset where the last ``lines`` lines of the first ``size`` bytes begin."""
    if lines <= 0:
        return 0
    end = size
    # A final newline ends the last line; it does not start another one.
    if size and os.pread(fd, 1, size - 1) == b"\n":
        end -= 1
    seen = 0
    while end > 0:
        start = max(0, end - _BLOCK)
        block = os.pread(fd, end - start, start)
        position = len(block)
        while True:
            position = block.rfind(b"\n", 0, position)
            if position < 0:
                break
            seen += 1
            if seen == lines:
                return start + position + 1
        end = start
    return 0


def read_tail(path: Path, lines: int = DEFAULT_LINES) -> str:
    """The last ``lines`` lines of a log file (all of it for 0); ``""`` when there is none."""
    fd = _open(path)
    if fd is None:
        return ""
    try:
        size = os.fstat(fd).st_size
        start = _start_of_last_lines(fd, size, lines)
        data = os.pread(fd, size - start, start)
        if start > 0:
            data = _marker_before(fd, start) + data
    finally:
        os.close(fd)
    return redact(data.decode("utf-8", errors="replace"))


def _marker_before(fd: int, start: int) -> bytes:
    """The line saying that a capped log dropped output, when it is before ``start``.

    A capped log keeps at most `MAX_TAIL_KEPT` bytes after that line, so only that far
    back needs reading: the last lines of a capped log then still say that output is
    missing before them.
    """
    window = MAX_TAIL_KEPT + 1024
    begin = max(0, start - window)
    found = list(MARKER.finditer(os.pread(fd, start - begin, begin)))
    return found[-1].group(0) if found else b""


class Tail:
    """Reads what was appended to one log file since the last look, in whole lines.

    A file last modified before ``not_before`` (a Unix time) is taken for not written yet:
    it is an earlier run's log of the same attempt, which this run has not replaced yet.
    """

    def __init__(self, path: Path, *, not_before: float = 0.0) -> None:
        self.path = path
        self.not_before = not_before
        self.position = 0
        self.inode: int | None = None
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.partial = ""

    def _open(self) -> tuple[int, os.stat_result] | None:
        fd = _open(self.path)
        if fd is None:
            return None
        st = os.fstat(fd)
        if st.st_mtime < self.not_before:
            os.close(fd)
            return None
        return fd, st

    def prime(self, lines: int) -> None:
        """Start ``lines`` lines before the current end (like ``tail -n``)."""
        opened = self._open()
        if opened is None:
            return
        fd, st = opened
        try:
            self.inode = st.st_ino
            self.position = _start_of_last_lines(fd, st.st_size, lines) if lines else 0
        finally:
            os.close(fd)

    def read(self) -> str:
        """Complete lines appended since the last call; a partial line is kept back."""
        opened = self._open()
        if opened is None:
            return ""
        fd, st = opened
        try:
            if st.st_ino != self.inode or st.st_size < self.position:
                # A new file for this attempt (a resumed job runs attempt K again).
                self.inode, self.position, self.partial = st.st_ino, 0, ""
                self.decoder.reset()
            chunks = []
            while self.position < st.st_size:
                data = os.pread(fd, min(_BLOCK * 16, st.st_size - self.position), self.position)
                if not data:
                    break
                self.position += len(data)
                chunks.append(self.decoder.decode(data))
        finally:
            os.close(fd)
        text = self.partial + "".join(chunks)
        cut = text.rfind("\n") + 1
        self.partial = text[cut:]
        return text[:cut]

    def flush(self, *, final: bool = False) -> str:
        """The kept-back partial line, if any (``final``: the file is complete)."""
        # Bytes of a character split across writes stay in the decoder until the end.
        tail = self.decoder.decode(b"", final=True) if final else ""
        text, self.partial = self.partial + tail, ""
        return text
