"""The follower behind `mzt logs -f JOB`: which attempts it reads, when, and until when."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from mzt.state import CheckpointState
from mzt.state.lock import JobLiveness, LiveVerdict
from mzt.state.registry import JobLocation
from mzt.support import paths
from mzt.views import log_follow
from mzt.views.log_follow import JobLogFollower
from mzt.views.logs import LogChunk
from mzt.views.lookup import JobView


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def view(ws: Path, state: CheckpointState, *, alive: bool = True) -> JobView:
    verdict = LiveVerdict.ALIVE if alive else LiveVerdict.IDLE
    return JobView(JobLocation("job", ws, None, "workspace"), state, JobLiveness(verdict, None, ""))


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
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = write(tmp_path, 1, "stdout", "old 1\n")
    an_hour_ago = time.time() - 3600
    os.utime(old, (an_hour_ago, an_hour_ago))  # the previous run's attempt 1 of sheet 1
    clock = Clock()
    follower = JobLogFollower(view(tmp_path, running(1, 2)), lines=50, clock=clock)

    assert texts(follower.look(first=True)) == [(1, "attempt", ""), (2, "attempt", "")]
    write(tmp_path, 1, "stdout", "new 1\n", mode="w")  # this run rewrites it
    write(tmp_path, 2, "stdout", "a\nb")
    write(tmp_path, 2, "stderr", "warn\n")
    assert texts(follower.read()) == [
        (1, "stdout", "new 1\n"),
        (2, "stdout", "a\n"),
        (2, "stderr", "warn\n"),
    ]
    assert follower.read() == []  # the partial line waits ...
    clock.now += 1.0
    assert texts(follower.read()) == [(2, "stdout", "b")]  # ... until its stream is quiet
    assert follower.read() == []

    # Sheet 1 ended; sheet 3 started and ended between two looks, leaving its file.
    write(tmp_path, 1, "stdout", "last 1")
    write(tmp_path, 3, "stdout", "quick 3\n")
    later = running(2)
    monkeypatch.setattr(log_follow, "open_job", lambda _location: view(tmp_path, later))
    assert texts(follower.look()) == [
        (3, "attempt", ""),
        (3, "stdout", "quick 3\n"),
        (1, "stdout", "last 1"),  # drained to its end, partial line and all
    ]
    assert set(follower.followed) == {(2, 1)} and not follower.finished

    write(tmp_path, 2, "stdout", "end 2\n")
    gone = view(tmp_path, later, alive=False)
    monkeypatch.setattr(log_follow, "open_job", lambda _location: gone)
    assert texts(follower.look()) == [(2, "stdout", "end 2\n")]
    assert follower.finished and not follower.followed


def test_an_attempt_running_when_following_begins_starts_lines_back(tmp_path: Path) -> None:
    write(tmp_path, 1, "stdout", "".join(f"line {i}\n" for i in range(1, 6)))
    follower = JobLogFollower(view(tmp_path, running(1)), lines=2)
    assert texts(follower.look(first=True)) == [
        (1, "attempt", ""),
        (1, "stdout", "line 4\nline 5\n"),
    ]


def test_a_job_whose_run_is_over_is_drained_and_finished_at_once(tmp_path: Path) -> None:
    write(tmp_path, 2, "stderr", "bye")
    state = running()
    follower = JobLogFollower(view(tmp_path, state, alive=False), lines=0)
    assert texts(follower.look(first=True)) == [(2, "attempt", ""), (2, "stderr", "bye")]
    assert follower.finished


def test_state_changes_and_new_attempts_bring_a_look_forward(tmp_path: Path) -> None:
    clock = Clock()
    follower = JobLogFollower(view(tmp_path, running(1)), clock=clock)
    follower.look(first=True)
    known = paths.attempt_log(tmp_path, "job", 1, 1, "stdout")
    unknown = paths.attempt_log(tmp_path, "job", 2, 1, "stdout")
    state = paths.history_file(tmp_path, "job")
    assert not follower.look_due({state, unknown})  # just looked
    clock.now += 0.1
    assert not follower.look_due({known}) and not follower.look_due(set())
    assert follower.look_due({state}) and follower.look_due({unknown})
    clock.now += 0.4
    assert follower.look_due(set())  # now and then anyway
