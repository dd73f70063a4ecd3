"""Machine slots with real processes: never more holders than slots, nothing leaks."""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

from mzt.machine import slot_use, slots
from mzt.support import paths, procinfo
from mzt.support.errors import FolderError
from mzt.support.exitcodes import ExitCode

CHILD = Path(__file__).with_name("slot_child.py")
HOLDER = slots.Holder("here", "/ws", 1, "cli")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@contextmanager
def held_elsewhere(
    home: Path, job: str, *specs: str, spawn: bool = False
) -> Iterator[tuple[subprocess.Popen[str], int | None]]:
    """A child holding a slot of each ``name:capacity`` until the block ends."""
    mode = "hold-spawn" if spawn else "hold"
    child = subprocess.Popen(
        [sys.executable, str(CHILD), mode, str(home), job, *specs],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None and child.stdin is not None
    try:
        assert child.stdout.readline().strip() == "held"
        grandchild = int(child.stdout.readline()) if spawn else None
        yield child, grandchild
    finally:
        with suppress(BrokenPipeError):  # it was killed: nothing to tell it
            child.stdin.close()
        child.wait(timeout=30)
        child.stdout.close()


def kill_hard(child: subprocess.Popen[str]) -> None:
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)


def test_n_slots_never_have_more_than_n_holders_across_racing_processes(
    home: Path, tmp_path: Path
) -> None:
    capacity, racers, loops = 3, 8, 40
    outs = [tmp_path / f"racer-{i}.txt" for i in range(racers)]
    argv = [sys.executable, str(CHILD), "race", str(home), "sheets", str(capacity), str(loops)]
    children = [subprocess.Popen([*argv, str(out)]) for out in outs]
    assert [child.wait(timeout=120) for child in children] == [0] * racers
    events: list[tuple[int, int]] = []
    for out in outs:
        holds = [tuple(map(int, line.split())) for line in out.read_text().splitlines()]
        assert len(holds) == loops
        for started, ended in holds:
            events += [(started, 1), (ended, -1)]
    running = peak = 0
    for _, step in sorted(events, key=lambda event: (event[0], event[1])):  # ends first
        running += step
        peak = max(peak, running)
    assert 1 <= peak <= capacity
    assert slot_use.read_limit("sheets", capacity, home=home).held == 0


def test_kill_9_of_a_holder_frees_its_slot_at_once(home: Path) -> None:
    with held_elsewhere(home, "victim", "instrument-claude-code:1") as (child, _):
        assert slots.take("instrument-claude-code", 1, HOLDER, home=home) is None
        kill_hard(child)
        slot = slots.take("instrument-claude-code", 1, HOLDER, home=home)  # no retry, no wait
        assert slot is not None
        slot.release()


def test_a_child_of_the_holder_does_not_keep_the_slot(home: Path) -> None:
    with held_elsewhere(home, "parent", "sheets:1", spawn=True) as (child, grandchild):
        assert grandchild is not None
        try:
            assert slot_use.read_limit("sheets", 1, home=home).held == 1
            kill_hard(child)
            assert procinfo.read_stat(grandchild) is not None  # it lives on
            assert slot_use.read_limit("sheets", 1, home=home).held == 0
            slot = slots.take("sheets", 1, HOLDER, home=home)
            assert slot is not None
            slot.release()
        finally:
            os.kill(grandchild, signal.SIGKILL)


def test_release_frees_the_slot_while_a_child_spawned_under_it_runs(home: Path) -> None:
    slot = slots.take("sheets", 1, HOLDER, home=home)
    assert slot is not None
    sleeper = subprocess.Popen(["sleep", "600"], close_fds=False)
    try:
        inherited = {os.path.realpath(f"/proc/{sleeper.pid}/fd/{fd}") for fd in _fds(sleeper.pid)}
        assert os.path.realpath(slot.path) not in inherited
        slot.release()
        with held_elsewhere(home, "next", "sheets:1"):
            assert slot_use.read_limit("sheets", 1, home=home).holders() == ["next"]
    finally:
        sleeper.kill()
        sleeper.wait()


def _fds(pid: int) -> list[str]:
    return os.listdir(f"/proc/{pid}/fd")


def test_a_probe_reads_the_holders_records_and_ignores_stale_ones(home: Path) -> None:
    with (
        held_elsewhere(home, "alpha", "sheets:3") as (first, _),
        held_elsewhere(home, "beta", "sheets:3") as (second, _),
    ):
        use = slot_use.read_limit("sheets", 3, home=home)
        assert use.summary() == "2/3 held by jobs alpha, beta"
        record = use.slots[0].holder
        assert record is not None
        assert record["pid"] == first.pid
        found = procinfo.read_stat(first.pid)
        assert found is not None and record["start_time"] == found.start_time
        assert (record["workspace"], record["sheet"]) == (str(home), 2)
        assert record["instrument"] == "claude-code"
        kill_hard(second)  # its record stays in the file, its lock does not
        assert paths.slot_file("sheets", 1, home).read_bytes()
        assert slot_use.read_limit("sheets", 3, home=home).summary() == "1/3 held by job alpha"
        # The probe did not disturb the holder: the slot is still not free.
        assert slots.take("sheets", 1, HOLDER, home=home) is None


def test_a_set_releases_what_it_took_when_one_limit_is_full(home: Path) -> None:
    limits = [("sheets", 2), ("zeta-model", 1)]  # sheets is taken first, by name
    with held_elsewhere(home, "busy", "zeta-model:1"):
        assert slots.take_all(limits, HOLDER, home=home) is None
        assert slot_use.read_limit("sheets", 2, home=home).held == 0
        assert paths.slot_file("sheets", 0, home).read_bytes() == b""
    taken = slots.take_all(limits, HOLDER, home=home)
    assert taken is not None
    with taken:
        assert sorted(slot.limit for slot in taken.slots) == ["sheets", "zeta-model"]
        assert slots.take_all(limits, HOLDER, home=home) is None  # zeta-model is full
        assert slot_use.read_limit("sheets", 2, home=home).held == 1
    assert slot_use.read_limit("zeta-model", 1, home=home).held == 0


def test_a_set_releases_what_it_took_when_a_later_limit_raises(home: Path) -> None:
    paths.slot_limit_dir("zeta", home).mkdir(parents=True)
    paths.slot_file("zeta", 0, home).mkdir()
    with pytest.raises(slots.SlotFileError):
        slots.take_all([("sheets", 1), ("zeta", 1)], HOLDER, home=home)
    assert slot_use.read_limit("sheets", 1, home=home).held == 0


def test_a_lowered_capacity_takes_no_slot_above_it_and_counts_those_still_held(
    home: Path,
) -> None:
    taken = [slots.take("jobs", 3, HOLDER, home=home) for _ in range(3)]
    held = [slot for slot in taken if slot is not None]
    assert [slot.index for slot in held] == [0, 1, 2]
    assert slots.take("jobs", 2, HOLDER, home=home) is None
    assert slot_use.read_limit("jobs", 2, home=home).summary() == "3/2 held by job here"
    held[2].release()
    assert slots.take("jobs", 2, HOLDER, home=home) is None
    held[0].release()
    again = slots.take("jobs", 2, HOLDER, home=home)
    assert again is not None and again.index == 0
    for slot in (again, *held):
        slot.release()


def test_slot_folders_and_files_are_private_whatever_the_umask(home: Path) -> None:
    previous = os.umask(0)
    try:
        slot = slots.take("sheets", 1, HOLDER, home=home)
    finally:
        os.umask(previous)
    assert slot is not None
    slot.release()
    assert stat.S_IMODE(paths.slot_limit_dir("sheets", home).stat().st_mode) == 0o700
    assert stat.S_IMODE(paths.slots_dir(home).stat().st_mode) == 0o700
    assert stat.S_IMODE(paths.slot_file("sheets", 0, home).stat().st_mode) == 0o600


def test_a_limit_name_is_made_safe_for_its_folder(home: Path) -> None:
    slot = slots.take("model-claude/../3.5", 1, HOLDER, home=home)
    assert slot is not None
    slot.release()
    assert paths.slot_limit_dir("model-claude/../3.5", home).name == "model-claude____3_5"
    assert paths.slot_limit_dir("model-claude/../3.5", home).parent == paths.slots_dir(home)


def _plant(kind: str, path: Path, tmp_path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "folder":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "socket":
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(path))
        server.close()
    elif kind == "symlink":
        (tmp_path / "elsewhere").write_text("")
        path.symlink_to(tmp_path / "elsewhere")
    elif kind == "dangling symlink":
        path.symlink_to(tmp_path / "nothing")


@pytest.mark.parametrize("kind", ["folder", "fifo", "socket", "symlink", "dangling symlink"])
def test_an_odd_slot_file_is_a_clear_error_for_takers_and_a_problem_for_readers(
    kind: str, home: Path, tmp_path: Path
) -> None:
    odd = paths.slot_file("sheets", 0, home)
    _plant(kind, odd, tmp_path)
    with pytest.raises(slots.SlotFileError) as raised:
        slots.take("sheets", 2, HOLDER, home=home)
    assert str(odd) in str(raised.value)
    assert "not a plain file" in str(raised.value)
    assert raised.value.exit_code == ExitCode.STATE
    use = slot_use.read_limit("sheets", 2, home=home)
    assert use.slots[0].problem and not use.slots[0].held
    assert use.held == 0 and not use.slots[1].problem
    if kind == "symlink":
        assert (tmp_path / "elsewhere").read_text() == ""  # never written through


def test_an_odd_file_is_not_reached_while_a_slot_before_it_is_free(
    home: Path, tmp_path: Path
) -> None:
    _plant("fifo", paths.slot_file("sheets", 1, home), tmp_path)
    slot = slots.take("sheets", 2, HOLDER, home=home)
    assert slot is not None and slot.index == 0
    with pytest.raises(slots.SlotFileError):  # the next taker meets it: an error, no wait
        slots.take("sheets", 2, HOLDER, home=home)
    slot.release()


@pytest.mark.parametrize("where", ["limit", "slots"])
@pytest.mark.parametrize("kind", ["symlink", "file"])
def test_an_odd_slots_folder_is_a_folder_error(
    where: str, kind: str, home: Path, tmp_path: Path
) -> None:
    folder = paths.slot_limit_dir("sheets", home) if where == "limit" else paths.slots_dir(home)
    folder.parent.mkdir(parents=True, exist_ok=True)
    if kind == "symlink":
        (tmp_path / "real").mkdir()
        folder.symlink_to(tmp_path / "real")
    else:
        folder.write_text("")
    with pytest.raises(FolderError) as raised:
        slots.take("sheets", 1, HOLDER, home=home)
    assert str(folder) in str(raised.value)
    assert raised.value.exit_code == ExitCode.STATE
    assert slot_use.read_limit("sheets", 1, home=home).problem.startswith(str(folder))
    if kind == "symlink":
        assert list((tmp_path / "real").iterdir()) == []


def test_a_capacity_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        slots.take("sheets", 0, HOLDER)


def test_a_longer_stale_record_is_cut_to_the_new_holders(home: Path) -> None:
    stale = paths.slot_file("sheets", 0, home)
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b'{"job_id": "killed long ago"}' + b" " * 3000 + b"tail\n")
    with held_elsewhere(home, "fresh", "sheets:1"):
        holder = slot_use.read_limit("sheets", 1, home=home).slots[0].holder
        assert holder is not None and holder["job_id"] == "fresh"
    assert slot_use.read_limit("sheets", 1, home=home).held == 0
