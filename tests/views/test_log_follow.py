"""The follower behind `mzt logs -f JOB`: which attempts it reads, when, and until when."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from mzt.state import CheckpointState
from mzt.support import paths
from mzt.views.log_follow import JobLogFollower, run_start
from mzt.views.logs import LogChunk


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Job:
    """What the follower reads of the job: a state and whether its run is alive."""

    def __init__(self, state: CheckpointState) -> None:
        self.state, self.alive = state, True

    def __call__(self) -> tuple[CheckpointState, bool | None]:
        return self.state, self.alive


def follower(ws: Path, job: Job, **options: Any) -> JobLogFollower:
    return JobLogFollower(ws, "job", job, **options)


def running(*sheets: int) -> CheckpointState:
    state = CheckpointState(job_id="job", job_name="job", total_sheets=3)
    state.mark_job_running(pid=1)
    for num in sheets:
        state.mark_sheet_started(num)
    state.sheets_in_progress = list(sheets)
    return state


def write(ws: Path, sheet: int, stream: str, text: str, *, mode: str = "a") -> Path:
    path = paths.attempt_log(ws, "job", sheet, 1, stream)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open(mode) as f:
        f.write(text)
    return path


def texts(chunks: list[LogChunk]) -> list[tuple[int, str, str]]:
    return [(c.sheet_num, c.stream, c.text) for c in chunks]


def test_running_attempts_are_read_side_by_side_and_drained_when_they_end(
    tmp_path: Path,
) -> None:
    old = write(tmp_path, 1, "stdout", "old 1\n")
    an_hour_ago = time.time() - 3600
    os.utime(old, (an_hour_ago, an_hour_ago))  # the previous run's attempt 1 of sheet 1
    clock, job = Clock(), Job(running(1, 2))
    logs = follower(tmp_path, job, lines=50, clock=clock)

    assert texts(logs.look(first=True)) == [(1, "attempt", ""), (2, "attempt", "")]
    write(tmp_path, 1, "stdout", "new 1\n", mode="w")  # this run rewrites it
    write(tmp_path, 2, "stdout", "a\nb")
    write(tmp_path, 2, "stderr", "warn\n")
    assert texts(logs.read()) == [
        (1, "stdout", "new 1\n"),
        (2, "stdout", "a\n"),
        (2, "stderr", "warn\n"),
    ]
    assert logs.read() == []  # the partial line waits ...
    clock.now += 1.0
    assert texts(logs.read()) == [(2, "stdout", "b")]  # ... until its stream is quiet
    assert logs.read() == []

    # Sheet 1 ended; sheet 3 started and ended between two looks, leaving its file.
    write(tmp_path, 1, "stdout", "last 1")
    quick = write(tmp_path, 3, "stdout", "quick 3\n")
    job.state = running(2)
    assert texts(logs.look(named={quick})) == [
        (3, "attempt", ""),
        (3, "stdout", "quick 3\n"),
        (1, "stdout", "last 1"),  # drained to its end, partial line and all
    ]
    assert set(logs.followed) == {(2, 1)} and not logs.finished

    write(tmp_path, 2, "stdout", "end 2\n")
    job.alive = False
    assert texts(logs.look(scan=False)) == [(2, "stdout", "end 2\n")]
    assert logs.finished and not logs.followed


def test_an_attempt_running_when_following_begins_starts_lines_back(tmp_path: Path) -> None:
    write(tmp_path, 1, "stdout", "".join(f"line {i}\n" for i in range(1, 6)))
    logs = follower(tmp_path, Job(running(1)), lines=2)
    assert texts(logs.look(first=True)) == [(1, "attempt", ""), (1, "stdout", "line 4\nline 5\n")]


def test_the_runs_end_is_drained_from_the_files_however_it_was_looked_at(tmp_path: Path) -> None:
    job = Job(running())
    logs = follower(tmp_path, job, lines=0)
    assert logs.look(first=True) == [] and not logs.finished
    write(tmp_path, 2, "stderr", "bye")  # began and ended between two looks
    assert logs.look(scan=False) == []  # not looked for by its file while the run lasts
    job.alive = False
    assert texts(logs.look(scan=False)) == [(2, "attempt", ""), (2, "stderr", "bye")]
    assert logs.finished


def test_state_changes_and_new_attempts_bring_a_look_forward(tmp_path: Path) -> None:
    clock = Clock()
    logs = follower(tmp_path, Job(running(1)), clock=clock)
    logs.look(first=True)
    known = paths.attempt_log(tmp_path, "job", 1, 1, "stdout")
    unknown = paths.attempt_log(tmp_path, "job", 2, 1, "stdout")
    state = paths.history_file(tmp_path, "job")
    for polling in (False, True):
        assert logs.due({state, unknown}, polling=polling) == (False, False)  # just looked
    clock.now += 0.1
    assert logs.due({known}, polling=False) == (False, False)
    assert logs.due(set(), polling=False) == (False, False)
    assert logs.due({state}, polling=False) == (True, False)
    assert logs.due({unknown}, polling=False) == (True, False)  # the event names its file
    clock.now += 0.4
    assert logs.due(set(), polling=False) == (True, False)  # now and then anyway ...
    assert logs.due(set(), polling=True) == (True, True)  # ... and a scan, when polling
    logs.scan_cost = 1.0
    assert logs.due(set(), polling=True) == (True, False)  # not while scans are that dear
    clock.now += 4.5
    assert logs.due(set(), polling=False) == (True, False)
    logs.scan_cost = 0.0
    assert logs.due(set(), polling=False) == (True, True)  # in case events were lost


def test_attempts_found_in_files_are_those_begun_since_following_began(tmp_path: Path) -> None:
    job = Job(running())
    assert job.state.started_at is not None
    job.state.started_at -= timedelta(hours=1)  # the run began long before following did
    ended = write(tmp_path, 1, "stdout", "ended before\n")  # this run's, but over already
    a_second_ago = time.time() - 1
    os.utime(ended, (a_second_ago, a_second_ago))
    logs = follower(tmp_path, job)
    assert logs.look(first=True) == []
    write(tmp_path, 2, "stdout", "two\n")
    assert texts(logs.look(scan=True)) == [(2, "attempt", ""), (2, "stdout", "two\n")]


def test_a_run_starts_when_its_state_says_so(tmp_path: Path) -> None:
    state = running()
    assert state.started_at is not None and state.updated_at is not None
    assert run_start(state) == pytest.approx(state.started_at.timestamp() - 0.1)
    state.mark_job_completed()
    state.updated_at = state.updated_at + timedelta(seconds=5)
    assert run_start(state) == pytest.approx(state.updated_at.timestamp() - 0.1)


def test_a_file_event_reads_only_the_attempts_it_names(tmp_path: Path) -> None:
    logs = follower(tmp_path, Job(running(1, 2)))
    logs.look(first=True)
    one = write(tmp_path, 1, "stdout", "one\n")
    write(tmp_path, 2, "stderr", "two\n")
    assert texts(logs.read({one})) == [(1, "stdout", "one\n")]
    assert texts(logs.read()) == [(2, "stderr", "two\n")]
