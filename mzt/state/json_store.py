"""JSON state store: a snapshot file plus a journal, so saving stays cheap for big jobs.

Files, all in ``<workspace>/.marianne/`` (see :mod:`mzt.support.paths`):

``<job>.json``
    The checkpoint snapshot: one compact JSON object holding the whole job state
    (:class:`~mzt.state.checkpoint.CheckpointState`), fields at their default left out,
    the job's fields first and ``sheets`` last; replaced atomically and durably by
    :func:`~mzt.state.atomic.atomic_write`. It has no trailing newline, so any truncation
    of it is invalid JSON.
``<job>.history.jsonl``
    Append-only history (:mod:`mzt.state.journal`). ``kind: "sheet"`` lines are journaled
    sheet transitions; ``kind: "event"`` and ``kind: "attempt"`` lines are history only.

Invariants:

* ``seq`` grows by one with every snapshot save and every journaled transition; a
  transition line carries the ``seq`` it produces, other lines the ``seq`` they follow.
* A snapshot with ``seq = S`` contains every transition with ``seq <= S``. Its
  ``journal_offset`` is the history size when it was written: later transitions start there.
* The state is the snapshot plus, in file order, every ``sheet`` line of the same
  ``instance_id`` with ``seq > S``. Each such line holds what changed: per sheet the fields
  that differ from what was last written for it (``sheets``; the first change of a sheet
  after a snapshot carries the sheet whole, under ``whole``), and the job-level fields that
  changed since the previous write (``job``). A field back at its default is written with
  its default value.
* The snapshot is rewritten at every job-status change, once the journal since it outgrows
  half of it (:data:`FOLD_FLOOR_BYTES`), and by :meth:`JsonStateBackend.compact` (at exit):
  an amortised constant cost per transition, whatever the job's size.
* Only the run-lock holder writes; readers never lock. A failed write leaves the files as
  they were and ``state.seq`` unchanged, and raises :class:`~mzt.support.errors.StateWriteError`.
* Every string written to either file is credential-redacted.
* Loading never modifies a file. Missing state is ``None``; anything unusable raises
  :class:`~mzt.support.errors.StateCorruptionError`.
"""

from __future__ import annotations

import contextlib
import copy
import threading
import time
from array import array
from pathlib import Path
from typing import Any

from mzt.state.atomic import atomic_write, remove_temp_files
from mzt.state.backend import StateBackend
from mzt.state.book import WriterBook, serialised
from mzt.state.checkpoint import CheckpointState, WriterInfo
from mzt.state.codec import (
    HEAD_DEFAULTS,
    default_event,
    head_bytes,
    head_delta,
    head_fields,
    sheet_bytes,
    sheet_patch,
    streamed_document,
    transition_line,
    unwritten,
)
from mzt.state.folding import Layout, SnapshotWriter, identity_of
from mzt.state.history import HistoryMixin
from mzt.state.implied import unimplied
from mzt.state.journal import Durability, Journal
from mzt.state.loader import read_state
from mzt.state.lock import JobLiveness, LiveVerdict, RunLock, job_liveness
from mzt.state.models import JobStatus, SheetStatus
from mzt.state.records import utc_now
from mzt.state.takeover import foreign_error, is_foreign, take_over_record
from mzt.state.writer import TakeOver
from mzt.support import paths
from mzt.support.errors import StateCorruptionError
from mzt.support.fsutil import ensure_private_dir
from mzt.support.log import get_logger
from mzt.support.redact import get_redactor

logger = get_logger("mzt.state")

# The journal is folded into a new snapshot once the lines since the last one outgrow half
# the snapshot (plus this floor, so small jobs do not rewrite their snapshot all the time):
# every byte of snapshot written is paid for by journal bytes already written, and a reader
# never has more than about half a snapshot's worth of lines to apply.
FOLD_FLOOR_BYTES = 64 * 1024


class JsonStateBackend(HistoryMixin, StateBackend):
    """One snapshot and one history journal per job, in a workspace's ``.marianne/``.

    The snapshot is folded anew when the journal since it outgrows half of it (see
    :data:`FOLD_FLOOR_BYTES`); ``compact_every`` (journal lines) and ``compact_seconds``
    bound the lag further when given. ``allow_foreign_host`` (``--take-over``) lets
    :meth:`load` and :meth:`load_for_run` treat a running state written on another host
    like a dead local one (see :mod:`mzt.state.takeover`); without it such a state is never
    recovered.
    """

    def __init__(
        self,
        workspace: Path,
        *,
        compact_every: int | None = None,
        compact_seconds: float | None = None,
        allow_foreign_host: bool = False,
    ) -> None:
        self.workspace = Path(workspace)
        self.state_dir = paths.state_dir(self.workspace)  # the workspace's `.marianne/`
        self.compact_every = compact_every
        self.compact_seconds = compact_seconds
        self.allow_foreign_host = allow_foreign_host
        # Set by each load_for_run: the take-over it made of another host's run, if any.
        self.taken_over: TakeOver | None = None
        self._books: dict[str, WriterBook] = {}
        # Parallel sheets may report from several threads; writes must not interleave.
        self._guard = threading.RLock()
        self._writer = SnapshotWriter()

    # --- paths -----------------------------------------------------------------------------

    def state_path(self, job_id: str) -> Path:
        """``<job>.json``."""
        return paths.state_file(self.workspace, job_id)

    def history_path(self, job_id: str) -> Path:
        """``<job>.history.jsonl``."""
        return paths.history_file(self.workspace, job_id)

    def lock_path(self, job_id: str) -> Path:
        """``<job>.lock``."""
        return paths.lock_file(self.workspace, job_id)

    def run_lock(self, job_id: str) -> RunLock:
        """The job's run lock (not yet acquired); its errors name the state's writer."""
        return RunLock(self.lock_path(job_id), job_id=job_id, state_path=self.state_path(job_id))

    # --- reading ---------------------------------------------------------------------------

    def load(self, job_id: str) -> CheckpointState | None:
        """The job's state (snapshot + journal), or ``None`` when it has none.

        A ``running`` state whose run lock is free belongs to a dead process: it is
        returned as ``paused`` (in memory only; the owner's next save records it). A running
        state written on another host is returned as it is, unless ``allow_foreign_host``.
        """
        state = self._read(job_id)
        if state is not None and state.status == JobStatus.RUNNING:
            verdict = self.liveness(state)
            if verdict.verdict == LiveVerdict.DEAD or (
                verdict.verdict == LiveVerdict.FOREIGN and self.allow_foreign_host
            ):
                state.mark_zombie_detected(reason=f"Evidence: {verdict.reason}.")
        return state

    def load_for_run(self, job_id: str, *, command: str = "run") -> CheckpointState | None:
        """:meth:`load` for the run-lock holder about to continue the job.

        Cleans up after a crashed writer first (temp files, a torn journal line). A state
        another host marked running raises :class:`~mzt.support.errors.ForeignHostError`,
        unless ``allow_foreign_host``: then it is taken over like a dead local run, and
        :attr:`taken_over` says from whom (``command`` names who took it, for the record).
        """
        self.prepare(job_id)
        self.taken_over = None
        state = self._read(job_id)
        if state is None or state.status != JobStatus.RUNNING:
            return state
        verdict = self.liveness(state)
        if is_foreign(verdict):
            if not self.allow_foreign_host:
                raise foreign_error(state, verdict, self.state_path(job_id))
            self.taken_over = take_over_record(state, verdict, command)
        if verdict.verdict != LiveVerdict.ALIVE:
            state.mark_zombie_detected(reason=f"Evidence: {verdict.reason}.")
        return state

    def liveness(self, state: CheckpointState) -> JobLiveness:
        """Whether the job's run is alive, judged by its run lock, then its writer block."""
        writer = state.writer.identity() if state.writer else None
        return job_liveness(
            self.lock_path(state.job_id),
            running=state.status == JobStatus.RUNNING,
            writer=writer,
        )

    def list_jobs(self) -> list[CheckpointState]:
        """Every readable job in the workspace, most recently updated first.

        Damaged, foreign and temporary files are skipped (and logged), never raised.
        """
        states: list[CheckpointState] = []
        try:
            job_ids = paths.job_ids_in(self.workspace)
        except OSError:
            return states
        for job_id in job_ids:
            try:
                state = self.load(job_id)
            except StateCorruptionError as exc:
                path = self.state_path(job_id)
                logger.warning("skipping unusable state file %s: %s", path, exc.message)
                continue
            if state is not None:
                states.append(state)
        states.sort(key=lambda s: s.updated_at, reverse=True)
        return states

    def get_next_sheet(self, job_id: str) -> int | None:
        """The next sheet to run: 1 for a job without state."""
        state = self.load(job_id)
        return 1 if state is None else state.get_next_sheet()

    # --- writing ---------------------------------------------------------------------------

    @serialised
    def prepare(self, job_id: str) -> list[Path]:
        """Clean up after a crashed writer of ``job_id``; returns the temp files removed.

        Only the run-lock holder may call this (another live writer's temp file would
        vanish under it). Writing methods call it on their first use.
        """
        book = self._book(job_id)
        removed: list[Path] = []
        if not book.prepared:
            ensure_private_dir(self.state_path(job_id).parent)
            removed = remove_temp_files(self.state_path(job_id))
            cut = book.journal.repair()
            if cut:
                logger.warning("cut a torn line (%d bytes) off %s", cut, book.journal.path)
            book.prepared = True
        return removed

    @serialised
    def save(self, state: CheckpointState) -> None:
        """Write a complete snapshot of ``state`` (``seq`` + 1, ``updated_at`` now)."""
        self._snapshot(state, background=False)

    def _snapshot(self, state: CheckpointState, *, background: bool) -> None:
        # A write still in flight must land first: it holds an older state than this one.
        self._writer.wait()
        book = self._book(state.job_id)
        book.journal.sync()  # the lines it says it folded must be on disk before it is
        self.prepare(state.job_id)
        previous = (state.seq, state.updated_at, state.writer, state.journal_offset)
        state.seq += 1
        state.updated_at = utc_now()
        state.writer = WriterInfo.current()
        state.journal_offset = book.journal.size
        redactor = get_redactor()
        path = self.state_path(state.job_id)
        layout, book.layout = book.layout, None
        try:
            head = head_fields(state)
            top = head_bytes(state, redactor)
            if background and layout is not None:
                # The sheets as last written (every change of one is journaled): those not
                # journaled since are copied from the last snapshot by the writer thread,
                # so neither this thread nor memory pays for the whole state.
                changed = unwritten(state, book.encoded, layout.count, redactor)
                self._writer.submit(path, top, list(state.sheets), changed, layout, book.folded)
            else:
                starts: array[int] = array("Q")
                atomic_write(path, streamed_document(top, state, book.encoded, redactor, starts))
                book.layout = Layout(starts, identity_of(path.stat()))
                book.snapshot_bytes = starts[-1] + 1
        except BaseException as exc:
            if not getattr(exc, "replaced", False):
                state.seq, state.updated_at, state.writer, state.journal_offset = previous
            raise
        book.instance_id = state.instance_id
        book.status = state.status
        book.seq = state.seq
        book.head = head
        book.config = copy.deepcopy(state.config_snapshot)
        book.encoded = {}
        book.lines_since_snapshot = 0
        book.journal_bytes = 0
        book.snapshot_at = time.monotonic()

    def flush(self) -> None:
        """Wait for a snapshot being written in the background (raising its failure)."""
        self._writer.wait()

    def compact(self, state: CheckpointState) -> None:
        """Fold the journal into a fresh snapshot (call at exit and whenever convenient)."""
        self.save(state)

    @serialised
    def record_sheet(
        self, state: CheckpointState, *sheet_nums: int, event: str = "", durable: Durability = True
    ) -> None:
        """Persist a change to the named sheets (and any job-level fields) cheaply.

        Appends one journal line instead of rewriting the snapshot, unless the snapshot is
        due: first write of this state, a job-status change, or a full journal window.
        With no sheet numbers, only job-level fields (costs, counters…) are recorded.
        ``event`` names the transition in the history (default ``sheet_<status>``);
        ``durable`` is as for `Journal.append`.
        """
        book = self._book(state.job_id)
        if (
            book.seq != state.seq
            or book.instance_id != state.instance_id
            or any(n not in state.sheets for n in sheet_nums)
        ):
            self.save(state)  # no baseline this state's lines could be applied to
            return
        previous = (state.seq, state.updated_at, state.writer)
        state.seq += 1
        state.updated_at = utc_now()
        state.writer = WriterInfo.current()
        redactor = get_redactor()
        current: dict[int, bytes] = {}
        try:
            patches: dict[int, dict[str, Any]] = {}
            whole: dict[int, bytes] = {}
            for num in dict.fromkeys(sheet_nums):
                data = current[num] = sheet_bytes(state.sheets[num], state.writer, redactor)
                baseline = book.encoded.get(num)
                if baseline is None:
                    whole[num] = data
                elif baseline != data:
                    patches[num] = sheet_patch(baseline, data)
            head = head_fields(state)
            touched = [(n, state.sheets[n].status) for n in (*patches, *whole)]
            delta = unimplied(book.head, head, head_delta(book.head, head), touched, HEAD_DEFAULTS)
            config_changed = state.config_snapshot != book.config
            if config_changed:
                delta["config_snapshot"] = state.config_snapshot
            event = event or default_event(state, sheet_nums)
            line = transition_line(state, event, patches, whole, delta, redactor)
            book.journal.append(line, durable=durable)
        except BaseException:
            state.seq, state.updated_at, state.writer = previous
            raise
        book.seq = state.seq
        book.head = head
        book.encoded.update(current)
        if config_changed:
            book.config = copy.deepcopy(state.config_snapshot)
        book.lines_since_snapshot += 1
        book.journal_bytes += len(line) + 1
        if state.status != book.status:
            self.save(state)
        elif self._fold_due(book):
            self._snapshot(state, background=True)

    def mark_sheet_status(
        self,
        job_id: str,
        sheet_num: int,
        status: SheetStatus,
        error_message: str | None = None,
    ) -> None:
        """Load the job, apply one sheet status change, persist it."""
        state = self.load(job_id)
        if state is None:
            raise KeyError(f"no state for job {job_id!r}")
        if status == SheetStatus.COMPLETED:
            state.mark_sheet_completed(sheet_num)
        elif status == SheetStatus.FAILED:
            state.mark_sheet_failed(sheet_num, error_message or "Unknown error")
        elif status == SheetStatus.IN_PROGRESS:
            state.mark_sheet_started(sheet_num)
        elif status == SheetStatus.SKIPPED:
            state.mark_sheet_skipped(sheet_num, error_message)
        else:
            state.sheet(sheet_num).status = status
        self.save(state)

    @serialised
    def delete(self, job_id: str, *, keep_history: bool = False) -> bool:
        """Remove the job's snapshot (and history unless ``keep_history``).

        The lock file stays: removing it while someone waits on it would let two
        processes lock two different files.
        """
        self._writer.wait()
        book = self._books.pop(job_id, None)
        if book is not None:
            book.journal.close()
        existed = False
        targets = [self.state_path(job_id)]
        if not keep_history:
            targets.append(self.history_path(job_id))
        for target in targets:
            try:
                target.unlink()
            except FileNotFoundError:
                continue
            existed = existed or target == targets[0]
        return existed

    def close(self) -> None:
        """Finish a snapshot write in flight, close every open history descriptor."""
        with contextlib.ExitStack() as closing:  # each is closed, whichever one raises
            for book in self._books.values():
                closing.callback(book.journal.close)
            self._writer.wait()

    # --- internals -------------------------------------------------------------------------

    def _book(self, job_id: str) -> WriterBook:
        book = self._books.get(job_id)
        if book is None:
            book = self._books[job_id] = WriterBook(Journal(self.history_path(job_id)))
        return book

    def _fold_due(self, book: WriterBook) -> bool:
        if book.journal_bytes > book.snapshot_bytes // 2 + FOLD_FLOOR_BYTES:
            return True
        if self.compact_every is not None and book.lines_since_snapshot >= self.compact_every:
            return True
        seconds = self.compact_seconds
        return seconds is not None and time.monotonic() - book.snapshot_at >= seconds

    def _read(self, job_id: str) -> CheckpointState | None:
        return read_state(job_id, self.state_path(job_id), self.history_path(job_id))
