"""Writing a folded snapshot in the background, so a big run never stalls on it.

When the journal has outgrown the snapshot, the store takes the state's pieces at once (a
consistent picture, taken under its lock: the job's fields and each sheet as last written,
all already encoded and redacted) and hands them to :class:`SnapshotWriter`, which joins
them a batch at a time into a file it replaces durably, on a thread of its own, while the
run goes on appending to the journal. That is safe at every moment: until the new file is in
place the old snapshot plus the journal (which still holds every line) is the state, and
the lines written meanwhile apply to either snapshot alike (each sheet's first line after
a fold carries it whole). One write is in flight at most; a failure is raised by the next
call to :meth:`SnapshotWriter.wait`, which every synchronous save makes first.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

from mzt.state.atomic import atomic_write
from mzt.state.codec import document_pieces


class SnapshotWriter:
    """One background snapshot write at a time, its failure kept for the next caller."""

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def submit(self, path: Path, head: bytes, sheets: Sequence[tuple[int, bytes]]) -> None:
        """Write the snapshot of these pieces to ``path`` in the background (after the
        previous one); see :func:`~mzt.state.codec.document_pieces`."""
        self.wait()
        self._thread = threading.Thread(
            target=self._write, args=(path, head, sheets), name="mzt-snapshot", daemon=False
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

    def _write(self, path: Path, head: bytes, sheets: Sequence[tuple[int, bytes]]) -> None:
        try:
            atomic_write(path, document_pieces(head, sheets))
        except BaseException as exc:  # handed to the next wait(), never lost
            self._error = exc
