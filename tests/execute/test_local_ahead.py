"""Children started ahead (`LocalExecutor.prestart`): used by an equal launch, else dropped
unstarted; never run before they are launched, recorded and released."""

from __future__ import annotations

import os
import time
from pathlib import Path

from mzt.execute.base import ATTEMPT_VARIABLE, Finished
from mzt.execute.local import LocalExecutor
from mzt.support import records
from tests.execute.specs import shell_spec


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


def test_a_launch_of_the_spec_started_ahead_uses_its_child(tmp_path: Path) -> None:
    spec = shell_spec(tmp_path, f'echo "${{{ATTEMPT_VARIABLE}}}" >> {tmp_path}/ran')
    executor = LocalExecutor()
    try:
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
    finally:
        executor.close()


def test_a_launch_of_another_spec_drops_the_child_unstarted(tmp_path: Path) -> None:
    foreseen = shell_spec(tmp_path, f"touch {tmp_path}/foreseen")
    executor = LocalExecutor()
    try:
        executor.prestart(foreseen)
        assert executor.ahead is not None
        dropped = executor.ahead.started.process.proc.pid
        other = records.replace(foreseen, prompt=f"touch {tmp_path}/other")
        handle = executor.launch(other, lambda: None)
        assert handle.pid is not None and handle.pid != dropped
        assert _gone(dropped)
        executor.release(handle)
        assert isinstance(executor.wait(30), Finished)
        assert (tmp_path / "other").exists()
        assert not (tmp_path / "foreseen").exists()
    finally:
        executor.close()


def test_a_second_prestart_drops_the_first(tmp_path: Path) -> None:
    first = shell_spec(tmp_path, f"touch {tmp_path}/first")
    executor = LocalExecutor()
    try:
        executor.prestart(first)
        assert executor.ahead is not None
        pid = executor.ahead.started.process.proc.pid
        executor.prestart(records.replace(first, prompt=f"touch {tmp_path}/second"))
        assert _gone(pid)
    finally:
        executor.close()
    assert not (tmp_path / "first").exists()
    assert not (tmp_path / "second").exists()


def test_close_and_stop_all_drop_a_child_started_ahead(tmp_path: Path) -> None:
    spec = shell_spec(tmp_path, f"touch {tmp_path}/ran")
    for end in ("close", "stop_all"):
        executor = LocalExecutor()
        try:
            executor.prestart(spec)
            assert executor.ahead is not None
            pid = executor.ahead.started.process.proc.pid
            getattr(executor, end)()
            assert executor.ahead is None
            assert _gone(pid), end
        finally:
            executor.close()
    assert not (tmp_path / "ran").exists()


def test_a_spec_that_cannot_be_spawned_is_not_started_ahead(tmp_path: Path) -> None:
    spec = shell_spec(tmp_path, "true")
    missing = records.replace(spec, workdir=tmp_path / "missing")
    executor = LocalExecutor()
    try:
        executor.prestart(missing)
        assert executor.ahead is None
        # The launch meets the problem itself and reports it as usual.
        executor.launch(missing, lambda: None)
        finished = executor.wait(30)
        assert isinstance(finished, Finished)
        assert not finished.report.outcome.succeeded
    finally:
        executor.close()
