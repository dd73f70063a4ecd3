"""One output pipe of a child: redact, write a bounded log, keep a bounded tail in memory.

A log keeps at most ``max_log_bytes`` of (redacted) output per stream: the head is written
as it comes; past it, only the last part is kept, in a ring buffer of fixed size, and at
the end it follows a marker line that says how many bytes were dropped in between. So a
flooding agent can neither fill the disk nor mzt's memory.

Past the head, output is kept raw and redacted once, at the end, for the part that is
kept: what is dropped is never written anywhere, so scanning it for secrets would only
cost time (most of a flood's). The kept part starts after its first line break, and after
the end of a private key whose start was dropped, so that no fragment of a secret cut in
two by the drop can pass unrecognised.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import BinaryIO

from mzt.support.errors import UsageError
from mzt.support.fsutil import open_nofollow
from mzt.support.lazyre import LazyPattern

TYPE_CHECKING = False
if TYPE_CHECKING:
    from mzt.support.redact_stream import ByteStreamRedactor

LOG_MAX_ENV = "MZT_LOG_MAX_BYTES"
DEFAULT_LOG_MAX_BYTES = 50 * 1024 * 1024
MIN_LOG_MAX_BYTES = 4096
MAX_TAIL_KEPT = 8 * 1024 * 1024  # of a capped log, at most this much of the end is kept
_SLACK = 64 * 1024  # raw bytes kept beyond the tail, room to start it on a line boundary
MARKER = LazyPattern(rb"\[mzt: [0-9,]+ bytes of output dropped here[^\n]*\]\n")
_SIZE = LazyPattern(r"^\s*([0-9]+)\s*([KMG]?)(?:i?B)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def log_max_bytes(environ: Mapping[str, str] | None = None) -> int:
    """The per-stream log cap from ``MZT_LOG_MAX_BYTES`` (bytes, or with K/M/G), or the default."""
    value = (os.environ if environ is None else environ).get(LOG_MAX_ENV, "")
    if not value.strip():
        return DEFAULT_LOG_MAX_BYTES
    match = _SIZE.match(value)
    size = int(match.group(1)) * _UNITS[match.group(2).upper()] if match else 0
    if size < MIN_LOG_MAX_BYTES:
        raise UsageError(
            f"{LOG_MAX_ENV}={value!r} is not a log size mzt can use: it must be a number of "
            f"bytes of at least {MIN_LOG_MAX_BYTES}, optionally with K, M or G (50M is the "
            "default)",
            hint=f"set {LOG_MAX_ENV} to a size such as 100M, or unset it",
        )
    return size


def tail_kept(max_log_bytes: int) -> int:
    """How much of the end of a log capped at ``max_log_bytes`` is kept."""
    return min(max_log_bytes // 2, MAX_TAIL_KEPT)


class RingBuffer:
    """The last ``capacity`` bytes written, in memory that never grows past ``capacity``."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.data = bytearray(capacity)
        self.position = 0  # where the next byte goes
        self.total = 0  # bytes written ever

    def write(self, chunk: bytes) -> None:
        self.total += len(chunk)
        if len(chunk) >= self.capacity:
            self.data[:] = chunk[len(chunk) - self.capacity :]
            self.position = 0
            return
        first = min(len(chunk), self.capacity - self.position)
        self.data[self.position : self.position + first] = chunk[:first]
        rest = len(chunk) - first
        if rest:
            self.data[:rest] = chunk[first:]
        self.position = (self.position + len(chunk)) % self.capacity

    def getvalue(self) -> bytes:
        view = memoryview(self.data)
        if self.total < self.capacity:
            return bytes(view[: self.total])
        return b"".join((view[self.position :], view[: self.position]))

    def take(self) -> bytes:
        """The value, and the ring's memory given back (one copy alive, not two)."""
        value = self.getvalue()
        self.data = bytearray()
        return value


def _char_start(data: bytes) -> int:
    """Offset of the first whole UTF-8 character (a cut may leave continuation bytes)."""
    start = 0
    while start < min(len(data), 3) and data[start] & 0xC0 == 0x80:
        start += 1
    return start


def _char_end(data: bytes) -> int:
    """Length of ``data`` without a character that its end cuts through."""
    for back in range(1, min(len(data), 4) + 1):
        byte = data[-back]
        if byte & 0xC0 == 0xC0:  # a lead byte: is its character whole?
            need = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return len(data) if back >= need else len(data) - back
        if byte & 0x80 == 0:
            return len(data)
    return len(data)


def _safe_start(raw: bytes, *, wrapped: bool) -> int:
    """Where kept raw output may start: after its first line break (a secret never spans
    one) and after the end of a private key whose start is gone, when its start was cut."""
    if not wrapped:
        return 0
    line = raw.find(b"\n")
    start = line + 1 if line >= 0 else len(raw)
    from mzt.support.redact_stream import PEM_END

    end = PEM_END.search(raw, start)
    if end is not None and raw.rfind(b"-----BEGIN", start, end.start()) < 0:
        start = end.end()
    return start


class OutputStream:
    """One output pipe: redact, log (bounded), keep a bounded tail.

    The log file is created with the first byte of output: a silent stream leaves no
    empty file behind (creating files is the dearest thing a short attempt does). The
    redactor too: a silent stream has nothing to redact, and building one (the rules,
    RE2) is a fifth of the CPU a short attempt on a Slurm node costs.
    """

    def __init__(
        self, log: Path | None, tail_bytes: int, max_log_bytes: int = DEFAULT_LOG_MAX_BYTES
    ) -> None:
        self._redactor: ByteStreamRedactor | None = None
        self.tail = bytearray()
        self.tail_bytes = tail_bytes
        self.total = 0
        self.dropped = False
        self.log_path = log
        self.log: BinaryIO | None = None
        self.max_log_bytes = max_log_bytes
        self.head_room = max_log_bytes - tail_kept(max_log_bytes)
        self.overflow: RingBuffer | None = None  # raw output past the head
        self.cut_credential = False  # the head ended inside a credential being dropped
        self.log_dropped = 0  # bytes of output left out of the log
        self.logged = 0  # bytes written to the log file
        self.last_logged = b"\n"

    @property
    def redactor(self) -> ByteStreamRedactor:
        if self._redactor is None:
            from mzt.support.redact import get_redactor
            from mzt.support.redact_stream import ByteStreamRedactor

            self._redactor = ByteStreamRedactor(get_redactor())
        return self._redactor

    def feed(self, data: bytes) -> None:
        self.total += len(data)
        if self.overflow is not None:
            self.overflow.write(data)
        else:
            self._emit(self.redactor.feed(data))

    def release(self) -> None:
        """The child paused: log the complete lines the redactor still holds."""
        if self.overflow is None and self._redactor is not None:
            self._emit(self.redactor.release())

    def finish(self) -> None:
        if self.overflow is None and self._redactor is not None:
            self._emit(self.redactor.flush())
        if self.overflow is not None:
            self._write_overflow(self.overflow)
        if self.log is not None:
            self.log.close()

    def _emit(self, data: bytes) -> None:
        if not data:
            return
        self.tail += data
        if len(self.tail) > 2 * self.tail_bytes:
            del self.tail[: len(self.tail) - self.tail_bytes]
            self.dropped = True
        if self.log_path is None:
            return
        if self.overflow is None:
            if len(data) <= self.head_room:
                self._write(data)
                self.head_room -= len(data)
                return
            head = data[: _char_end(data[: self.head_room])]
            self._write(head)
            self.head_room = 0
            self.overflow = RingBuffer(tail_kept(self.max_log_bytes) + _SLACK)
            # What is left is redacted already (redacting it again changes nothing); the
            # bytes the redactor still holds go in raw, as everything after them will.
            self.overflow.write(data[len(head) :])
            held = self.redactor.take_held()
            self.cut_credential = held is None
            self.overflow.write(held or b"")
            return
        self.overflow.write(data)

    def _write(self, data: bytes) -> None:
        if not data:
            return
        if self.log is None:
            assert self.log_path is not None
            fd = open_nofollow(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            self.log = os.fdopen(fd, "wb")
        self.log.write(data)
        self.logged += len(data)
        self.last_logged = data[-1:]
        self.log.flush()  # readers (`mzt logs --follow`) see output as it is written

    def _write_overflow(self, overflow: RingBuffer) -> None:
        wrapped = overflow.total > overflow.capacity
        raw = overflow.take()
        start = _safe_start(raw, wrapped=wrapped or self.cut_credential)
        if start:
            raw = raw[start:]
        kept = self.redactor.redactor.redact_bytes(raw)
        del raw  # a flood's tail is megabytes: never hold three copies of it
        excess = len(kept) - tail_kept(self.max_log_bytes)
        if excess > 0:
            line = kept.find(b"\n", excess, excess + _SLACK)
            trim = line + 1 if line >= 0 else excess + _char_start(kept[excess:])
            kept = kept[trim:]
        self.log_dropped = max(0, overflow.total - len(kept))
        self.tail = bytearray(kept[-2 * self.tail_bytes :])
        self.dropped = True
        if self.log_dropped:
            head = self.logged
            marker = (
                f"[mzt: {self.log_dropped:,} bytes of output dropped here; this log keeps "
                f"the first {head:,} and the last {len(kept):,} bytes of the stream "
                f"({LOG_MAX_ENV}={self.max_log_bytes})]\n"
            ).encode()
            self._write((b"" if self.last_logged == b"\n" else b"\n") + marker)
        self._write(kept)

    def tail_text(self) -> str:
        data = bytes(self.tail[-self.tail_bytes :])
        if len(self.tail) > self.tail_bytes:
            self.dropped = True
        if self.dropped:
            data = data[_char_start(data) :]
        return data.decode("utf-8", errors="replace")
