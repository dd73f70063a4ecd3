"""Following every attempt of a job's current run at once: what `mzt logs -f JOB` shows.

Parallel sheets write side by side, so each attempt of the run gets its own tails and all
are read at every wake-up (a file event in the job's log folder or state folder, else a
look on a timer, through :class:`~mzt.views.file_events.Wakeups`). The checkpoint is read
again when the state files change, and now and then anyway: that is how attempts that
start are picked up and attempts that end are drained to the end of their files.

Only attempts of the current run are shown: those that began (or last wrote) after the
run started. A resumed or fresh run writes attempt files under the same names as the run
before it; until an attempt of this run rewrites its file, the old one is not shown.
Following ends when the run no longer holds the job's lock and every attempt followed has
been read to its end. The text is redacted; making it safe for a terminal is the
caller's job.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from mzt.state import JobStatus
from mzt.support import paths
from mzt.support.redact import redact
from mzt.views.file_events import Wakeups, polling_forced
from mzt.views.log_tail import DEFAULT_LINES, Tail
from mzt.views.logs import STREAMS, LogChunk, active_attempts, attempts_since
from mzt.views.lookup import JobView, open_job

# Longest wait between two wake-ups: tails are read and partial lines timed at this pace.
_IDLE_SECONDS = 0.1
# The checkpoint is read again at least this often, whatever the file events say ...
_LOOK_SECONDS = 0.5
# ... and at most this often while the state files keep changing.
_LOOK_AT_MOST_SECONDS = 0.1
# A partial line (a prompt, a progress bar) is shown once its stream has been quiet this
# long.
_PARTIAL_AFTER_SECONDS = 1.0
# File times come from a coarse kernel clock that may lag the run's start time a little.
_CLOCK_SLACK_SECONDS = 0.1


@dataclass
class _Followed:
    """One attempt being followed: a tail per stream."""

    sheet_num: int
    attempt: int
    tails: dict[str, Tail]
    grew_at: float
    partial_shown: bool = False


@dataclass
class JobLogFollower:
    """The attempts of one run being followed, updated by :meth:`look` and :meth:`read`."""

    view: JobView
    lines: int = DEFAULT_LINES
    clock: Callable[[], float] = time.monotonic
    followed: dict[tuple[int, int], _Followed] = field(default_factory=dict)
    seen: set[tuple[int, int]] = field(default_factory=set)
    finished: bool = False
    looked_at: float = float("-inf")
    not_before: float = 0.0

    def __post_init__(self) -> None:
        state = self.view.state
        # The run's start; a run still opening (its state not yet marked running) writes
        # nothing older than the state's last change.
        began = state.started_at if state.status == JobStatus.RUNNING else state.updated_at
        self.not_before = began.timestamp() - _CLOCK_SLACK_SECONDS if began else 0.0

    def _chunk(self, item: _Followed, stream: str, text: str) -> LogChunk:
        return LogChunk(item.sheet_num, item.attempt, stream, redact(text))

    def look(self, *, first: bool = False) -> list[LogChunk]:
        """Read the checkpoint: follow attempts that began, drain those that ended."""
        if not first:
            self.view = open_job(self.view.location)
        self.looked_at = self.clock()
        view = self.view
        active = active_attempts(view)
        chunks: list[LogChunk] = []
        began = attempts_since(view, active, self.not_before)
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
        self.finished = view.alive is not True and not self.followed
        return chunks

    def _start(self, sheet: int, attempt: int, *, primed: bool) -> _Followed:
        ws, job = self.view.workspace, self.view.job_id
        tails = {
            s: Tail(paths.attempt_log(ws, job, sheet, attempt, s), not_before=self.not_before)
            for s in STREAMS
        }
        if primed:  # running when following began: start a few lines back, like `tail -n`
            for tail in tails.values():
                tail.prime(self.lines)
        return _Followed(sheet, attempt, tails, self.clock())

    def read(self) -> list[LogChunk]:
        """Whole lines appended to every followed attempt, and partial lines long quiet."""
        chunks: list[LogChunk] = []
        now = self.clock()
        for item in self.followed.values():
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

    def look_due(self, changed: set[Path]) -> bool:
        """Whether to read the checkpoint again after a wake-up that saw ``changed``."""
        since = self.clock() - self.looked_at
        if since >= _LOOK_SECONDS or (not self.followed and since >= _LOOK_AT_MOST_SECONDS):
            return True  # nothing to read: the run's end (no file event) must not wait long
        if since < _LOOK_AT_MOST_SECONDS:
            return False
        ws, job = self.view.workspace, self.view.job_id
        state = {paths.state_file(ws, job), paths.history_file(ws, job)}
        return any(path in state or self._new_attempt(path) for path in changed)

    def _new_attempt(self, path: Path) -> bool:
        name = path.name.split(".")
        if len(name) != 3 or not name[0].startswith("sheet-"):
            return False
        try:
            key = (int(name[0][len("sheet-") :]), int(name[1][len("attempt-") :]))
        except ValueError:
            return False
        return key not in self.seen


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
    follower = JobLogFollower(view, lines=lines)
    yield from follower.look(first=True)
    if follower.finished:
        return
    job, ws = view.job_id, view.workspace
    state_folder, log_folder = paths.state_dir(ws), paths.logs_dir(ws, job)
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
        if follower.look_due(changed):
            yield from follower.look()
        else:
            yield from follower.read()
        if follower.finished or (stop is not None and stop.is_set()):
            return
