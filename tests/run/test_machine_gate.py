"""The machine gate of one run: slots taken before an attempt, let go when it ends."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mzt.machine import fairshare, pressure, slot_use, slots
from mzt.machine.config import MachineConfig
from mzt.run.machine_gate import JobsFullError, MachineGate


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def gate(
    home: Path, job: str = "job", wake: threading.Event | None = None, **limits: object
) -> MachineGate:
    config = MachineConfig.model_validate(limits)
    woken = wake.set if wake is not None else lambda: None
    return MachineGate(job, home.parent / job, config, wake=woken, home=home)


def admitted_once_woken(one: MachineGate, wake: threading.Event, num: int) -> None:
    """Ask again as the run's loop does: after each wake-up, until the slots are taken.

    A waiting gate looks at the slot files again only once its watch saw a change (or its
    recheck time came), so the first ask after a release may still say wait.
    """
    deadline = time.monotonic() + 10
    while one.admit(num, "cli", "cli", None) is not None:
        assert time.monotonic() < deadline, "the slot watch never woke the waiting run"
        wake.wait(0.5)
        wake.clear()


def held(home: Path, limit: str, capacity: int) -> list[str]:
    return slot_use.read_limit(limit, capacity, home=home).holders()


def test_an_attempt_holds_the_sheets_and_instrument_slots_until_released(home: Path) -> None:
    one = gate(home, max_concurrent_sheets=3)
    assert one.admit(1, "claude-code", "claude", None) is None
    assert held(home, "sheets", 3) == ["job"]
    assert held(home, "instrument-claude-code", 4) == ["job"]
    one.release(1)
    assert held(home, "sheets", 3) == []
    assert held(home, "instrument-claude-code", 4) == []


def test_an_adopted_attempt_takes_free_slots_at_once_and_never_queues(home: Path) -> None:
    other = gate(home, "other", max_concurrent_sheets=2)
    assert other.admit(1, "cli", "cli", None) is None
    one = gate(home, max_concurrent_sheets=2)
    assert one.adopt(4, "cli", "cli", None) is True
    assert sorted(held(home, "sheets", 2)) == ["job", "other"]
    # Full now: an attempt that runs anyway is said to run outside the limits, not queued.
    assert one.adopt(5, "cli", "cli", None) is False
    assert fairshare_tickets(home) == []
    one.release(4)
    assert held(home, "sheets", 2) == ["other"]


def fairshare_tickets(home: Path) -> list[Path]:
    return sorted((home / "slots").glob("*/tickets/*"))


def test_a_model_limit_applies_only_to_its_model(home: Path) -> None:
    one = gate(home, models={"opus": {"max_concurrent": 1}})
    assert one.admit(1, "claude-code", "claude", "opus") is None
    assert held(home, "model-opus", 1) == ["job"]
    hold = one.admit(2, "claude-code", "claude", "opus")
    assert hold is not None and hold.limit == "model-opus"
    assert hold.text == "waiting for a slot for the model opus: 1/1 held by job job"
    assert one.admit(3, "claude-code", "claude", "sonnet") is None  # another model goes on
    one.close()
    assert held(home, "model-opus", 1) == held(home, "sheets", 10) == []


def test_a_full_limit_makes_the_sheet_wait_and_says_who_holds_it(home: Path) -> None:
    other = slots.take_all(
        [("instrument-cli", 1)], slots.Holder("nightly", "/elsewhere", 4, "cli"), home=home
    )
    assert other is not None
    wake = threading.Event()
    one = gate(home, wake=wake, instruments={"cli": {"max_concurrent": 1}})
    hold = one.admit(1, "cli", "cli", None)
    assert hold is not None and one.waiting
    assert hold.text == "waiting for a cli slot: 1/1 held by job nightly"
    assert one.news(1, hold) and not one.news(1, hold)  # one line per sheet and limit
    # Nothing of this job is held while it waits: a waiter never sits on a slot.
    assert held(home, "sheets", 10) == []
    other.release()
    admitted_once_woken(one, wake, 1)
    assert not one.waiting
    one.close()


def test_standing_down_leaves_the_queue(home: Path) -> None:
    other = slots.take_all([("sheets", 1)], slots.Holder("other", "/ws"), home=home)
    one = gate(home, max_concurrent_sheets=1)
    assert one.admit(1, "cli", "cli", None) is not None
    tickets = home / "slots" / "sheets" / "tickets"
    assert [p.name.split(".")[2] for p in tickets.iterdir()] == ["job"]
    one.stand_down()
    assert list(tickets.iterdir()) == []
    assert other is not None
    other.release()


def test_the_job_slot_is_held_for_the_whole_run_and_no_queue_refuses_at_once(
    home: Path,
) -> None:
    first = gate(home, "first", max_concurrent_jobs=1)
    assert first.enter() is None
    second = gate(home, "second", max_concurrent_jobs=1)
    hold = second.enter()
    assert hold is not None and hold.text == "waiting for a job slot: 1/1 held by job first"
    second.stand_down()
    third = gate(home, "third", max_concurrent_jobs=1)
    with pytest.raises(JobsFullError) as caught:
        third.enter_at_once()
    assert caught.value.exit_code == 75
    assert "held by first" in str(caught.value)
    first.close()
    third.enter_at_once()
    assert held(home, "jobs", 1) == ["third"]
    third.close()
    assert held(home, "jobs", 1) == []


def reading(level: pressure.Level) -> pressure.Pressure:
    return pressure.Pressure(
        level, pressure.DELAYS[level], ("memory 7.9/8.0 GB (98 %)",), 8090.0, 3, 8192, 50,
        datetime.now(UTC),
    )  # fmt: skip


def test_critical_pressure_holds_a_launch_without_taking_or_queueing_for_slots(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    levels = [pressure.Level.CRITICAL]
    monkeypatch.setattr(pressure, "check", lambda *_, **__: reading(levels[-1]))
    one = gate(home, max_concurrent_sheets=1)
    hold = one.admit(1, "cli", "cli", None)
    assert hold is not None and hold.kind == "pressure"
    assert hold.text == "held by backpressure: critical: memory 7.9/8.0 GB (98 %)"
    assert hold.recheck == pressure.RECHECK_SECONDS
    assert held(home, "sheets", 1) == [] and not one.waiting
    levels.append(pressure.Level.NONE)  # it clears: the same sheet goes at once
    assert one.admit(1, "cli", "cli", None) is None
    assert held(home, "sheets", 1) == ["job"]
    one.close()


def test_lower_pressure_spaces_launches_by_its_delay_silently(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pressure, "check", lambda *_, **__: reading(pressure.Level.HIGH))
    one = gate(home)
    assert one.admit(1, "cli", "cli", None) is None  # the first launch does not wait
    hold = one.admit(2, "cli", "cli", None)
    assert hold is not None and hold.kind == "pressure" and hold.text == ""
    assert 1.5 < hold.recheck <= pressure.DELAYS[pressure.Level.HIGH]
    assert not one.news(2, hold)  # a routine spacing is not worth a line
    one.last_launch -= pressure.DELAYS[pressure.Level.HIGH]  # as if the delay had passed
    assert one.admit(2, "cli", "cli", None) is None
    one.close()


def test_a_wait_for_a_limit_only_this_run_fills_is_said_once_per_run(home: Path) -> None:
    one = gate(home, instruments={"cli": {"max_concurrent": 1}})
    assert one.admit(1, "cli", "cli", None) is None
    first = one.admit(2, "cli", "cli", None)
    assert first is not None and first.own
    assert one.news(2, first)
    one.stand_down()
    second = one.admit(3, "cli", "cli", None)
    assert second is not None and second.own and not one.news(3, second)
    other = gate(home, "other", instruments={"cli": {"max_concurrent": 1}})
    theirs = other.admit(1, "cli", "cli", None)
    assert theirs is not None and not theirs.own and other.news(1, theirs)
    other.close()
    one.close()


def test_only_a_waiter_near_its_turn_follows_the_slot_events(home: Path) -> None:
    taken = slots.take_all([("sheets", 1)], slots.Holder("holder", "/elsewhere"), home=home)
    assert taken is not None
    wake = threading.Event()
    gates = [
        gate(home, f"job{n}", wake if n == 0 else None, max_concurrent_sheets=1) for n in range(5)
    ]
    try:
        holds = [one.admit(1, "cli", "cli", None) for one in gates]
        assert all(hold is not None for hold in holds)
        # One slot: the first waiter is woken by its release; the others poll, the further
        # back the less often, and each said why it waits once.
        assert [one.watch.live for one in gates] == [True, False, False, False, False]
        rechecks = [hold.recheck for hold in holds if hold is not None]
        assert rechecks[1] < rechecks[2] < rechecks[3] < rechecks[4] <= 1.0
        assert all("1/1 held by job holder" in hold.text for hold in holds if hold is not None)
        taken.release()
        admitted_once_woken(gates[0], wake, 1)
        assert gates[0].watch.live  # it may wait again at once, for the same folders
        gates[0].settle()
        assert not gates[0].watch.live
    finally:
        for one in gates:
            one.close()


def test_a_wait_looks_at_the_files_again_only_after_a_change_or_its_recheck(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = slots.take_all([("sheets", 1)], slots.Holder("other", "/ws"), home=home)
    assert other is not None
    looks: list[float] = []
    real = fairshare.Waiter.try_take

    def counted(self: fairshare.Waiter) -> slots.SlotSet | None:
        looks.append(time.monotonic())
        return real(self)

    monkeypatch.setattr(fairshare.Waiter, "try_take", counted)
    wake = threading.Event()
    one = gate(home, wake=wake, max_concurrent_sheets=1)
    try:
        first = one.admit(1, "cli", "cli", None)
        assert first is not None
        for _ in range(100):  # the run's loop passes for other reasons: no new look
            again = one.admit(1, "cli", "cli", None)
            assert again is not None and again.text == first.text
        # One look, and one more if the watch came up (it wakes the run once) meanwhile.
        assert len(looks) <= 2
        before = len(looks)
        other.release()
        admitted_once_woken(one, wake, 1)
        assert before < len(looks) <= before + 3
    finally:
        one.close()


def test_a_turn_missed_to_a_readers_probe_is_tried_again_soon(home: Path) -> None:
    import fcntl
    import os

    from mzt.machine.slot_watch import POLL_SECONDS

    first = slots.take("sheets", 1, slots.Holder("earlier", "/ws"), home=home)
    assert first is not None
    first.release()  # the slot file exists, free
    probe = os.open(home / "slots" / "sheets" / "0.lock", os.O_RDONLY)
    fcntl.flock(probe, fcntl.LOCK_SH)  # a reader looking at that instant
    one = gate(home, max_concurrent_sheets=1)
    try:
        hold = one.admit(1, "cli", "cli", None)
        # Free to the reader's eyes and its turn, yet not takable: no event will follow
        # the reader's close, so the run must not sleep a quiet second on it.
        assert hold is not None and hold.recheck == POLL_SECONDS
        os.close(probe)
        probe = -1
        deadline = time.monotonic() + 10
        while one.admit(1, "cli", "cli", None) is not None:
            assert time.monotonic() < deadline, "never took the slot once the probe was gone"
            time.sleep(POLL_SECONDS / 2)
    finally:
        if probe >= 0:
            os.close(probe)
        one.close()
