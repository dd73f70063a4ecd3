"""The journal's background fsync: off the caller's path, waited for when it matters,
and never retried once it failed."""

from __future__ import annotations

import errno
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from mzt.state.atomic import SYSCALLS
from mzt.state.journal import Journal, read_lines
from mzt.state.syncer import Syncer
from mzt.support.errors import StateWriteError


class SlowDisk:
    """An fsync that blocks until let go, counting its calls; fails when told to."""

    def __init__(self) -> None:
        self.calls = 0
        self.entered = threading.Event()
        self.go = threading.Event()
        self.fail = False

    def __call__(self, fd: int) -> None:
        self.calls += 1
        self.entered.set()
        assert self.go.wait(30), "the test never let the fsync go"
        if self.fail:
            raise OSError(errno.EIO, "Input/output error")


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    made = Journal(tmp_path / "job.history.jsonl")
    made.append('{"first": 1}', durable=False)  # created (and its folder fsync-ed) here
    return made


@pytest.fixture
def disk(journal: Journal, monkeypatch: pytest.MonkeyPatch) -> Iterator[SlowDisk]:
    slow = SlowDisk()
    monkeypatch.setattr(SYSCALLS, "fsync", slow)
    yield slow
    slow.go.set()  # nothing may stay blocked after a failing test


def test_a_soon_line_is_readable_before_its_fsync_ends(journal: Journal, disk: SlowDisk) -> None:
    journal.append('{"n": 1}', durable="soon")
    assert disk.entered.wait(30)  # the fsync is running in the background, blocked
    lines, _ = read_lines(journal.path)
    assert [line.record for line in lines] == [{"first": 1}, {"n": 1}]
    done = threading.Event()
    waiter = threading.Thread(target=lambda: (journal.sync(), done.set()))
    waiter.start()
    assert not done.wait(0.2)  # sync waits for the disk
    disk.go.set()
    waiter.join(30)
    assert done.is_set() and disk.calls == 1
    journal.close()


def test_a_failed_fsync_refuses_every_later_append(journal: Journal, disk: SlowDisk) -> None:
    disk.fail = True
    disk.go.set()
    journal.append('{"n": 1}', durable="soon")
    with pytest.raises(StateWriteError, match="fsync"):
        journal.sync()
    for durable in (False, "soon", True):
        with pytest.raises(StateWriteError):
            journal.append('{"n": 2}', durable=durable)  # type: ignore[arg-type]
    assert disk.calls == 1  # never again on the descriptor that failed
    journal.close()  # told already: the close does not raise it a second time
    assert b'"n": 2' not in journal.path.read_bytes()


def test_close_raises_a_failure_nobody_was_told(journal: Journal, disk: SlowDisk) -> None:
    disk.fail = True
    disk.go.set()
    journal.append('{"n": 1}', durable="soon")
    with pytest.raises(StateWriteError):
        journal.close()


def test_requests_made_during_an_fsync_share_the_next_one() -> None:
    started, go, calls = threading.Event(), threading.Event(), []

    def fsync(fd: int) -> None:
        calls.append(fd)
        started.set()
        go.wait(30)

    syncer = Syncer(fsync, "test-sync")
    syncer.ask(7)
    assert started.wait(30)
    for _ in range(5):
        syncer.ask(7)
    go.set()
    assert syncer.stop() is None
    assert calls == [7, 7]


def test_requests_within_the_window_share_one_fsync() -> None:
    calls: list[int] = []
    syncer = Syncer(calls.append, "test-sync", gather=5.0)
    for _ in range(20):
        syncer.ask(7)
    assert syncer.stop() is None  # a wait ends the window: no five seconds spent here
    assert calls == [7]


def test_a_wait_for_the_disk_ends_the_window_at_once() -> None:
    calls: list[int] = []
    syncer = Syncer(calls.append, "test-sync", gather=600.0)
    syncer.ask(7)
    waiter = threading.Thread(target=syncer.wait)
    waiter.start()
    waiter.join(60)  # far inside the window: only the hurry can have ended it
    assert not waiter.is_alive() and calls == [7]
    syncer.ask(7)  # the next request gathers again, and close flushes it
    assert syncer.stop() is None and calls == [7, 7]


def test_without_a_wait_the_window_ends_by_itself() -> None:
    flushed = threading.Event()
    syncer = Syncer(lambda fd: flushed.set(), "test-sync", gather=0.05)
    syncer.ask(7)
    assert flushed.wait(60)
    assert syncer.stop() is None
