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


def test_a_waiter_polls_until_the_watch_is_up_and_is_woken_once_it_is(tmp_path: Path) -> None:
    watch, woken = _watch(tmp_path)
    watch.follow([LIMIT])
    try:
        # A slot freed before inotify is set up makes no event: only this wake-up (or
        # polling meanwhile) lets the waiter see it, instead of after QUIET_SECONDS.
        if not watch.ready.is_set():
            assert watch.recheck_in() == POLL_SECONDS
        assert woken.wait(30), "no wake-up once the watch was set up"
        assert watch.ready.is_set()
        assert watch.recheck_in() == QUIET_SECONDS
    finally:
        watch.stop()


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


def test_a_new_thread_starts_not_ready(tmp_path: Path) -> None:
    watch, woken = _watch(tmp_path)
    watch.follow([LIMIT])
    try:
        assert woken.wait(30)
        first = watch.ready
        watch.stop()
        slots.limit_folder("jobs", tmp_path)
        watch.follow([LIMIT, "jobs"])
        assert watch.ready is not first  # the old thread's readiness says nothing of this one
    finally:
        watch.stop()


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
        # Half a second is far beyond a batch's 20 ms: these events were seen and dropped.
        assert not woken.wait(0.5), "a take or a new ticket woke the waiter"
        ticket.leave()
        assert woken.wait(30), "no wake-up after a ticket left the queue"
        woken.clear()
        assert held is not None
        held.release()
        assert woken.wait(30), "no wake-up after the slot was released"
    finally:
        watch.stop()
