"""Redaction of output that arrives in chunks, with keys split across chunk boundaries."""

from __future__ import annotations

import codecs
import re

from mzt.support.lazyre import LazyPattern
from mzt.support.redact import Hit, Redactor, apply_hits, get_redactor

_WHITESPACE = (b" ", b"\n", b"\t")
PEM_END = LazyPattern(rb"-----END[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----")


class ByteStreamRedactor:
    """Redacts bytes that arrive in chunks, including keys split across two chunks.

    It holds back a bounded tail of unread bytes: at least :attr:`hold`, cut only at
    whitespace and never inside a match, so ``feed`` + ``flush`` give the same bytes as
    redacting everything at once. When the held bytes would pass :attr:`max_hold` (a huge
    run without whitespace), they are redacted as they stand; if a credential was still
    running at that point, what follows of it is swallowed on the next chunks. Each chunk
    is scanned once: the matches that decide the cut are the ones replaced.
    """

    def __init__(
        self, redactor: Redactor | None = None, *, hold: int = 512, max_hold: int = 1 << 16
    ) -> None:
        self.redactor = redactor or get_redactor()
        self.hold = max(hold, self.redactor.longest_literal + 64)
        self.max_hold = max(max_hold, 4 * self.hold)
        self._buffer = b""
        self._swallow: re.Pattern[bytes] | None = None
        self._swallow_pem = False

    def feed(self, chunk: bytes) -> bytes:
        """Add ``chunk``; return the redacted bytes that are now safe to emit."""
        self._buffer = self._buffer + chunk if self._buffer else chunk
        if not self._drop_swallowed():
            return b""
        buffer = self._buffer
        if len(buffer) <= self.hold:
            return b""
        found = self.redactor.hits(buffer)
        limit = len(buffer) - self.hold
        cut = max(buffer.rfind(c, 0, limit) for c in _WHITESPACE) + 1
        cut = _outside(found, cut)
        if cut == 0 and len(buffer) > self.max_hold:
            # A huge run without whitespace: cut it hard, still outside any match.
            cut = _outside(found, limit)
            if cut == 0:
                return self._force_out(found)
        return self._emit(buffer, found, cut)

    def take_held(self) -> bytes | None:
        """Hand over the bytes held back, unredacted, and hold nothing more; None (and
        nothing handed over) while the rest of a cut credential is being dropped."""
        if self._swallow is not None or self._swallow_pem:
            return None
        held, self._buffer = self._buffer, b""
        return held

    def release(self) -> bytes:
        """The source paused: emit the held bytes up to their last line break.

        A credential never spans a line break, so complete lines can go; the partial last
        line and anything inside a match that may still grow (an open PEM block reaches to
        the end of the text) stay held.
        """
        if self._swallow is not None or self._swallow_pem or not self._buffer:
            return b""
        buffer = self._buffer
        found = self.redactor.hits(buffer)
        cut = _outside(found, buffer.rfind(b"\n") + 1)
        if cut <= 0:
            return b""
        return self._emit(buffer, found, cut)

    def flush(self) -> bytes:
        """Emit everything still held (end of stream)."""
        if not self._drop_swallowed(final=True):
            return b""
        out = self.redactor.redact_bytes(self._buffer)
        self._buffer = b""
        return out

    def _emit(self, buffer: bytes, found: list[Hit], cut: int) -> bytes:
        self._buffer = buffer[cut:]
        head = buffer[:cut]
        before = [hit for hit in found if hit.end <= cut]
        return apply_hits(head, before) if before else head

    def _force_out(self, found: list[Hit]) -> bytes:
        buffer, self._buffer = self._buffer, b""
        if found and found[-1].end == len(buffer):
            last = found[-1]
            if last.rule.name == "PRIVATE_KEY":
                self._swallow_pem = b"-----END" not in buffer[last.start : last.end]
            else:
                self._swallow = re.compile(f"(?:{last.rule.continuation})*".encode())
        return apply_hits(buffer, found) if found else buffer

    def _drop_swallowed(self, *, final: bool = False) -> bool:
        """Drop the rest of a credential cut by :meth:`_force_out`; False if all was dropped."""
        if self._swallow_pem:
            end = PEM_END.search(self._buffer)
            if end is None:
                # Keep enough to recognise an END line split across chunks.
                self._buffer = b"" if final else self._buffer[-64:]
                return False
            self._buffer = self._buffer[end.end() :]
            self._swallow_pem = False
        if self._swallow is not None:
            match = self._swallow.match(self._buffer)
            consumed = match.end() if match else 0
            self._buffer = self._buffer[consumed:]
            if not self._buffer:
                return False
            self._swallow = None
        return True


def _outside(found: list[Hit], cut: int) -> int:
    """Move ``cut`` back to the start of any match it falls inside."""
    for hit in reversed(found):
        if hit.start < cut < hit.end:
            cut = hit.start
    return cut


class StreamRedactor:
    """:class:`ByteStreamRedactor` for text: the same cuts, on the text's UTF-8 bytes."""

    def __init__(
        self, redactor: Redactor | None = None, *, hold: int = 512, max_hold: int = 1 << 16
    ) -> None:
        self._bytes = ByteStreamRedactor(redactor, hold=hold, max_hold=max_hold)
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="surrogatepass")

    def feed(self, chunk: str) -> str:
        """Add ``chunk``; return the redacted text that is now safe to emit."""
        return self._decode(self._bytes.feed(chunk.encode("utf-8", errors="surrogatepass")))

    def release(self) -> str:
        """The source paused: emit the held text up to its last line break."""
        return self._decode(self._bytes.release())

    def flush(self) -> str:
        """Emit everything still held (end of stream)."""
        return self._decode(self._bytes.flush(), final=True)

    def _decode(self, data: bytes, *, final: bool = False) -> str:
        return str(self._decoder.decode(data, final))
