"""Fair turns at machine slots with real waiting processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from pathlib import Path

import pytest

from mzt.machine import fairshare, slots
from mzt.support.errors import FolderError

CHILD = Path(__file__).with_name("slot_child.py")
HOLDER = slots.Holder("here", "/ws")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def waiters(home: Path, tmp_path: Path) -> Iterator[Callable[[str, int], subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []

    def start(job: str, capacity: int) -> subprocess.Popen[str]:
        argv = [sys.executable, str(CHILD), "wait", str(home), job, str(capacity)]
        child = subprocess.Popen(
            [*argv, str(tmp_path / "served.log")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        started.append(child)
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "joined"
        return child

    yield start
    for child in started:
        with suppress(BrokenPipeError):
            if child.stdin is not None:
                child.stdin.close()
        child.wait(timeout=30)
        if child.stdout is not None:
            child.stdout.close()


def served(tmp_path: Path, count: int) -> list[tuple[str, int]]:
    """The first ``count`` waiters served, waiting until that many are (20 s at most)."""
    log = tmp_path / "served.log"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        lines = log.read_text().splitlines() if log.exists() else []
        if len(lines) >= count:
            return [(job, int(pid)) for job, pid in (line.split() for line in lines)]
        time.sleep(0.01)
    raise AssertionError(f"fewer than {count} waiters were served")


def test_turns_go_round_the_jobs_instead_of_first_come_first_served(
    home: Path, tmp_path: Path, waiters: Callable[[str, int], subprocess.Popen[str]]
) -> None:
    taken = [slots.take("sheets", 2, HOLDER, home=home) for _ in range(2)]
    mine = [slot for slot in taken if slot is not None]
    assert len(mine) == 2
    hogs = [waiters("hog", 2) for _ in range(4)]  # queued first, one job
    small = waiters("small", 2)  # queued last, another job
    mine[0].release()
    assert served(tmp_path, 1) == [("hog", hogs[0].pid)]  # the front of the queue
    mine[1].release()
    # First come, first served would give it to the second hog; the hog already holds one.
    assert served(tmp_path, 2)[1] == ("small", small.pid)
    for child in (hogs[0], small):
        assert child.stdin is not None
        child.stdin.close()
    assert {pid for _, pid in served(tmp_path, 4)[2:]} <= {hog.pid for hog in hogs[1:]}


def test_a_killed_waiter_does_not_block_the_queue(
    home: Path, tmp_path: Path, waiters: Callable[[str, int], subprocess.Popen[str]]
) -> None:
    mine = slots.take("sheets", 1, HOLDER, home=home)
    assert mine is not None
    first = waiters("first", 1)
    second = waiters("second", 1)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    mine.release()
    assert served(tmp_path, 1) == [("second", second.pid)]
    assert len(list(fairshare.tickets_dir("sheets", home).iterdir())) == 0


def test_nobody_waiting_takes_at_once_without_a_ticket(home: Path) -> None:
    waiter = fairshare.Waiter([("sheets", 1)], HOLDER, home=home)
    taken = waiter.try_take()
    assert taken is not None and waiter.tickets == []
    late = fairshare.Waiter([("sheets", 1)], HOLDER, home=home)
    assert late.try_take() is None
    assert [ticket.name for ticket, _ in late.tickets] == fairshare.queue("sheets", {}, home=home)
    late.leave()
    assert fairshare.queue("sheets", {}, home=home) == []
    taken.release()


def test_a_ticket_that_cannot_be_joined_leaves_none_behind(home: Path) -> None:
    mine = slots.take("a", 1, HOLDER, home=home)
    assert mine is not None
    blocker = fairshare.tickets_dir("b", home)
    blocker.parent.mkdir(parents=True)
    blocker.write_text("")
    waiter = fairshare.Waiter([("a", 1), ("b", 1)], HOLDER, home=home)
    with pytest.raises(FolderError) as raised:
        waiter.try_take()
    assert str(blocker) in str(raised.value)
    assert fairshare.queue("a", {}, home=home) == [] and waiter.tickets == []
    mine.release()


def test_the_queue_of_the_full_limit_is_joined_first(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A view that lists the tickets between two joins sees only the first: it must be the
    # limit in the way ("sheets", full), not the free one that sorts first ("instrument-cli").
    mine = slots.take("sheets", 1, slots.Holder("other", str(home)), home=home)
    assert mine is not None
    other = fairshare.Waiter([("sheets", 1)], slots.Holder("other", str(home)), home=home)
    assert other.try_take() is None  # someone waiting: the next waiter must queue
    joined: list[str] = []
    join = fairshare.join

    def recording(limit: str, holder: slots.Holder, *, home: Path | None = None) -> object:
        joined.append(limit)
        return join(limit, holder, home=home)

    monkeypatch.setattr(fairshare, "join", recording)
    waiter = fairshare.Waiter([("instrument-cli", 4), ("sheets", 1)], HOLDER, home=home)
    assert waiter.try_take() is None
    assert joined == ["sheets", "instrument-cli"]
    for each in (waiter, other):
        each.leave()
    mine.release()


def test_no_job_takes_over_twice_its_fair_share_while_others_wait(home: Path) -> None:
    # Capacity 8, three jobs want the limit: a fair share is 8/3, so a job may hold 5. Job
    # "big" holds 5 and waits for a sixth while two other jobs wait for one each. Three
    # slots are free, so turns alone would serve all three; the cap keeps big's sixth back.
    held = [slots.take("sheets", 8, slots.Holder("big", "/ws"), home=home) for _ in range(5)]
    big = fairshare.join("sheets", slots.Holder("big", "/ws", 6), home=home)
    small = fairshare.join("sheets", slots.Holder("small", "/ws", 1), home=home)
    other = fairshare.join("sheets", slots.Holder("other", "/ws", 1), home=home)
    try:
        assert not fairshare.my_turn(big, 8, home=home)
        assert fairshare.my_turn(small, 8, home=home) and fairshare.my_turn(other, 8, home=home)
        other.leave()
        # One other job waits: two want the limit, a share of 4 allows 8, so big may go.
        assert fairshare.my_turn(big, 8, home=home)
        small.leave()
        assert fairshare.my_turn(big, 8, home=home)
    finally:
        for ticket in (big, small, other):
            ticket.leave()
        for slot in held:
            assert slot is not None
            slot.release()


def test_the_cap_never_shuts_a_job_out_of_its_first_slot(home: Path) -> None:
    # Capacity 1 shared by three jobs: a share of 2/3 would cap everyone; one slot each is
    # always allowed, so the first in line still gets it.
    first = fairshare.join("sheets", slots.Holder("a", "/ws", 1), home=home)
    second = fairshare.join("sheets", slots.Holder("b", "/ws", 1), home=home)
    try:
        assert fairshare.my_turn(first, 1, home=home)
        assert not fairshare.my_turn(second, 1, home=home)
    finally:
        first.leave()
        second.leave()


def test_standing_counts_the_tickets_ahead_without_probing_the_far_ones(home: Path) -> None:
    held = [slots.take("sheets", 2, slots.Holder(f"h{n}", "/ws"), home=home) for n in range(2)]
    line = [fairshare.join("sheets", slots.Holder(f"j{n}", "/ws", 1), home=home) for n in range(5)]
    try:
        assert [fairshare.standing(t, 2, home=home) for t in line] == [(n, 0) for n in range(5)]
        # A dead waiter far back stays listed (nobody probed it) until its turn comes.
        line[3].fd, fd = -1, line[3].fd
        os.close(fd)  # its lock goes as a killed waiter's does; the file stays
        assert fairshare.standing(line[4], 2, home=home) == (4, 0)
        for slot in held:
            assert slot is not None
            slot.release()
        line[0].leave()
        line[1].leave()
        # Two free slots: line[2] is first, the dead one second and probed by whoever is
        # behind it, which then counts one ahead of itself.
        assert fairshare.standing(line[2], 2, home=home) == (0, 2)
        assert fairshare.standing(line[4], 2, home=home) == (1, 2)
        assert not line[3].path.exists()
    finally:
        for ticket in line:
            ticket.leave()


def test_a_waiter_knows_how_far_it_is_from_a_turn(home: Path) -> None:
    held = [slots.take("sheets", 2, slots.Holder(f"h{n}", "/ws"), home=home) for n in range(2)]
    waiters = [
        fairshare.Waiter([("sheets", 2)], slots.Holder(f"w{n}", "/ws"), home=home) for n in range(5)
    ]
    try:
        assert [w.try_take() for w in waiters] == [None] * 5
        # The first two would be served if both held slots came free; the others not yet.
        assert [w.distance for w in waiters] == [0, 0, 1, 2, 3]
    finally:
        for waiter in waiters:
            waiter.leave()
        for slot in held:
            assert slot is not None
            slot.release()
