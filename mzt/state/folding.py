"""Writing a folded snapshot in the background, so a big run never stalls on it.

When the journal has outgrown the snapshot, the store encodes the state at once (a
consistent picture, taken under its lock) and hands the bytes to :class:`SnapshotWriter`,
which redacts them and replaces the file durably on a thread of its own while the run
goes on appending to the journal. That is safe at every moment: until the new file is in
place the old snapshot plus the journal (which still holds every line) is the state, and
the lines written meanwhile apply to either snapshot alike (each sheet's first line after
a fold carries it whole). One write is in flight at most; a failure is raised by the next
call to :meth:`SnapshotWriter.wait`, which every synchronous save makes first.
"""

from __future__ import annotations

import threading
from pathlib import Path

import msgspec

from mzt.state.atomic import atomic_write
from mzt.state.codec import might_need_redacting
from mzt.state.structs import encode
from mzt.support.redact import Redactor

_DECODER = msgspec.json.Decoder()


class SnapshotWriter:
    """One background snapshot write at a time, its failure kept for the next caller."""

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def submit(self, path: Path, data: bytes, redactor: Redactor) -> None:
        """Redact and write ``data`` to ``path`` in the background (after the previous one)."""
        self.wait()
        self._thread = threading.Thread(
            target=self._write, args=(path, data, redactor), name="mzt-snapshot", daemon=False
        )
        self._thread.start()

    def wait(self) -> None:
        """Block until no write is in flight; raise the failure of the last one, if any."""
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join()
        error, self._error = self._error, None
        if error is not None:
            raise error

    def _write(self, path: Path, data: bytes, redactor: Redactor) -> None:
        try:
            if might_need_redacting(data, redactor):
                data = encode(redactor.redact_tree(_DECODER.decode(data)))
            atomic_write(path, data)
        except BaseException as exc:  # handed to the next wait(), never lost
            self._error = exc
