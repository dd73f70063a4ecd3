"""Redaction of text that arrives in chunks, with keys split across chunk boundaries."""

from __future__ import annotations

import re

from mzt.support.redact import Redactor, get_redactor


class StreamRedactor:
    """Redacts text that arrives in chunks, including keys split across two chunks.

    It holds back a bounded tail of unread text: at least :attr:`hold` characters, cut only
    at whitespace and never inside a match, so ``feed`` + ``flush`` give the same text as
    redacting everything at once. When the held text would pass :attr:`max_hold` (a huge run
    without whitespace), it is redacted as it stands; if a credential was still running at
    that point, what follows of it is swallowed on the next chunks.
    """

    def __init__(
        self, redactor: Redactor | None = None, *, hold: int = 512, max_hold: int = 1 << 16
    ) -> None:
        self.redactor = redactor or get_redactor()
        self.hold = max(hold, self.redactor.longest_literal + 64)
        self.max_hold = max(max_hold, 4 * self.hold)
        self._buffer = ""
        self._swallow: re.Pattern[str] | None = None
        self._swallow_pem = False

    def feed(self, chunk: str) -> str:
        """Add ``chunk``; return the redacted text that is now safe to emit."""
        self._buffer += chunk
        if not self._drop_swallowed():
            return ""
        buffer = self._buffer
        if len(buffer) <= self.hold:
            return ""
        cut = self._safe_cut(buffer)
        if cut == 0 and len(buffer) > self.max_hold:
            # A huge run without whitespace: cut it hard, still outside any match.
            cut = self._outside_matches(buffer, len(buffer) - self.hold)
            if cut == 0:
                return self._force_out()
        self._buffer = buffer[cut:]
        return self.redactor.redact(buffer[:cut])

    def release(self) -> str:
        """The source paused: emit the held text up to its last line break.

        A credential never spans a line break, so complete lines can go; the partial last
        line and anything inside a match that may still grow (an open PEM block reaches to
        the end of the text) stay held.
        """
        if self._swallow is not None or self._swallow_pem:
            return ""
        buffer = self._buffer
        cut = self._outside_matches(buffer, buffer.rfind("\n") + 1)
        if cut <= 0:
            return ""
        self._buffer = buffer[cut:]
        return self.redactor.redact(buffer[:cut])

    def flush(self) -> str:
        """Emit everything still held (end of stream)."""
        if not self._drop_swallowed(final=True):
            return ""
        out = self.redactor.redact(self._buffer)
        self._buffer = ""
        return out

    def _safe_cut(self, buffer: str) -> int:
        """Where to split: after the last whitespace at least ``hold`` from the end."""
        limit = len(buffer) - self.hold
        cut = max(buffer.rfind(c, 0, limit) for c in " \n\t") + 1
        return self._outside_matches(buffer, cut)

    def _outside_matches(self, buffer: str, cut: int) -> int:
        """Move ``cut`` back to the start of any match it falls inside."""
        for match in reversed(self.redactor.finditer(buffer)):
            if match.start() < cut < match.end():
                cut = match.start()
        return cut

    def _force_out(self) -> str:
        buffer, self._buffer = self._buffer, ""
        matches = self.redactor.finditer(buffer)
        if matches and matches[-1].end() == len(buffer):
            last = matches[-1]
            if self.redactor.kind(last) == "PRIVATE_KEY":
                self._swallow_pem = "-----END" not in last.group(0)
            else:
                self._swallow = self.redactor.continuation(last)
        return self.redactor.redact(buffer)

    def _drop_swallowed(self, *, final: bool = False) -> bool:
        """Drop the rest of a credential cut by :meth:`_force_out`; False if all was dropped."""
        if self._swallow_pem:
            end = re.search(r"-----END[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----", self._buffer)
            if end is None:
                # Keep enough to recognise an END line split across chunks.
                self._buffer = "" if final else self._buffer[-64:]
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
