"""Following a job live, beside real runs: file events, polling, and the end of a run."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from mzt.state import reading
from mzt.views import file_events
from mzt.views import watch as watching
from tests.e2e.conftest import Project, wait_for
from tests.machine.slot_child import holding, let_go


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    home = tmp_path / "home"
    home.mkdir()
    root = tmp_path / "proj"
    root.mkdir()
    monkeypatch.setenv("MZT_HOME", str(home))
    return Project(root, home)


def score(template: str, n: int, **extra: Any) -> dict[str, Any]:
    return {
        "name": "job",
        "instrument": "cli",
        "sheet": {"size": 1, "total_items": n},
        "prompt": {"template": template},
        **extra,
    }


def ref(project: Project) -> reading.JobRef:
    return reading.JobRef("job", project.workspace)


def started(project: Project, data: dict[str, Any]) -> subprocess.Popen[str]:
    proc = project.start("run", project.score(data), "-q")
    wait_for(lambda: (project.workspace / ".marianne" / "job.json").exists())
    return proc


def completed_counts(frames: list[watching.WatchFrame]) -> list[int]:
    counts: list[int] = []
    for frame in frames:
        if not counts or counts[-1] != frame.completed:
            counts.append(frame.completed)
    return counts


# First sheet long enough for the watch to start before anything completes.
TEN_SHORT = (
    "{% if sheet_num == 1 %}sleep 0.6{% else %}sleep 0.1{% endif %}; "
    "echo done > {{ workspace }}/out-{{ sheet_num }}.txt"
)


@pytest.mark.parametrize("force_poll", [False, True], ids=["events", "polling"])
def test_sees_every_count_of_a_real_run_and_ends_with_it(
    project: Project, force_poll: bool
) -> None:
    proc = started(project, score(TEN_SHORT, 10))
    modes: list[str] = []
    frames = list(watching.follow(ref(project), force_poll=force_poll, on_mode=modes.append))
    proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert completed_counts(frames) == list(range(11))
    last = frames[-1]
    assert last.final and last.status == "completed" and last.alive is False
    assert last.exit_code == 0 and last.completed == last.total == 10
    assert all(not f.final for f in frames[:-1])
    assert modes == (["polling"] if force_poll else ["events"])
    assert any(f.running_sheets for f in frames)
    json_line = last.to_json()
    assert json_line["schema"] == "mzt.watch/1"
    assert {"ts", "job_id", "status", "progress", "running_sheets"} <= json_line.keys()


def test_a_job_that_is_not_running_gives_one_final_frame(project: Project) -> None:
    result = project.mzt("run", project.score(score("exit 1", 2, retry={"max_retries": 1})))
    assert result.returncode == 1
    frames = list(watching.follow(ref(project)))
    assert len(frames) == 1
    assert frames[0].final and frames[0].status == "failed" and frames[0].exit_code == 1


def test_a_run_killed_with_sigkill_ends_the_watch_as_paused(project: Project) -> None:
    proc = started(project, score("sleep 60", 2))
    wait_for(lambda: reading.read_checkpoint(ref(project)).running_sheets == [1])
    frames: list[watching.WatchFrame] = []
    follower = threading.Thread(
        target=lambda: frames.extend(watching.follow(ref(project))), daemon=True
    )
    follower.start()
    wait_for(lambda: bool(frames))
    assert frames[0].status == "running" and frames[0].alive is True
    children = psutil.Process(proc.pid).children(recursive=True)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)
    for child in children:
        child.kill()
    follower.join(timeout=10)
    assert not follower.is_alive()
    last = frames[-1]
    assert last.final and last.status == "paused" and last.alive is False
    assert last.exit_code == 3 and last.pid is None


def test_stop_event_ends_a_watch_early(project: Project) -> None:
    proc = started(project, score("sleep 60", 1))
    stop = threading.Event()
    frames: list[watching.WatchFrame] = []
    try:
        follower = threading.Thread(
            target=lambda: frames.extend(watching.follow(ref(project), stop=stop)), daemon=True
        )
        follower.start()
        wait_for(lambda: bool(frames) and frames[-1].running_sheets == (1,))
        stop.set()
        follower.join(timeout=5)
        assert not follower.is_alive() and not frames[-1].final
    finally:
        children = psutil.Process(proc.pid).children(recursive=True)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=10)
        for child in children:
            child.kill()


@contextlib.contextmanager
def inotify_exhausted() -> Iterator[int]:
    """Use up this user's inotify instances (as many parallel watchers would), briefly."""
    libc = ctypes.CDLL(None, use_errno=True)
    fds: list[int] = []
    try:
        while len(fds) < 100_000:
            fd = libc.inotify_init1(os.O_CLOEXEC)
            if fd < 0:
                break
            fds.append(fd)
        yield len(fds)
    finally:
        for fd in fds:
            os.close(fd)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify is Linux's")
def test_falls_back_to_polling_when_inotify_is_exhausted(project: Project) -> None:
    proc = started(project, score("sleep 0.3", 3))
    modes: list[str] = []
    frames: list[watching.WatchFrame] = []
    with inotify_exhausted():
        follower = threading.Thread(
            target=lambda: frames.extend(watching.follow(ref(project), on_mode=modes.append)),
            daemon=True,
        )
        follower.start()
        # Released as soon as the watch has chosen, so other processes barely notice.
        wait_for(lambda: bool(modes), timeout=10, step=0.005)
    follower.join(timeout=30)
    proc.communicate(timeout=30)
    assert modes == ["polling"]
    assert frames[-1].final and frames[-1].status == "completed"
    assert completed_counts(frames)[-1] == 3


def test_polling_is_forced_by_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(file_events.POLL_ENV, "1")
    assert file_events.polling_forced()
    monkeypatch.setenv(file_events.POLL_ENV, "0")
    assert not file_events.polling_forced()
    monkeypatch.delenv(file_events.POLL_ENV)
    assert not file_events.polling_forced()


@pytest.mark.parametrize("force_poll", [False, True], ids=["events", "polling"])
def test_a_sheet_starting_and_stopping_to_wait_for_a_slot_gets_a_frame_each(
    project: Project, force_poll: bool
) -> None:
    (project.home / "config.yaml").write_text("max_concurrent_sheets: 1\n")
    wait = (1, "sheets", "waiting for a sheet slot: 1/1 held by job holder")
    frames: list[watching.WatchFrame] = []
    with holding(project.home, "holder", "sheets:1") as holder:
        # Should the wait go unseen, the slot is let go all the same: the test fails, not hangs.
        safety = threading.Timer(60, let_go, [holder])
        safety.start()
        try:
            proc = started(project, score("true", 2))
            for frame in watching.follow(ref(project), force_poll=force_poll):
                frames.append(frame)
                if frame.slot_waits:
                    let_go(holder)
        finally:
            safety.cancel()
    proc.communicate(timeout=60)
    assert proc.returncode == 0
    waits = [frame.slot_waits for frame in frames]
    assert (wait,) in waits
    first = waits.index((wait,))
    # The wait's end is a frame of its own, before the sheet's attempt ends.
    assert any(not f.slot_waits and f.completed == 0 for f in frames[first + 1 :])
    assert frames[-1].final and frames[-1].completed == 2 and frames[-1].slot_waits == ()
    assert frames[first].to_json()["waiting_for_slot"] == [
        {"sheet": 1, "limit": "sheets", "text": wait[2]}
    ]
