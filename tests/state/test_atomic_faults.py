"""Fault injection into every step of the save and append protocols.

Two families, both exhaustive over the steps of one fixed scenario:

* errors: the k-th system call fails with ENOSPC, EIO, EROFS or EDQUOT (once, or from
  then on), for every k;
* kills: the writer is SIGKILLed right after its k-th system call, for every k.

Every time, the checkpoint on disk must parse and hold either the last acknowledged state
or the one being written, with a consistent ``seq``; the next writer must start cleanly
(no temp file left, no torn journal line) and be able to carry on.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from mzt.state import CheckpointState, JobStatus, JsonStateBackend
from mzt.state.atomic import SYSCALLS, atomic_write
from mzt.state.lock import RunLock
from mzt.support.errors import StateWriteError
from tests.state.conftest import make_state

CALLS = ("mkstemp", "open", "write", "fsync", "close", "replace", "ftruncate", "fchmod", "unlink")
ERRNOS = (errno.ENOSPC, errno.EIO, errno.EROFS, errno.EDQUOT)

View = tuple[int, tuple[str, ...]]


def view(state: CheckpointState) -> View:
    """What must survive: the seq and every sheet's status."""
    return state.seq, tuple(s.status.value for _, s in sorted(state.sheets.items()))


def intent(state: CheckpointState) -> View:
    """The view the next state-changing write will produce."""
    return state.seq + 1, view(state)[1]


Mutation = Callable[[CheckpointState], None] | None
Write = Callable[[JsonStateBackend, CheckpointState], object]


def _journal(num: int) -> Write:
    return lambda store, state: store.record_sheet(state, num)


# (state change, write): a fixed scenario that goes through every write path.
SCENARIO: list[tuple[Mutation, Write]] = [
    (lambda s: s.mark_sheet_started(1), _journal(1)),  # creates the history file
    (lambda s: s.mark_sheet_completed(1), _journal(1)),
    (None, lambda store, state: store.record_event(state, "retry_scheduled", sheet_num=2)),
    (lambda s: s.mark_sheet_started(2), _journal(2)),
    (lambda s: s.mark_sheet_failed(2, "it broke"), _journal(2)),
    (lambda s: None, lambda store, state: store.compact(state)),
    (None, lambda store, state: store.record_execution("job", 2, 1, output="tail")),
    (lambda s: s.mark_job_paused(), lambda store, state: store.save(state)),
]


def play(store: JsonStateBackend, state: CheckpointState, mutate: Mutation, write: Write) -> View:
    """Apply a scenario step's change; return the view its write should produce."""
    if mutate is None:
        return view(state)
    mutate(state)
    return intent(state)


def baseline(workspace: Path) -> tuple[JsonStateBackend, CheckpointState]:
    store = JsonStateBackend(workspace)
    state = make_state(2)
    state.mark_job_running()
    store.save(state)
    return store, state


def disk_view(workspace: Path) -> View:
    loaded = JsonStateBackend(workspace).load("job")
    assert loaded is not None
    return view(loaded)


def assert_next_start_is_clean(workspace: Path) -> None:
    store = JsonStateBackend(workspace)
    with RunLock(store.lock_path("job"), job_id="job"):
        state = store.load_for_run("job")
        assert state is not None
        leftovers = [p.name for p in store.state_dir.iterdir() if p.name.endswith(".tmp")]
        assert leftovers == []
        journal = store.history_path("job")
        if journal.exists() and journal.stat().st_size:
            assert journal.read_bytes().endswith(b"\n")
        # The next writer can carry on from whatever survived.
        state.mark_job_running()
        store.save(state)
        state.mark_sheet_started(1)
        store.record_sheet(state, 1)
        store.close()
    again = JsonStateBackend(workspace).load("job")
    assert again is not None and again.seq == state.seq


class FaultPlan:
    """Counts system calls; fails (or runs a hook) at the k-th."""

    def __init__(self) -> None:
        self.count = 0
        self.fail_at: int | None = None
        self.errno = errno.EIO
        self.persistent = False
        self.after: Callable[[int], None] | None = None

    def wrap(self, name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            self.count += 1
            n = self.count
            if self.fail_at is not None and (
                n == self.fail_at or (self.persistent and n > self.fail_at)
            ):
                if name == "write" and len(args[1]) > 1:
                    # A disk that fills up mid-write: part of the data lands, then the error.
                    real(args[0], bytes(args[1])[: len(args[1]) // 2])
                raise OSError(self.errno, f"injected {os.strerror(self.errno)} in {name}")
            result = real(*args, **kwargs)
            if self.after is not None:
                self.after(n)
            return result

        return call


@contextmanager
def injected(plan: FaultPlan) -> Iterator[FaultPlan]:
    originals = {name: getattr(SYSCALLS, name) for name in CALLS}
    for name, real in originals.items():
        setattr(SYSCALLS, name, plan.wrap(name, real))
    try:
        yield plan
    finally:
        for name, real in originals.items():
            setattr(SYSCALLS, name, real)


def calls_in_clean_run(tmp_path: Path) -> int:
    workspace = tmp_path / "count"
    workspace.mkdir()
    store, state = baseline(workspace)
    with RunLock(store.lock_path("job"), job_id="job"), injected(FaultPlan()) as plan:
        for mutate, write in SCENARIO:
            play(store, state, mutate, write)
            write(store, state)
    return plan.count


@pytest.fixture(scope="module")
def total_calls(tmp_path_factory: pytest.TempPathFactory) -> int:
    count = calls_in_clean_run(tmp_path_factory.mktemp("count"))
    assert count > 30  # the scenario really exercises both protocols
    return count


# --- errors at every call -----------------------------------------------------------------------


def run_with_fault(workspace: Path, fail_at: int, err: int, persistent: bool) -> bool:
    """Run the scenario with one injected fault; verify the aftermath. True if it fired."""
    store, state = baseline(workspace)
    acked = view(state)
    plan = FaultPlan()
    plan.fail_at, plan.errno, plan.persistent = fail_at, err, persistent
    failure: StateWriteError | None = None
    attempted = acked
    with RunLock(store.lock_path("job"), job_id="job"):
        with injected(plan):
            for mutate, write in SCENARIO:
                attempted = play(store, state, mutate, write)
                try:
                    write(store, state)
                except StateWriteError as exc:
                    failure = exc
                    break
                acked = view(state)
        store.close()
        fired = plan.count >= fail_at
        if not fired:
            assert failure is None
            return False
        # A one-shot failure on the normal path must surface: never swallowed or retried.
        assert failure is not None, f"call {fail_at} failed silently"
        assert errno.errorcode[err] in failure.message and str(workspace) in failure.message
        assert failure.exit_code == 5
        on_disk = disk_view(workspace)
        if failure.replaced:
            assert on_disk == attempted and state.seq == attempted[0]
        else:
            assert on_disk in (acked, attempted)
            assert state.seq == acked[0]  # the failed write did not advance seq
    assert_next_start_is_clean(workspace)
    return True


@pytest.mark.parametrize("err", ERRNOS, ids=errno.errorcode.get)
@pytest.mark.parametrize("persistent", [False, True], ids=["once", "from-then-on"])
def test_failure_at_every_call(
    tmp_path: Path, total_calls: int, err: int, persistent: bool
) -> None:
    for k in range(1, total_calls + 1):
        workspace = tmp_path / f"k{k}"
        workspace.mkdir()
        assert run_with_fault(workspace, k, err, persistent), k
    beyond = tmp_path / "beyond"
    beyond.mkdir()
    assert not run_with_fault(beyond, total_calls + 1, err, persistent)


def test_fsync_is_never_retried_on_a_failed_descriptor(workspace: Path) -> None:
    target = workspace / "f.json"
    atomic_write(target, b"old")
    seen: list[int] = []
    real_fsync = SYSCALLS.fsync

    def flaky_fsync(fd: int) -> None:
        seen.append(fd)
        if len(seen) == 1:
            raise OSError(errno.EIO, "injected")
        real_fsync(fd)

    SYSCALLS.fsync = flaky_fsync
    try:
        with pytest.raises(StateWriteError, match="EIO, during fsync"):
            atomic_write(target, b"new")
    finally:
        SYSCALLS.fsync = real_fsync
    assert len(seen) == 1
    assert target.read_bytes() == b"old"
    assert [p.name for p in workspace.iterdir()] == ["f.json"]


def test_short_writes_are_completed(workspace: Path) -> None:
    real_write = SYSCALLS.write
    SYSCALLS.write = lambda fd, data: real_write(fd, bytes(data)[:3])
    try:
        atomic_write(workspace / "f", b"0123456789" * 10)
    finally:
        SYSCALLS.write = real_write
    assert (workspace / "f").read_bytes() == b"0123456789" * 10


def test_folder_fsync_failure_is_reported_as_unknown_durability(workspace: Path) -> None:
    target = workspace / "f"
    calls: list[int] = []
    real_fsync = SYSCALLS.fsync

    def fail_second(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 2:  # the folder's
            raise OSError(errno.EIO, "injected")
        real_fsync(fd)

    SYSCALLS.fsync = fail_second
    try:
        with pytest.raises(StateWriteError) as caught:
            atomic_write(target, b"new")
    finally:
        SYSCALLS.fsync = real_fsync
    assert caught.value.replaced and "may not survive a power loss" in caught.value.message
    assert target.read_bytes() == b"new"


# --- SIGKILL after every call -----------------------------------------------------------------


def kill_after(workspace: Path, k: int) -> tuple[list[View], View | None, int]:
    """Fork a writer that SIGKILLs itself after its k-th call; returns (acks, intent, status)."""
    store, state = baseline(workspace)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the writer
        code = 0
        try:
            os.close(read_end)
            report = os.fdopen(write_end, "w", buffering=1)
            RunLock(store.lock_path("job"), job_id="job").acquire()
            plan = FaultPlan()

            def die(n: int) -> None:
                if n == k:
                    os.kill(os.getpid(), signal.SIGKILL)

            plan.after = die
            with injected(plan):
                for mutate, write in SCENARIO:
                    report.write(json.dumps(["intent", play(store, state, mutate, write)]) + "\n")
                    write(store, state)
                    report.write(json.dumps(["ack", view(state)]) + "\n")
        except BaseException:
            code = 99
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end) as reader:
        messages = [json.loads(line) for line in reader]
    _, status = os.waitpid(pid, 0)
    acks = [view(state)] + [tuple_view(m[1]) for m in messages if m[0] == "ack"]
    intents = [m[1] for m in messages if m[0] == "intent"]
    last_intent = tuple_view(intents[-1]) if intents else None
    return acks, last_intent, status


def tuple_view(raw: list[Any]) -> View:
    return raw[0], tuple(raw[1])


def test_sigkill_after_every_call(tmp_path: Path, total_calls: int) -> None:
    killed = 0
    for k in range(1, total_calls + 2):
        workspace = tmp_path / f"k{k}"
        workspace.mkdir()
        acks, attempted, status = kill_after(workspace, k)
        if os.WIFEXITED(status):
            assert os.WEXITSTATUS(status) == 0 and k > total_calls
            continue
        assert os.WTERMSIG(status) == signal.SIGKILL
        killed += 1
        on_disk = disk_view(workspace)
        allowed = {acks[-1]} | ({attempted} if attempted is not None else set())
        assert on_disk in allowed, (k, on_disk, allowed)
        reloaded = JsonStateBackend(workspace).load("job")
        assert reloaded is not None
        if reloaded.seq < acks[-1][0] + 1 and acks[-1] != acks[0]:
            assert reloaded.seq == acks[-1][0]
        if "paused" not in on_disk[1]:
            assert reloaded.status == JobStatus.PAUSED  # the dead writer is a zombie
        assert_next_start_is_clean(workspace)
    assert killed == total_calls


_KILL_SCRIPT = """
import os, signal, sys
from pathlib import Path
from mzt.state import JsonStateBackend
from mzt.state.atomic import SYSCALLS
store = JsonStateBackend(Path(sys.argv[1]))
state = store.load("job")
real = SYSCALLS.replace
def replace_then_die(src, dst):
    real(src, dst)
    os.kill(os.getpid(), signal.SIGKILL)
SYSCALLS.replace = replace_then_die
state.mark_sheet_completed(2)
store.save(state)
"""


def test_sigkill_in_a_separate_process_right_after_rename(workspace: Path) -> None:
    _, state = baseline(workspace)
    before = state.seq
    result = subprocess.run([sys.executable, "-c", _KILL_SCRIPT, str(workspace)], check=False)
    assert result.returncode == -signal.SIGKILL
    loaded = JsonStateBackend(workspace).load("job")
    assert loaded is not None and loaded.seq == before + 1
    assert loaded.sheets[2].status.value == "completed"
    assert_next_start_is_clean(workspace)
