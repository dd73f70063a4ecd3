"""The slot watcher: a waiter is woken soon after a slot may have come free."""

from __future__ import annotations

import threading
from pathlib import Path

from mzt.machine import slots
from mzt.machine.slot_watch import POLL_SECONDS, QUIET_SECONDS, SlotWatch

LIMIT = "sheets"


def _watch(home: Path) -> tuple[SlotWatch, threading.Event]:
    slots.limit_folder(LIMIT, home)
    woken = threading.Event()
    return SlotWatch(woken.set, home=home), woken


def test_the_watch_is_up_when_follow_returns_and_wakes_the_waiter_once(tmp_path: Path) -> None:
    watch, woken = _watch(tmp_path)
    watch.follow([LIMIT])
    try:
        # A slot freed between the waiter's last look and the watch makes no event: only
        # this one wake-up lets the waiter see it before QUIET_SECONDS.
        assert watch.live and watch.recheck_in() == QUIET_SECONDS
        assert woken.wait(30), "no wake-up once the watch was set up"
        woken.clear()
        assert not woken.wait(0.3), "woken with nothing changed"
    finally:
        watch.stop()
    assert not watch.live and watch.recheck_in() == POLL_SECONDS


def test_a_slot_released_after_the_watch_is_up_wakes_the_waiter(tmp_path: Path) -> None:
    watch, woken = _watch(tmp_path)
    holder = slots.Holder("job", str(tmp_path), 1, "cli")
    held = slots.take(LIMIT, 1, holder, home=tmp_path)
    assert held is not None
    watch.follow([LIMIT])
    try:
        assert woken.wait(30)
        woken.clear()
        held.release()
        assert woken.wait(30), "no wake-up after the slot was released"
    finally:
        watch.stop()


def test_following_other_limits_replaces_the_watch_and_its_thread_ends(tmp_path: Path) -> None:
    watch, _ = _watch(tmp_path)
    watch.follow([LIMIT])
    first = watch.thread
    assert first is not None
    slots.limit_folder("jobs", tmp_path)
    watch.follow([LIMIT, "jobs"])
    try:
        assert watch.thread is not first and watch.live
        first.join(10)
        assert not first.is_alive(), "the replaced watch's thread is still reading"
    finally:
        watch.stop()


def test_a_holder_killed_wakes_the_waiter_though_its_record_stays(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys

    watch, woken = _watch(tmp_path)
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD_AND_SLEEP, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "held"
        watch.follow([LIMIT])
        assert woken.wait(30)  # the watch is up
        woken.clear()
        child.send_signal(signal.SIGKILL)
        child.wait(30)
        assert woken.wait(30), "no wake-up after the holder was killed"
    finally:
        watch.stop()
        if child.poll() is None:
            child.kill()
        child.wait(30)
        if child.stdout is not None:
            child.stdout.close()


HOLD_AND_SLEEP = """
import sys, time
from pathlib import Path
from mzt.machine import slots
held = slots.take("sheets", 1, slots.Holder("gone", "/ws", 1, "cli"), home=Path(sys.argv[1]))
print("held" if held else "full", flush=True)
time.sleep(60)
"""


def test_a_slot_taken_or_a_ticket_joined_wakes_nobody_a_ticket_leaving_does(
    tmp_path: Path,
) -> None:
    from mzt.machine import fairshare

    watch, woken = _watch(tmp_path)
    fairshare.tickets_dir(LIMIT, tmp_path).mkdir(mode=0o700)
    watch.follow([LIMIT])
    try:
        assert woken.wait(30)  # the watch is up
        woken.clear()
        held = slots.take(LIMIT, 2, slots.Holder("job", str(tmp_path), 1, "cli"), home=tmp_path)
        ticket = fairshare.join(LIMIT, slots.Holder("other", "/ws", 2), home=tmp_path)
        # Events come within milliseconds: half a second without one means they were dropped.
        assert not woken.wait(0.5), "a take or a new ticket woke the waiter"
        ticket.leave()
        assert woken.wait(30), "no wake-up after a ticket left the queue"
        woken.clear()
        assert held is not None
        held.release()
        assert woken.wait(30), "no wake-up after the slot was released"
    finally:
        watch.stop()
