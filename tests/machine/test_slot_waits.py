"""Which sheets wait for machine slots, read beside real holders and real waiting tickets."""

from __future__ import annotations

import contextlib
import os
import stat
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mzt.machine import fairshare, slot_waits, slots
from mzt.machine.config import InstrumentLimit, MachineConfig, ModelLimit
from mzt.support import paths
from tests.machine.slot_child import holding, let_go

WS = "/work/ws-a"
CONFIG = MachineConfig(
    max_concurrent_sheets=2,
    max_concurrent_jobs=3,
    instruments={"cli": InstrumentLimit(max_concurrent=1)},
    models={"gpt-4.1": ModelLimit(max_concurrent=1)},
)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def holders(home: Path) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Processes holding slots (``slot_child.py hold``: sheet 2 of job JOB) until the end."""
    with contextlib.ExitStack() as stack:
        yield lambda job, *specs: stack.enter_context(holding(home, job, *specs))


@pytest.fixture
def tickets() -> Iterator[list[fairshare.Ticket]]:
    held: list[fairshare.Ticket] = []
    yield held
    for ticket in held:
        ticket.leave()


def queue(
    held: list[fairshare.Ticket], home: Path, limit: str, job: str, sheet: int | None
) -> fairshare.Ticket:
    """A live ticket in ``limit``'s queue, as a waiting attempt holds one (this process's
    lock: a probe on another descriptor sees it as any other process's)."""
    ticket = fairshare.join(limit, slots.Holder(job, WS, sheet, "cli"), home=home)
    held.append(ticket)
    return ticket


def snapshot(home: Path) -> dict[str, tuple[int, int, int]]:
    """Every path under ``slots/`` with its mode, size and mtime: a read changes none."""
    found = {}
    for path in sorted(paths.slots_dir(home).rglob("*")):
        st = path.lstat()
        found[str(path)] = (st.st_mode, st.st_size, st.st_mtime_ns)
    return found


def test_a_sheet_waiting_for_a_full_instrument_limit_says_who_holds_it(
    home: Path, holders: Callable[..., subprocess.Popen[str]], tickets: list[fairshare.Ticket]
) -> None:
    holders("busy", "instrument-cli:1")
    for limit in ("sheets", "instrument-cli"):
        queue(tickets, home, limit, "a", 3)
    before = snapshot(home)
    waits = slot_waits.waiting_sheets("a", WS, CONFIG, home=home)
    assert waits == {
        3: slot_waits.SlotWait("instrument-cli", "waiting for a cli slot: 1/1 held by job busy")
    }
    assert waits[3].to_json() == {
        "limit": "instrument-cli",
        "text": "waiting for a cli slot: 1/1 held by job busy",
    }
    assert snapshot(home) == before
    assert slot_waits.waiting_sheets("other", WS, CONFIG, home=home) == {}
    assert slot_waits.waiting_sheets("a", "/elsewhere", CONFIG, home=home) == {}


def test_the_first_full_limit_in_the_runs_order_is_named_and_a_free_one_is_a_turn(
    home: Path, holders: Callable[..., subprocess.Popen[str]], tickets: list[fairshare.Ticket]
) -> None:
    holders("x", "sheets:2", "instrument-cli:1")
    holders("y", "sheets:2")
    for limit in ("sheets", "instrument-cli", "model-gpt-4_1"):
        queue(tickets, home, limit, "a", 1)
    queue(tickets, home, "model-gpt-4_1", "a", 2)  # a free limit: other jobs go first
    waits = slot_waits.waiting_sheets("a", WS, CONFIG, home=home)
    assert waits[1].text == "waiting for a sheet slot: 2/2 held by jobs x, y"
    assert waits[2] == slot_waits.SlotWait(
        "model-gpt-4.1",
        "waiting for a slot for the model gpt-4.1: 0/1 held, other jobs' turn first",
    )


def test_the_run_waiting_for_a_job_slot_is_the_none_entry(
    home: Path, holders: Callable[..., subprocess.Popen[str]], tickets: list[fairshare.Ticket]
) -> None:
    holders("p", "jobs:1")
    holders("q", "jobs:3")
    holders("r", "jobs:3")
    queue(tickets, home, "jobs", "a", None)
    waits = slot_waits.waiting_sheets("a", WS, CONFIG, home=home)
    assert waits == {
        None: slot_waits.SlotWait("jobs", "waiting for a job slot: 3/3 held by jobs p, q, r")
    }


def test_dead_tickets_are_ignored_and_left_in_place(
    home: Path, holders: Callable[..., subprocess.Popen[str]], tickets: list[fairshare.Ticket]
) -> None:
    holders("busy", "sheets:2", "instrument-cli:1")
    dead = queue(tickets, home, "sheets", "a", 4)
    os.close(dead.fd)  # its waiter died: the lock is gone, the file stays
    dead.fd = -1
    assert slot_waits.waiting_sheets("a", WS, CONFIG, home=home) == {}
    assert slot_waits.machine_waits(CONFIG, home=home) == {}
    assert dead.path.exists()


def test_a_sheet_that_already_holds_its_slots_does_not_wait(
    home: Path, tickets: list[fairshare.Ticket]
) -> None:
    # The instant between a waiter taking its slots and leaving the queue.
    taken = slots.take_all([("sheets", 2)], slots.Holder("a", WS, 5, "cli"), home=home)
    assert taken is not None
    try:
        queue(tickets, home, "sheets", "a", 5)
        assert slot_waits.waiting_sheets("a", WS, CONFIG, home=home) == {}
    finally:
        taken.release()


def test_machine_slots_lists_every_limit_in_use_with_its_holders(
    home: Path, holders: Callable[..., subprocess.Popen[str]], tickets: list[fairshare.Ticket]
) -> None:
    assert [(u.limit, u.capacity, u.held) for u in slot_waits.machine_slots(CONFIG, home)] == [
        ("sheets", 2, 0),
        ("jobs", 3, 0),
    ]
    holders("x", "sheets:2", "instrument-cli:1", "model-gpt-4_1:1")
    holders("y", "sheets:2", "instrument-claude-code:4")
    queue(tickets, home, "sheets", "a", 1)
    uses = slot_waits.machine_slots(CONFIG, home)
    assert [(u.limit, u.capacity, u.held) for u in uses] == [
        ("sheets", 2, 2),
        ("jobs", 3, 0),
        ("instrument-claude-code", 4, 1),
        ("instrument-cli", 1, 1),
        ("model-gpt-4.1", 1, 1),
    ]
    assert slot_waits.use_json(uses[0]) == {
        "limit": "sheets",
        "capacity": 2,
        "held": 2,
        "by_job": {"x": 1, "y": 1},
        "problem": None,
    }
    folders = {p.parent.name for p in slot_waits.tickets_folders(home)}
    assert folders == {"sheets"}


def test_a_limit_the_configuration_dropped_shows_only_while_held(
    home: Path, holders: Callable[..., subprocess.Popen[str]]
) -> None:
    plain = MachineConfig(max_concurrent_sheets=2)
    holder = holders("x", "model-old:2")
    shown = [(u.limit, u.capacity, u.held) for u in slot_waits.machine_slots(plain, home)]
    assert ("model-old", 0, 1) in shown
    let_go(holder)
    shown = [(u.limit, u.capacity, u.held) for u in slot_waits.machine_slots(plain, home)]
    assert [limit for limit, _, _ in shown] == ["sheets", "jobs"]


def test_nothing_is_created_when_no_slot_was_ever_used(home: Path) -> None:
    assert slot_waits.waiting_sheets("a", WS, CONFIG, home=home) == {}
    assert slot_waits.machine_waits(CONFIG, home=home) == {}
    assert [u.held for u in slot_waits.machine_slots(CONFIG, home)] == [0, 0]
    assert slot_waits.tickets_folders(home) == []
    assert not home.exists()


def test_an_odd_ticket_is_skipped(home: Path, tickets: list[fairshare.Ticket]) -> None:
    live = queue(tickets, home, "sheets", "a", 1)
    folder = live.path.parent
    os.mkfifo(folder / f"{'0' * 20}.1.a.ticket")  # never opened for waiting
    (folder / f"{'0' * 19}1.2.a.ticket").symlink_to(live.path)
    waits = slot_waits.waiting_sheets("a", WS, CONFIG, home=home)
    assert list(waits) == [1]
    assert stat.S_ISFIFO((folder / f"{'0' * 20}.1.a.ticket").lstat().st_mode)


def test_a_workspace_the_records_hold_redacted_is_still_found(
    home: Path, holders: Callable[..., subprocess.Popen[str]]
) -> None:
    holders("busy", "sheets:2")
    holders("busy", "sheets:2")
    secretive = "/work/ghp_" + "a" * 36 + "/ws"
    holder = slots.Holder("a", secretive, 1, "cli")
    ticket = fairshare.join("sheets", holder, home=home)
    try:
        assert "ghp_" not in ticket.path.read_text()  # the record is redacted
        waits = slot_waits.waiting_sheets("a", secretive, CONFIG, home=home)
    finally:
        ticket.leave()
    assert waits[1].text == "waiting for a sheet slot: 2/2 held by job busy"
