"""Writing a folded snapshot in the background, so a big run never stalls on it.

When the journal has outgrown the snapshot, the store takes the state's pieces at once (a
consistent picture, taken under its lock: the job's fields and each sheet as last written,
all already encoded and redacted) and hands them to :class:`SnapshotWriter`, which writes
them into a file it replaces durably, on a thread of its own, while the run goes on
appending to the journal. That is safe at every moment: until the new file is in place the
old snapshot plus the journal (which still holds every line) is the state, and the lines
written meanwhile apply to either snapshot alike (each sheet's first line after a fold
carries it whole). One write is in flight at most; a failure is raised by the next call to
:meth:`SnapshotWriter.wait`, which every synchronous save makes first.

A sheet not journaled since the last snapshot is, as last written, the bytes that snapshot
holds for it. Rather than keep a copy of every sheet in memory (most of a finished job's
footprint), the store keeps a :class:`Layout` of the snapshot it wrote: where each sheet's
piece starts in that file. The writer copies the untouched sheets' pieces from the old file
into the new one, a run of neighbours at a time, and only the sheets journaled since come
from memory. Should the old file not be the one the layout describes (another writer
replaced it, it was cut short), the fold is given up, which loses nothing: the journal still
holds every line, and the store's next snapshot is then written whole from the state.
"""

from __future__ import annotations

import os
import threading
from array import array
from collections.abc import Callable, Iterator
from pathlib import Path

from mzt.state.atomic import atomic_write
from mzt.support import records
from mzt.support.log import get_logger

logger = get_logger("mzt.state")

_CHUNK = 1 << 18  # bytes copied from the old file at a time


@records.record(frozen=True)
class Layout:
    """Where each sheet's piece (``"<num>":{...}``) starts in a snapshot file.

    ``starts`` has one entry per sheet, in the order of the state's sheets, plus one past
    the end: piece ``i`` is ``starts[i]`` up to the comma before ``starts[i + 1]``.
    ``identity`` tells the file written from any other that later took its name.
    """

    starts: array[int]
    identity: tuple[int, int, int]

    @property
    def count(self) -> int:
        """How many sheets the file holds."""
        return len(self.starts) - 1


def identity_of(stat: os.stat_result) -> tuple[int, int, int]:
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns)


class _Stale(Exception):
    """The old snapshot is not the file its layout describes."""


class SnapshotWriter:
    """One background snapshot write at a time, its failure kept for the next caller."""

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def submit(
        self,
        path: Path,
        head: bytes,
        order: list[int],
        changed: dict[int, bytes],
        layout: Layout,
        done: Callable[[Layout | None], None],
    ) -> None:
        """Write the snapshot to ``path`` in the background (after the previous one).

        ``order`` is every sheet's number in the state's order; ``changed`` the pieces of
        the sheets journaled since the snapshot ``layout`` describes, and of those it does
        not hold; every other sheet is copied from that file. ``done`` gets the new
        file's layout, or ``None`` when the fold was given up. Both containers become the
        writer's.
        """
        self.wait()
        self._thread = threading.Thread(
            target=self._write,
            args=(path, head, order, changed, layout, done),
            name="mzt-snapshot",
            daemon=False,
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

    def _write(
        self,
        path: Path,
        head: bytes,
        order: list[int],
        changed: dict[int, bytes],
        layout: Layout,
        done: Callable[[Layout | None], None],
    ) -> None:
        try:
            try:
                old = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            except OSError as exc:
                raise _Stale(f"the snapshot cannot be read: {exc}") from exc
            try:
                if identity_of(os.fstat(old)) != layout.identity:
                    raise _Stale("the snapshot was replaced")
                _check_runs(old, order, changed, layout)
                starts = array("Q")
                atomic_write(path, _pieces(old, head, order, changed, layout, starts))
            finally:
                os.close(old)
            done(Layout(starts, identity_of(path.stat())))
        except _Stale as exc:
            logger.debug("snapshot fold given up, the next one is written whole: %s", exc)
            done(None)
        except BaseException as exc:  # handed to the next wait(), never lost
            self._error = exc
            done(None)


def _runs(order: list[int], changed: dict[int, bytes]) -> Iterator[tuple[int, int]]:
    """``(first, end)`` positions of each run of neighbours with no piece in ``changed``."""
    i, n = 0, len(order)
    while i < n:
        if order[i] in changed:
            i += 1
            continue
        j = i + 1
        while j < n and order[j] not in changed:
            j += 1
        yield i, j
        i = j


def _check_runs(fd: int, order: list[int], changed: dict[int, bytes], layout: Layout) -> None:
    """Each run to copy starts with its first sheet's number and ends at a separator."""
    starts = layout.starts
    for first, end in _runs(order, changed):
        if end > layout.count:
            raise _Stale("the snapshot holds fewer sheets than the state")
        key = b'"%d":' % order[first]
        if _read(fd, len(key), starts[first]) != key:
            raise _Stale(f"sheet {order[first]} is not where the snapshot had it")
        if _read(fd, 1, starts[end] - 1) not in (b",", b"}"):
            raise _Stale(f"sheet {order[end - 1]} does not end where the snapshot had it")


def _pieces(
    fd: int,
    head: bytes,
    order: list[int],
    changed: dict[int, bytes],
    layout: Layout,
    starts: array[int],
) -> Iterator[bytes]:
    """The new snapshot's bytes, filling ``starts`` with its layout on the way."""
    old = layout.starts
    first_piece = head[: -len(b"}}")]
    yield first_piece
    pos = len(first_piece)
    i, n = 0, len(order)
    runs = _runs(order, changed)
    run = next(runs, None)
    while i < n:
        if i:
            yield b","
            pos += 1
        if run is not None and run[0] == i:
            begin, end = old[i], old[run[1]] - 1
            starts.extend(pos + old[k] - begin for k in range(i, run[1]))
            while begin < end:
                data = _read(fd, min(_CHUNK, end - begin), begin)
                if not data:
                    raise _Stale("the snapshot was cut short")
                yield data
                begin += len(data)
                pos += len(data)
            i, run = run[1], next(runs, None)
            continue
        num = order[i]
        piece = b'"%d":%s' % (num, changed[num])
        starts.append(pos)
        yield piece
        pos += len(piece)
        i += 1
    starts.append(pos + 1)
    yield b"}}"


def _read(fd: int, size: int, offset: int) -> bytes:
    try:
        return os.pread(fd, size, offset)
    except OSError as exc:  # the old file failing us is no reason to fail the new one
        raise _Stale(f"the snapshot cannot be read: {exc}") from exc
