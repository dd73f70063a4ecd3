"""The run loop: the pause between sheets sleeps and still hears requests; a stop names
every attempt it cut short."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from mzt import api
from mzt.execute.base import Finished, Placed
from mzt.execute.local import LocalExecutor
from mzt.instruments import load_instruments
from mzt.run.bookkeeping import Bookkeeper
from mzt.run.reporting import NullReporter
from mzt.run.runner import Runner
from mzt.support.process import StopRequest
from tests.helpers import minimal, write_score


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "home"
    monkeypatch.setenv("MZT_HOME", str(folder))
    return folder


def _score(tmp_path: Path, pause: float) -> Path:
    data = minimal(
        workspace="./ws",
        instrument="cli",
        pause_between_sheets_seconds=pause,
        prompt={"template": "true"},
    )
    return write_score(tmp_path, data)


def test_the_pause_between_sheets_sleeps_instead_of_polling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = 0
    original = Bookkeeper.next_wake

    def counted(self: Bookkeeper, state: Any) -> float | None:
        nonlocal calls
        calls += 1
        return original(self, state)

    monkeypatch.setattr(Bookkeeper, "next_wake", counted)
    started = time.monotonic()
    result = api.run_score(_score(tmp_path, pause=0.5))
    assert result.exit_code == 0, result.message
    assert time.monotonic() - started >= 1.0  # two pauses between three sheets
    # A loop that spins through the pause asks thousands of times; one that sleeps, a few
    # times per sheet.
    assert calls < 60, calls


class _AskAfterFirst(NullReporter):
    """Creates a request file once sheet 1 is done, i.e. at the start of the pause."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def sheet_finished(self, num: int, status: str, detail: str) -> None:
        if num == 1:
            self.path.touch()


@pytest.mark.parametrize(
    ("kind", "code", "status"), [("pause", 3, "paused"), ("cancel", 4, "cancelled")]
)
def test_a_request_during_the_pause_acts_at_once(
    tmp_path: Path, kind: str, code: int, status: str
) -> None:
    request = tmp_path / "ws" / f".marianne-{kind}-t"
    started = time.monotonic()
    result = api.run_score(_score(tmp_path, pause=600), reporter=_AskAfterFirst(request))
    assert (result.exit_code, result.status) == (code, status), result.message
    assert result.completed == 1
    assert time.monotonic() - started < 60  # the 600 s pause was cut short
    assert not request.exists()


class _Starts(NullReporter):
    def __init__(self) -> None:
        self.at: list[float] = []

    def sheet_started(self, num: int, attempt: int, instrument: str, mode: str) -> None:
        self.at.append(time.monotonic())


def test_parallel_sheets_start_a_stagger_apart(tmp_path: Path) -> None:
    data = minimal(
        workspace="./ws",
        instrument="cli",
        sheet={"size": 1, "total_items": 3, "dependencies": {2: [], 3: []}},
        parallel={"enabled": True, "max_concurrent": 3, "stagger_delay_ms": 300},
        prompt={"template": "sleep 2"},
    )
    starts = _Starts()
    result = api.run_score(write_score(tmp_path, data), reporter=starts)
    assert result.exit_code == 0, result.message
    gaps = [later - earlier for earlier, later in zip(starts.at, starts.at[1:], strict=False)]
    assert len(gaps) == 2 and min(gaps) >= 0.3, gaps


class _OneStopsFirst:
    """The local executor, except that its attempts are told to stop (through a file of
    this test) before the run is; the first one to end asks the run to cancel. So the run
    loop collects that attempt as stopped before it sees any stop request itself."""

    def __init__(self, inner: Any, workspace: Path, sheets: int) -> None:
        self.inner = inner
        self.early = workspace / "stop-attempts-early"
        self.cancel = workspace / ".marianne-cancel-t"
        self.sheets = sheets
        self.placed = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def launch(self, spec: Any, should_stop: Any) -> Any:
        def early() -> StopRequest | None:
            return StopRequest("cancelled") if self.early.exists() else should_stop()

        handle = self.inner.launch(spec, early)
        if handle.pid is not None:  # placed at once: no Placed event follows
            self.placed += 1
        return handle

    def wait(self, timeout: float) -> Any:
        if self.placed == self.sheets:
            self.early.touch()  # every attempt is placed and released by now
        event = self.inner.wait(timeout)
        if isinstance(event, Placed):
            self.placed += 1
        elif isinstance(event, Finished):
            assert event.report.stopped
            self.cancel.touch()
        return event


def test_an_attempt_that_stops_before_the_loop_notices_is_named_with_the_rest(
    tmp_path: Path,
) -> None:
    data = minimal(
        workspace="./ws",
        instrument="cli",
        sheet={"size": 1, "total_items": 3, "dependencies": {2: [], 3: []}},
        parallel={"enabled": True, "max_concurrent": 3},
        prompt={"template": "sleep 60"},
    )
    prepared = api.prepare_score(write_score(tmp_path, data))
    runner = Runner(
        prepared,
        instruments=load_instruments(),
        executor=lambda n: _OneStopsFirst(LocalExecutor(n), prepared.workspace, 3),
    )
    result = runner.run()
    assert (result.exit_code, result.status) == (4, "cancelled"), result.message
    assert result.stopped_sheets == (1, 2, 3)
