"""What `mzt logs` shows: the instrument output of a sheet's attempts, and following it live.

Each attempt's output lives in ``<ws>/.marianne/logs/<job>/sheet-<N>.attempt-<K>.stdout``
and ``.stderr`` (credentials redacted as they were written; the files appear with the first
byte of output). Reading opens them without following symlinks and never writes. Text is
returned as stored and redacted once more; showing it on a terminal is the caller's job,
through :func:`mzt.support.terminal.sanitize_terminal`.
"""

from __future__ import annotations

import os
import re
import stat
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mzt.support import paths, records
from mzt.support.redact import redact
from mzt.views.history import InspectTargetError, check_sheet
from mzt.views.log_tail import DEFAULT_LINES, Tail
from mzt.views.lookup import JobView, open_job

if TYPE_CHECKING:
    from mzt.state import CheckpointState

STREAMS = ("stdout", "stderr")
_NAME = re.compile(r"^sheet-(\d+)\.attempt-(\d+)\.(stdout|stderr)$")
_POLL_SECONDS = 0.1
# How often a quiet follow re-reads the checkpoint to learn whether the attempt is over.
_STATE_CHECK_SECONDS = 0.5
# A partial line (a prompt, a progress bar) is shown once the stream has been quiet this long.
_PARTIAL_AFTER_SECONDS = 1.0


@records.record(frozen=True, slots=True)
class LogFile:
    """One attempt log file on disk."""

    path: Path
    sheet_num: int
    attempt: int
    stream: str
    size: int
    modified: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "sheet_num": self.sheet_num,
            "attempt": self.attempt,
            "stream": self.stream,
            "size": self.size,
            "modified": self.modified.isoformat().replace("+00:00", "Z"),
        }


def log_files(workspace: Path, job_id: str) -> list[LogFile]:
    """The job's attempt logs by sheet, attempt and stream; anything else there is ignored."""
    folder = paths.logs_dir(workspace, job_id)
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    found = [f for entry in entries if (f := _log_file(entry.path, entry.name)) is not None]
    found.sort(key=lambda f: (f.sheet_num, f.attempt, STREAMS.index(f.stream)))
    return found


def named_log_files(names: set[Path]) -> list[LogFile]:
    """The attempt logs among ``names`` (paths in a job's log folder)."""
    return [f for path in names if (f := _log_file(str(path), path.name)) is not None]


def attempt_of(name: str) -> tuple[int, int] | None:
    """(sheet, attempt) of an attempt log's file name; ``None`` for any other name."""
    match = _NAME.match(name)
    return (int(match[1]), int(match[2])) if match else None


def _log_file(path: str, name: str) -> LogFile | None:
    match = _NAME.match(name)
    if match is None:
        return None
    try:
        st = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return None  # a symlink planted here must not make us show another file
    modified = datetime.fromtimestamp(st.st_mtime, UTC)
    return LogFile(Path(path), int(match[1]), int(match[2]), match[3], st.st_size, modified)


@records.record(frozen=True)
class AttemptLogs:
    """The log files of one attempt (either may not exist yet)."""

    sheet_num: int
    attempt: int
    stdout: Path
    stderr: Path
    files: list[LogFile]
    running: bool

    def path(self, stream: str) -> Path:
        return self.stdout if stream == "stdout" else self.stderr


def active_attempts(state: CheckpointState, alive: bool | None) -> dict[int, int]:
    """Sheet → attempt being written now (only while the run is alive)."""
    if alive is not True:
        return {}
    return {
        n: state.sheets[n].attempt_count
        for n in state.sheets_in_progress
        if n in state.sheets and state.sheets[n].status.is_active
    }


def select_attempt(
    view: JobView, *, sheet: int | None = None, attempt: int | None = None
) -> AttemptLogs:
    """The attempt `mzt logs` shows.

    Default sheet: the one running now (the latest started when several run), else the
    sheet whose output was written last, else the sheet started last. Default attempt: the
    sheet's latest. A sheet,
    attempt or job without any of them raises :class:`~mzt.views.history.InspectTargetError`
    whose hint lists what exists.
    """
    state = view.state
    files = log_files(view.workspace, view.job_id)
    active = active_attempts(view.state, view.alive)
    with_output = sorted({f.sheet_num for f in files})
    listing = f"Sheets with output: {_short(with_output)}." if with_output else ""
    if sheet is None:
        if active:
            sheet = max(active, key=lambda n: (_started(view, n), n))
        elif files:
            sheet = max(files, key=lambda f: (f.modified, f.sheet_num)).sheet_num
        elif ran := [n for n, s in state.sheets.items() if s.attempt_count]:
            sheet = max(ran, key=lambda n: (_started(view, n), n))  # it ran, silently
        else:
            raise InspectTargetError(
                f"Job '{view.job_id}' has no instrument output yet.",
                hint="No attempt has written anything; `mzt history` lists the attempts.",
            )
    check_sheet(state, sheet)
    record = state.sheets.get(sheet)
    attempts = record.attempt_count if record else 0
    known = set(range(1, attempts + 1)) | {f.attempt for f in files if f.sheet_num == sheet}
    if not known:
        raise InspectTargetError(
            f"Sheet {sheet} of job '{view.job_id}' has not run yet.",
            hint=listing or "No sheet has written output yet.",
        )
    if attempt is None:
        attempt = max(known)
    elif attempt not in known:
        have = sorted(known)
        raise InspectTargetError(
            f"Sheet {sheet} of job '{view.job_id}' has no attempt {attempt}.",
            hint=f"Its attempts: {_short(have)}. {listing}".strip(),
        )
    return AttemptLogs(
        sheet_num=sheet,
        attempt=attempt,
        stdout=paths.attempt_log(view.workspace, view.job_id, sheet, attempt, "stdout"),
        stderr=paths.attempt_log(view.workspace, view.job_id, sheet, attempt, "stderr"),
        files=[f for f in files if f.sheet_num == sheet and f.attempt == attempt],
        running=active.get(sheet) == attempt,
    )


def await_attempt(
    view: JobView,
    *,
    sheet: int | None = None,
    attempt: int | None = None,
    poll: float = _STATE_CHECK_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[JobView, AttemptLogs]:
    """:func:`select_attempt`, waiting while the run is alive but the attempt not started.

    Following a job that was just launched (or a sheet still waiting for its turn) then
    begins when there is something to follow. A sheet number the job does not have, or a
    run that ends before the attempt starts, raises as :func:`select_attempt` does.
    """
    if sheet is not None:
        check_sheet(view.state, sheet)
    while True:
        try:
            if not _earlier_run(view, sheet, attempt):
                return view, select_attempt(view, sheet=sheet, attempt=attempt)
        except InspectTargetError:
            if view.alive is not True:
                raise
        sleep(poll)
        view = open_job(view.location)


def _earlier_run(view: JobView, sheet: int | None, attempt: int | None) -> bool:
    """Whether the sheet's latest attempt belongs to a run before the live one (a resumed
    job whose sheet has not started again yet): following it would show old output."""
    if sheet is None or attempt is not None or view.alive is not True:
        return False
    record = view.state.sheets.get(sheet)
    if record is None or record.status.is_terminal:
        return False  # this run will not run it again: its last attempt is the one to show
    started = record.started_at
    return started is None or started.timestamp() < run_start(view.state)


# File times come from a coarse kernel clock that may lag the run's start time a little.
CLOCK_SLACK_SECONDS = 0.1


def run_start(state: CheckpointState) -> float:
    """When the current run began (Unix time), as far as files written by it can tell.

    A run still opening (its state not yet marked running) writes nothing older than the
    state's last change.
    """
    began = state.started_at if state.status == "running" else state.updated_at
    return began.timestamp() - CLOCK_SLACK_SECONDS if began else 0.0


def _started(view: JobView, sheet: int) -> float:
    started = view.state.sheets[sheet].started_at
    return started.timestamp() if started else 0.0


def _short(nums: list[int]) -> str:
    shown = ", ".join(map(str, nums[:20]))
    return shown + (f" … ({len(nums)} in all)" if len(nums) > 20 else "")


@records.record(frozen=True, slots=True)
class LogChunk:
    """Output that arrived while following: ``stream`` is stdout, stderr or ``attempt``.

    An ``attempt`` chunk announces that following moved on to another attempt.
    """

    sheet_num: int
    attempt: int
    stream: str
    text: str


def follow(
    view: JobView,
    target: AttemptLogs,
    *,
    lines: int = DEFAULT_LINES,
    pinned_sheet: bool = False,
    pinned_attempt: bool = False,
    poll: float = _POLL_SECONDS,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[LogChunk]:
    """Yield an attempt's output as it is written, starting ``lines`` lines back.

    It stops once the attempt is over and its files stopped growing. Unless the attempt
    was named (``pinned_attempt``), it then moves on to the next attempt while the run is
    alive: the same sheet's next attempt when the sheet was named, else whichever attempt
    starts next, announcing each with an ``attempt`` chunk. It ends when the run is no
    longer alive (or the named sheet is finished) and the last files stopped growing.
    """
    current = target
    since = time.time()
    seen = {(target.sheet_num, target.attempt)}
    tails = {s: Tail(current.path(s)) for s in STREAMS}
    for tail in tails.values():
        tail.prime(lines)
    last_growth = clock()
    last_check = last_growth - _STATE_CHECK_SECONDS  # a finished attempt ends at once
    while True:
        grew = False
        for stream, tail in tails.items():
            text = tail.read()
            if text:
                grew = True
                yield LogChunk(current.sheet_num, current.attempt, stream, redact(text))
        now = clock()
        if grew:
            last_growth = now
            sleep(poll)
            continue
        if now - last_growth >= _PARTIAL_AFTER_SECONDS:
            yield from _flush(current, tails)
        if now - last_check < _STATE_CHECK_SECONDS:
            sleep(poll)
            continue
        last_check = now
        view = open_job(view.location)
        active = active_attempts(view.state, view.alive)
        if active.get(current.sheet_num) == current.attempt:
            sleep(poll)
            continue
        # The attempt is over and its output closed before the state said so: drain it.
        for stream, tail in tails.items():
            text = tail.read() + tail.flush(final=True)
            if text:
                yield LogChunk(current.sheet_num, current.attempt, stream, redact(text))
        if pinned_attempt:
            return
        sheet = current.sheet_num if pinned_sheet else None
        following = _next_attempt(view, active, seen, sheet, since)
        if following is None:
            record = view.state.sheets.get(current.sheet_num)
            finished = pinned_sheet and (record is None or record.status.is_terminal)
            if view.alive is not True or finished:
                return
            sleep(poll)
            continue
        current = following
        seen.add((current.sheet_num, current.attempt))
        tails = {s: Tail(current.path(s)) for s in STREAMS}
        last_growth = clock()
        yield LogChunk(current.sheet_num, current.attempt, "attempt", "")


def _flush(current: AttemptLogs, tails: dict[str, Tail]) -> Iterator[LogChunk]:
    for stream, tail in tails.items():
        text = tail.flush()
        if text:
            yield LogChunk(current.sheet_num, current.attempt, stream, redact(text))


def attempts_since(
    files: list[LogFile], state: CheckpointState, active: dict[int, int], since: float
) -> dict[tuple[int, int], float]:
    """(sheet, attempt) → when it began: the ``active`` ones, and ``files`` written since ``since``.

    Attempts that started and ended between two looks are found by their files, so a
    fast sequence of attempts is still seen in full.
    """
    candidates: dict[tuple[int, int], float] = {}
    for f in files:
        stamp = f.modified.timestamp()
        if stamp >= since:
            key = (f.sheet_num, f.attempt)
            candidates[key] = min(candidates.get(key, stamp), stamp)
    for num, attempt in active.items():
        started = state.sheets[num].started_at
        stamp = started.timestamp() if started else time.time()
        candidates[(num, attempt)] = min(candidates.get((num, attempt), stamp), stamp)
    return candidates


def _next_attempt(
    view: JobView,
    active: dict[int, int],
    seen: set[tuple[int, int]],
    sheet: int | None,
    since: float,
) -> AttemptLogs | None:
    """The oldest attempt not followed yet that runs now or wrote output since ``since``.

    Only ``sheet``'s, when given.
    """
    files = log_files(view.workspace, view.job_id)
    candidates = attempts_since(files, view.state, active, since)
    choices = [k for k in candidates if k not in seen and (sheet is None or k[0] == sheet)]
    if not choices:
        return None
    num, attempt = min(choices, key=lambda k: (candidates[k], k))
    return AttemptLogs(
        sheet_num=num,
        attempt=attempt,
        stdout=paths.attempt_log(view.workspace, view.job_id, num, attempt, "stdout"),
        stderr=paths.attempt_log(view.workspace, view.job_id, num, attempt, "stderr"),
        files=[],
        running=active.get(num) == attempt,
    )
