"""Following every attempt of a job's current run at once: what `mzt logs -f JOB` shows.

Parallel sheets write side by side, so each attempt of the run gets its own tails and all
are read at every wake-up (a file event in the job's log folder or state folder, else a
look on a timer, through :class:`~mzt.views.file_events.Wakeups`). The checkpoint is read
again when the state files change, and now and then anyway: that is how attempts that
start are picked up and attempts that end are drained to the end of their files.

Only attempts of the current run are shown: those running when following begins and
those that start after. A resumed or fresh run writes attempt files under the same names
as the run before it; until an attempt of this run rewrites its file, the old one is not
shown.
Following ends when the run no longer holds the job's lock and every attempt followed has
been read to its end. The text is redacted; making it safe for a terminal is the
caller's job.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from mzt.state.reading import JobRef
from mzt.support import paths, records
from mzt.support.redact import redact
from mzt.views.file_events import Wakeups, polling_forced
from mzt.views.liveness import judge
from mzt.views.log_tail import DEFAULT_LINES, Tail
from mzt.views.logs import (
    CLOCK_SLACK_SECONDS,
    STREAMS,
    LogChunk,
    LogFile,
    active_attempts,
    attempt_of,
    attempts_since,
    log_files,
    named_log_files,
    run_start,
)
from mzt.views.watch import JobTracker

if TYPE_CHECKING:
    from mzt.state import CheckpointState
    from mzt.views.lookup import JobView

# Longest wait between two wake-ups: tails are read and partial lines timed at this pace.
_IDLE_SECONDS = 0.1
# The checkpoint is read again at least this often, whatever the file events say ...
_LOOK_SECONDS = 0.5
# ... and at most this often while the state files keep changing.
_LOOK_AT_MOST_SECONDS = 0.1
# A partial line (a prompt, a progress bar) is shown once its stream has been quiet this
# long.
_PARTIAL_AFTER_SECONDS = 1.0
# The log folder is scanned this often when polling (file events name new files) ...
_SCAN_POLLING_SECONDS = 0.5
# ... and with file events, in case some were lost (the kernel's queue overflowed) ...
_SCAN_EVENTS_SECONDS = 5.0
# ... but never so often that scanning takes more than this share of the time.
_SCAN_COST_FACTOR = 10


@records.record
class _Followed:
    """One attempt being followed: a tail per stream."""

    sheet_num: int
    attempt: int
    tails: dict[str, Tail]
    grew_at: float
    partial_shown: bool = False


# The job's state as read now, and whether its run is alive (``None``: cannot be known).
StateReader = Callable[[], "tuple[CheckpointState, bool | None]"]


@records.record
class JobLogFollower:
    """The attempts of one run being followed, updated by :meth:`look` and :meth:`read`.

    The first look follows the attempts running then; later looks add those the state
    shows running and those whose files appeared since following began: named by a file
    event, or found by a scan of the log folder (thousands of files in a big job, so it is
    scanned only now and then, less often the longer a scan takes, and at the run's end).
    """

    workspace: Path
    job_id: str
    read_state: StateReader
    lines: int = DEFAULT_LINES
    clock: Callable[[], float] = time.monotonic
    followed: dict[tuple[int, int], _Followed] = records.field(default_factory=dict)
    seen: set[tuple[int, int]] = records.field(default_factory=set)
    finished: bool = False
    looked_at: float = float("-inf")
    not_before: float | None = None  # the run's start: older files are an earlier run's
    files_since: float | None = None  # when following began (Unix time)
    scanned_at: float = float("-inf")
    scan_cost: float = 0.0

    def _chunk(self, item: _Followed, stream: str, text: str) -> LogChunk:
        return LogChunk(item.sheet_num, item.attempt, stream, redact(text))

    def scan_due(self, *, polling: bool) -> bool:
        """Whether a scan of the log folder is due (when polling, only a scan finds files)."""
        every = _SCAN_POLLING_SECONDS if polling else _SCAN_EVENTS_SECONDS
        return self.clock() - self.scanned_at >= max(every, _SCAN_COST_FACTOR * self.scan_cost)

    def _files(self, scan: bool, named: set[Path]) -> list[LogFile]:
        if not scan:
            return named_log_files(named)
        started = self.clock()
        files = log_files(self.workspace, self.job_id)
        self.scanned_at = self.clock()
        self.scan_cost = self.scanned_at - started
        return files

    def look(
        self, *, first: bool = False, scan: bool = False, named: set[Path] | None = None
    ) -> list[LogChunk]:
        """Read the checkpoint: follow attempts that began, drain those that ended.

        Attempts that began and ended between two looks are found by their files: those
        ``named`` (by file events), or all of them with ``scan``; the run's end scans.
        """
        state, alive = self.read_state()
        if self.not_before is None:
            self.not_before = run_start(state)
        if self.files_since is None:
            self.files_since = time.time() - CLOCK_SLACK_SECONDS
        self.looked_at = self.clock()
        if first:
            self.scanned_at = self.looked_at  # nothing of this run to find in files yet
        active = active_attempts(state, alive)
        over = alive is not True
        files = [] if first and not over else self._files(scan or over, named or set())
        chunks: list[LogChunk] = []
        began = attempts_since(files, state, active, self.files_since)
        for key in sorted(began, key=lambda k: (began[k], k)):
            if key in self.seen:
                continue
            self.seen.add(key)
            item = self._start(*key, primed=first)
            self.followed[key] = item
            chunks.append(LogChunk(item.sheet_num, item.attempt, "attempt", ""))
        chunks.extend(self.read())
        for key in [k for k in self.followed if active.get(k[0]) != k[1]]:
            # Over: its output was closed before the state said so, so this is all of it.
            item = self.followed.pop(key)
            for stream, tail in item.tails.items():
                text = tail.read() + tail.flush(final=True)
                if text:
                    chunks.append(self._chunk(item, stream, text))
        self.finished = alive is not True and not self.followed
        return chunks

    def _start(self, sheet: int, attempt: int, *, primed: bool) -> _Followed:
        ws, job, since = self.workspace, self.job_id, self.not_before or 0.0
        tails = {
            s: Tail(paths.attempt_log(ws, job, sheet, attempt, s), not_before=since)
            for s in STREAMS
        }
        if primed:  # running when following began: start a few lines back, like `tail -n`
            for tail in tails.values():
                tail.prime(self.lines)
        return _Followed(sheet, attempt, tails, self.clock())

    def read(self, only: set[Path] | None = None) -> list[LogChunk]:
        """Whole lines appended to the followed attempts, and partial lines long quiet.

        ``only``: just the attempts with a file among these paths (those a file event
        named); the others wait for the next look at all of them.
        """
        chunks: list[LogChunk] = []
        now = self.clock()
        for item in self.followed.values():
            if only is not None and not any(t.path in only for t in item.tails.values()):
                continue
            grew = False
            for stream, tail in item.tails.items():
                text = tail.read()
                if text:
                    grew = True
                    chunks.append(self._chunk(item, stream, text))
            if grew:
                item.grew_at, item.partial_shown = now, False
            elif not item.partial_shown and now - item.grew_at >= _PARTIAL_AFTER_SECONDS:
                item.partial_shown = True
                for stream, tail in item.tails.items():
                    if text := tail.flush():
                        chunks.append(self._chunk(item, stream, text))
        return chunks

    def due(self, changed: set[Path], *, polling: bool) -> tuple[bool, bool]:
        """After a wake-up that saw ``changed``: read the checkpoint? scan the log folder?"""
        since = self.clock() - self.looked_at
        if since < _LOOK_AT_MOST_SECONDS:
            return False, False
        scan = self.scan_due(polling=polling)
        if since >= _LOOK_SECONDS or scan:
            return True, scan
        ws, job = self.workspace, self.job_id
        state = {paths.state_file(ws, job), paths.history_file(ws, job)}
        new = any(self._new_attempt(path) for path in changed)
        # Nothing followed: the run's end makes no file event and must not wait long.
        return new or not self.followed or any(path in state for path in changed), False

    def _new_attempt(self, path: Path) -> bool:
        key = attempt_of(path.name)
        return key is not None and key not in self.seen


def follow_job(
    view: JobView,
    *,
    lines: int = DEFAULT_LINES,
    force_poll: bool | None = None,
    stop: threading.Event | None = None,
) -> Iterator[LogChunk]:
    """Every attempt of the job's current run, as it writes, until the run ends.

    Attempts running now start ``lines`` lines back (0: all); attempts that begin later
    are shown from their first line. Each newly followed attempt is announced by an
    ``attempt`` chunk; the others carry whole lines of ``stdout`` or ``stderr`` (a partial
    line once it has been quiet for a second, or at the attempt's end).
    """
    tracker = JobTracker(JobRef(view.job_id, view.workspace))

    def read_state() -> tuple[CheckpointState, bool | None]:
        checkpoint = tracker.refresh()  # only the journal's new lines, mostly
        return checkpoint.state, judge(checkpoint).alive

    # Judged from the state the caller saw: a run that ends before the first look is
    # still this run.
    follower = JobLogFollower(
        view.workspace, view.job_id, read_state, lines=lines, not_before=run_start(view.state)
    )
    yield from follower.look(first=True)
    if follower.finished:
        return
    job, ws = view.job_id, view.workspace
    state_folder, log_folder = paths.job_state_dir(ws, job), paths.logs_dir(ws, job)
    state_files = {paths.state_file(ws, job), paths.history_file(ws, job)}

    def relevant(path: Path) -> bool:
        return path.parent == log_folder or path in state_files

    wakeups = Wakeups(
        folders=lambda: [state_folder, log_folder],
        relevant=relevant,
        idle=_IDLE_SECONDS,
        poll=lambda: _IDLE_SECONDS,
        force_poll=polling_forced() if force_poll is None else force_poll,
        stop=stop,
    )
    for changed in wakeups:
        look, scan = follower.due(changed, polling=wakeups.mode == "polling")
        if look:
            yield from follower.look(scan=scan, named=changed)
        elif changed and wakeups.mode == "events":
            yield from follower.read(changed)
        else:
            yield from follower.read()  # a quiet spell, or polling: look at every file
        if follower.finished or (stop is not None and stop.is_set()):
            return
