"""Children started ahead (`LocalExecutor.prestart`): used by an equal launch, else dropped
unstarted; never run before they are launched, recorded and released."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mzt.execute.attempt import AttemptSpec
from mzt.execute.base import ATTEMPT_VARIABLE, Finished
from mzt.execute.local import LocalExecutor
from mzt.support import records
from tests.execute.specs import shell_spec


@pytest.fixture
def executor() -> Iterator[LocalExecutor]:
    made = LocalExecutor()
    try:
        yield made
    finally:
        made.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _gone(pid: int, seconds: float = 10.0) -> bool:
    end = time.monotonic() + seconds
    while _alive(pid):
        if time.monotonic() > end:
            return False
        time.sleep(0.01)
    return True


def _start_ahead(executor: LocalExecutor, spec: AttemptSpec) -> int:
    """Start ``spec`` ahead; the pid of its held child."""
    executor.prestart(spec)
    assert executor.ahead is not None
    return executor.ahead.started.process.proc.pid


def test_a_launch_of_the_spec_started_ahead_uses_its_child(
    tmp_path: Path, executor: LocalExecutor
) -> None:
    spec = shell_spec(tmp_path, f'echo "${{{ATTEMPT_VARIABLE}}}" >> {tmp_path}/ran')
    executor.prestart(spec)
    ahead = executor.ahead
    assert ahead is not None
    pid = ahead.started.process.proc.pid
    time.sleep(0.2)  # held: the script has not run, however long it waits
    assert not (tmp_path / "ran").exists()
    handle = executor.launch(spec, lambda: None)
    assert (handle.pid, handle.token) == (pid, ahead.token)
    assert executor.ahead is None
    assert executor.wait(0.2) is None and not (tmp_path / "ran").exists()
    executor.release(handle)
    finished = executor.wait(30)
    assert isinstance(finished, Finished)
    assert finished.report.outcome.succeeded
    # Once, with the token the handle recorded; timed from the launch, not the spawn.
    assert (tmp_path / "ran").read_text().split() == [handle.token]
    assert finished.report.outcome.duration < 5


def test_a_launch_of_another_spec_drops_the_child_unstarted(
    tmp_path: Path, executor: LocalExecutor
) -> None:
    foreseen = shell_spec(tmp_path, f"touch {tmp_path}/foreseen")
    dropped = _start_ahead(executor, foreseen)
    other = records.replace(foreseen, prompt=f"touch {tmp_path}/other")
    handle = executor.launch(other, lambda: None)
    assert handle.pid is not None and handle.pid != dropped
    assert _gone(dropped)
    executor.release(handle)
    assert isinstance(executor.wait(30), Finished)
    assert (tmp_path / "other").exists()
    assert not (tmp_path / "foreseen").exists()


def test_a_second_prestart_drops_the_first(tmp_path: Path, executor: LocalExecutor) -> None:
    first = shell_spec(tmp_path, f"touch {tmp_path}/first")
    pid = _start_ahead(executor, first)
    executor.prestart(records.replace(first, prompt=f"touch {tmp_path}/second"))
    assert _gone(pid)
    assert not (tmp_path / "first").exists()
    assert not (tmp_path / "second").exists()


def test_close_and_stop_all_drop_a_child_started_ahead(tmp_path: Path) -> None:
    spec = shell_spec(tmp_path, f"touch {tmp_path}/ran")
    for end in ("close", "stop_all"):
        executor = LocalExecutor()
        try:
            pid = _start_ahead(executor, spec)
            getattr(executor, end)()
            assert executor.ahead is None
            assert _gone(pid), end
        finally:
            executor.close()
    assert not (tmp_path / "ran").exists()


def test_a_spec_that_cannot_be_spawned_is_not_started_ahead(
    tmp_path: Path, executor: LocalExecutor
) -> None:
    spec = shell_spec(tmp_path, "true")
    missing = records.replace(spec, workdir=tmp_path / "missing")
    executor.prestart(missing)
    assert executor.ahead is None
    # The launch meets the problem itself and reports it as usual.
    executor.launch(missing, lambda: None)
    finished = executor.wait(30)
    assert isinstance(finished, Finished)
    assert not finished.report.outcome.succeeded
