"""Following one job live: a frame of its status every time its files change.

`mzt watch` is a reader like `status`: it never takes the run's lock and never writes. It
waits for changes of the job's snapshot and journal with watchfiles (inotify on Linux), on
the job's ``.marianne/`` folder only (not recursively, so one watch whatever the job's
size). Where inotify is unavailable or its per-user limits are used up (watchfiles then
raises), or when ``MZT_WATCH_POLL=1`` asks for it, it polls the files' sizes and times
instead.

Each journal line is applied on its own, so a change that arrives together with others
still gets its own frame: a watcher sees every completed count in order, however fast
sheets finish. The lock release at the end of a run makes no file event, so the lock is
probed on a timer: often while a finished job's run is exiting, now and then while it
runs (that is how a run killed with SIGKILL is noticed).

Following ends when the job is finished and its run has let go of the lock: completed,
failed or cancelled, or paused (including a run that died). The last frame says so and
carries the exit code `mzt run` gives for that status.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mzt.state.hook_rounds import failures
from mzt.state.reading import Checkpoint, JobRef, read_checkpoint
from mzt.support import records
from mzt.support.errors import JobNotFoundError
from mzt.support.exitcodes import ExitCode
from mzt.views.file_events import Wakeups, polling_forced
from mzt.views.liveness import Liveness, exit_code_for, judge

if TYPE_CHECKING:
    from mzt.views.slurm_jobs import SlurmJob, SlurmLookup

SCHEMA_WATCH = "mzt.watch/1"
DEFAULT_POLL_INTERVAL = 0.25
# How often the lock of a running job is probed when no file changes: a run killed with
# SIGKILL changes no file, so this bounds how long its death goes unnoticed.
LIVENESS_INTERVAL = 1.0
# How often a live run's slot queues are read again when no ticket made a file event (the
# tickets folders appear with the first wait; polling sees no events at all).
SLOT_INTERVAL = 1.0
# A sheet in one of these no longer waits for a slot, whatever the last look at the queues
# saw: its attempt took them (or it is over).
_PAST_SLOTS = frozenset(
    {"dispatched", "in_progress", "completed", "failed", "skipped", "cancelled"}
)
# While a job's files say it is finished but its run still holds the lock (it is folding
# the journal and exiting), probe often: the watch should end right after the run.
EXITING_INTERVAL = 0.05


@records.record(frozen=True)
class WatchFrame:
    """The job as seen at one moment; ``final`` on the last frame of a watch."""

    ts: datetime
    job_id: str
    job_name: str | None
    status: str
    alive: bool | None
    pid: int | None
    completed: int
    total: int
    failed: int
    running_sheets: tuple[int, ...]
    updated_at: str | None
    error_message: str | None
    event: str | None
    seq: int | None
    started_at: str | None = None
    final: bool = False
    counts: dict[str, int] = records.field(default_factory=dict)
    # The run this watch saw ended completed with on_success hooks failing (exit 6).
    hooks_failed: bool = False
    # (sheet, limit, text) of each wait for machine slots; sheet None: the run's job slot.
    slot_waits: tuple[tuple[int | None, str, str], ...] = ()
    # The running attempts that are Slurm jobs, where Slurm last said they were.
    slurm_jobs: tuple[SlurmJob, ...] = ()

    @property
    def exit_code(self) -> int | None:
        """On the final frame, the exit code `mzt run` gives for this status."""
        if not self.final:
            return None
        if self.hooks_failed and self.status == "completed":
            return int(ExitCode.HOOK_FAILED)
        return exit_code_for(self.status)

    @property
    def key(self) -> tuple[Any, ...]:
        """What makes two frames different enough to show both."""
        return (
            self.status,
            self.alive,
            self.completed,
            self.total,
            self.failed,
            self.running_sheets,
            # A sheet starting or stopping to wait, not every change of who holds the slots.
            tuple((sheet, limit) for sheet, limit, _ in self.slot_waits),
            tuple((job.sheet_num, job.job_id, job.state, job.node) for job in self.slurm_jobs),
        )

    def to_json(self) -> dict[str, Any]:
        """The ``mzt.watch/1`` line (the documented fields first)."""
        return {
            "schema": SCHEMA_WATCH,
            "ts": self.ts.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "job_id": self.job_id,
            "status": self.status,
            "progress": {"completed": self.completed, "total": self.total},
            "running_sheets": list(self.running_sheets),
            "alive": self.alive,
            "failed": self.failed,
            "event": self.event,
            "seq": self.seq,
            "final": self.final,
            "exit_code": self.exit_code,
            "waiting_for_slot": [
                {"sheet": sheet, "limit": limit, "text": text}
                for sheet, limit, text in self.slot_waits
            ],
            "slurm_attempts": [job.to_json() for job in self.slurm_jobs],
        }


class JobTracker:
    """Reads one job incrementally: the snapshot when it is replaced, else new journal lines.

    Everything comes from the store's loader (:mod:`mzt.state.reading`); after the first
    read only the new journal lines are applied, so a frame costs little even for a job of
    thousands of sheets.
    """

    def __init__(self, ref: JobRef, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.ref = ref
        self.clock = clock
        self.checkpoint: Checkpoint | None = None
        self.liveness: Liveness | None = None
        self.finished = False
        self._identity: tuple[int, ...] | None = None
        self._journal_pos = 0
        self._journal_seen = 0
        self._probed_at = float("-inf")
        self._shown: tuple[Any, ...] | None = None
        self._saw_run = False  # a run of the job was seen: its end is this watch's outcome
        self._waits: tuple[tuple[int | None, str, str], ...] = ()
        self._waits_read_at = float("-inf")
        self._slurm: SlurmLookup | None = None

    # --- reading ---------------------------------------------------------------------------

    def _state_identity(self) -> tuple[int, ...]:
        try:
            st = self.ref.state_path.stat()
        except FileNotFoundError:
            raise JobNotFoundError(self.ref.job_id, [str(self.ref.state_path)]) from None
        return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)

    def _reread(self) -> None:
        self._identity = self._state_identity()
        self._journal_seen = self._journal_size()
        self.checkpoint = read_checkpoint(self.ref)
        self._journal_pos = self.checkpoint.journal_end
        self._journal_seen = max(self._journal_seen, self._journal_pos)

    def _advance(self, changed: Callable[[str], None]) -> None:
        """Apply the journal lines written since the last read, calling ``changed`` after each.

        The lines come first even when the snapshot was replaced meanwhile: they are the
        transitions in order (the new snapshot holds only their sum), so each still gets
        its own frame. Then a replaced snapshot is read again.
        """
        assert self.checkpoint is not None
        replaced = self._state_identity() != self._identity
        events = self.checkpoint.advance(changed)
        if events is None:
            self._reread()  # a fresh run's journal, or a damaged line: the loader judges
            return
        self._journal_pos = self.checkpoint.journal_end
        self._journal_seen = max(self._journal_seen, self._journal_pos)
        if replaced:
            self._reread()

    def refresh(self) -> Checkpoint:
        """The checkpoint brought up to date: the journal's new lines, or a full read."""
        if self.checkpoint is None:
            self._reread()
        else:
            self._advance(lambda _event: None)
        assert self.checkpoint is not None
        return self.checkpoint

    def _journal_size(self) -> int:
        try:
            return self.ref.history_path.stat().st_size
        except FileNotFoundError:
            return 0

    # --- frames ----------------------------------------------------------------------------

    def _judge(self) -> None:
        assert self.checkpoint is not None
        self.liveness = judge(self.checkpoint)
        self._probed_at = self.clock()

    def _read_waits(self, *, now: bool) -> None:
        """The run's waits for machine slots, read again when a ticket changed (``now``) or
        after :data:`SLOT_INTERVAL`; only a live, running run waits for a slot."""
        assert self.liveness is not None
        if not (self.liveness.alive and self._running()):
            self._waits = ()
            return
        if not now and self.clock() - self._waits_read_at < SLOT_INTERVAL:
            return
        from mzt.machine.slot_waits import waiting_sheets

        self._waits_read_at = self.clock()
        waits = waiting_sheets(self.ref.job_id, self.ref.workspace)
        self._waits = tuple(
            (sheet, wait.limit, wait.text)
            for sheet, wait in sorted(waits.items(), key=lambda item: item[0] or 0)
        )

    def _frame(self, event: str | None, *, final: bool = False) -> WatchFrame:
        checkpoint, liveness = self.checkpoint, self.liveness
        assert checkpoint is not None and liveness is not None
        head = checkpoint.head
        status = checkpoint.status
        pid = head.get("pid")
        dead = liveness.verdict == "dead"
        if status == "running" and dead:
            status, pid = "paused", None  # as the loader shows a run that died
        self._saw_run = self._saw_run or bool(liveness.alive) or status == "running"
        hooks_failed = final and self._saw_run and bool(failures(checkpoint.state.hook_results))
        counts: dict[str, int] = {}
        for sheet in checkpoint.sheets.values():
            counts[sheet.status.value] = counts.get(sheet.status.value, 0) + 1
        return WatchFrame(
            ts=datetime.now(UTC),
            job_id=self.ref.job_id,
            job_name=head.get("job_name"),
            status=status,
            alive=liveness.alive,
            pid=pid,
            completed=counts.get("completed", 0),
            total=checkpoint.total,
            failed=counts.get("failed", 0),
            running_sheets=() if dead else tuple(checkpoint.running_sheets),
            updated_at=head.get("updated_at"),
            error_message=head.get("error_message"),
            event=event,
            seq=head.get("seq"),
            started_at=head.get("started_at"),
            final=final,
            counts=counts,
            hooks_failed=hooks_failed,
            slot_waits=() if final or dead else self._current_waits(checkpoint),
            slurm_jobs=() if final or dead else self.slurm_jobs(checkpoint),
        )

    def slurm_jobs(self, checkpoint: Checkpoint) -> tuple[SlurmJob, ...]:
        """The running attempts of ``checkpoint`` that are Slurm jobs, Slurm asked at most
        every :data:`~mzt.views.slurm_jobs.ASK_EVERY` unless their ids changed."""
        running = checkpoint.running_sheets
        if not any(checkpoint.sheets[num].attempt_handle for num in running):
            return ()  # no attempt recorded where it runs: Slurm has nothing to say
        if self._slurm is None:
            from mzt.views.slurm_jobs import SlurmLookup

            self._slurm = SlurmLookup(clock=self.clock)
        return self._slurm.jobs(checkpoint.state, running)

    def _current_waits(self, checkpoint: Checkpoint) -> tuple[tuple[int | None, str, str], ...]:
        """The waits last read, less those the checkpoint has overtaken since (a sheet whose
        attempt started, the job slot once a sheet runs)."""
        running = bool(checkpoint.running_sheets)

        def current(sheet: int | None) -> bool:
            if sheet is None:
                return not running
            found = checkpoint.sheets.get(sheet)
            return found is None or found.status.value not in _PAST_SLOTS

        return tuple(wait for wait in self._waits if current(wait[0]))

    def _running(self) -> bool:
        return self.checkpoint is not None and self.checkpoint.status == "running"

    def _exiting(self) -> bool:
        """The files say the job stopped, but its run still holds the lock."""
        return bool(self.liveness and self.liveness.alive) and not self._running()

    def _over(self) -> bool:
        """Nothing runs the job (its lock is free) and its files say it stopped."""
        assert self.checkpoint is not None and self.liveness is not None
        if self.liveness.alive is not False:
            return False  # a run holds the lock, or it runs on another host
        return not self._running() or self.liveness.verdict == "dead"

    def update(self, *, first: bool = False, slots_changed: bool = False) -> list[WatchFrame]:
        """Frames for what changed since the last call (the first call gives one at least).

        ``slots_changed``: a ticket came or went in a slot queue, so the run's waits for
        machine slots are read again now (else at most every :data:`SLOT_INTERVAL`).

        The watch is over (``finished``; the last frame is ``final``) once :meth:`_over`
        holds and the files did not change between reading them and finding the lock
        free, so a run finishing at that very moment is never taken for a dead one.
        """
        frames: list[WatchFrame] = []

        def show(event: str | None, *, always: bool = False) -> None:
            frame = self._frame(event)
            if always or frame.key != self._shown:
                frames.append(frame)
                self._shown = frame.key

        if self.liveness is not None and slots_changed:
            # Before the journal's new lines: their frames must not show a wait that ended.
            self._read_waits(now=True)
        for _ in range(10):  # files that keep changing under a free lock: look again, briefly
            if self.finished:
                return frames
            before = self.checkpoint.status if self.checkpoint else None
            if self.checkpoint is None or self.liveness is None:
                self._reread()
            else:
                self._advance(show)
            interval = EXITING_INTERVAL if self._exiting() else LIVENESS_INTERVAL
            if (
                self.liveness is None
                or self.checkpoint is None
                or self.checkpoint.status != before
                or self.clock() - self._probed_at >= interval
                or frames
            ):
                self._judge()
            self._read_waits(now=first)
            show(None, always=first and not frames)
            if not self._over():
                return frames
            if (self._state_identity(), self._journal_size()) != (
                self._identity,
                self._journal_seen,
            ):
                continue  # written meanwhile: read it again before calling it finished
            self.finished = True
            last = self._frame(frames[-1].event if frames else None, final=True)
            if frames:
                frames[-1] = last
            else:
                frames.append(last)
            return frames
        return frames

    def wait_hint(self, poll_interval: float) -> float:
        """How long to wait for a file change before looking again anyway."""
        if self._exiting():
            return EXITING_INTERVAL
        return min(poll_interval, LIVENESS_INTERVAL)


def follow(
    ref: JobRef,
    *,
    poll_interval: float = DEFAULT_POLL_INTERVAL,
    force_poll: bool | None = None,
    stop: threading.Event | None = None,
    on_mode: Callable[[str], None] | None = None,
) -> Iterator[WatchFrame]:
    """Frames of ``ref``'s status: now, after each change, and a final one at the end.

    A job that is not running gives one final frame at once. ``force_poll`` (default:
    ``MZT_WATCH_POLL``) skips watchfiles; ``stop`` ends the watch early (no final frame);
    ``on_mode`` hears whether file events or polling drive the watch. Raises
    :class:`~mzt.support.errors.JobNotFoundError` if the checkpoint disappears and
    :class:`~mzt.support.errors.StateCorruptionError` if it becomes unusable.
    """
    tracker = JobTracker(ref)
    yield from tracker.update(first=True)
    if tracker.finished:
        return
    from mzt.machine.slot_waits import TICKETS, tickets_folders

    names = {ref.state_path.name, ref.history_path.name}
    wakeups = Wakeups(
        # The slot queues too: a sheet starts or stops waiting for a slot with no change of
        # the job's own files.
        folders=lambda: [ref.state_path.parent, *tickets_folders()],
        relevant=lambda path: path.name in names or path.parent.name == TICKETS,
        # The shortest interval the tracker may need; it decides itself whether a look is due.
        idle=EXITING_INTERVAL,
        poll=lambda: tracker.wait_hint(poll_interval),
        force_poll=polling_forced() if force_poll is None else force_poll,
        stop=stop,
    )
    reported = ""
    for changed in wakeups:
        if on_mode is not None and wakeups.mode != reported:
            reported = wakeups.mode
            on_mode(reported)
        yield from tracker.update(slots_changed=any(p.parent.name == TICKETS for p in changed))
        if tracker.finished or (stop is not None and stop.is_set()):
            return
