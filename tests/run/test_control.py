"""Stop requests: pause and cancel files owned by the user, and signals."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mzt.run.control import Controls
from mzt.support.process import StopRequest

KINDS = ("pause", "cancel")


@pytest.fixture
def controls(tmp_path: Path) -> Controls:
    return Controls(workspace=tmp_path, job_id="job-1")


@pytest.fixture
def restore_signals() -> Iterator[None]:
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


def request_path(controls: Controls, kind: str) -> Path:
    return controls.pause_path if kind == "pause" else controls.cancel_path


def requested(controls: Controls, kind: str) -> bool:
    return controls.pause_requested() if kind == "pause" else controls.cancel_requested()


def later(seconds: float, action: Callable[[], object]) -> threading.Timer:
    timer = threading.Timer(seconds, action)
    timer.start()
    return timer


# --- request files ----------------------------------------------------------------------------


def test_request_file_names(controls: Controls, tmp_path: Path) -> None:
    assert controls.pause_path == tmp_path / ".marianne-pause-job-1"
    assert controls.cancel_path == tmp_path / ".marianne-cancel-job-1"


@pytest.mark.parametrize("kind", KINDS)
def test_no_file_no_request(controls: Controls, kind: str) -> None:
    assert not requested(controls, kind)


@pytest.mark.parametrize("kind", KINDS)
def test_own_regular_file_is_a_request(controls: Controls, kind: str) -> None:
    request_path(controls, kind).touch()
    assert requested(controls, kind)
    other = "cancel" if kind == "pause" else "pause"
    assert not requested(controls, other)


@pytest.mark.parametrize("kind", KINDS)
def test_symlink_to_an_own_file_is_ignored(controls: Controls, kind: str, tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.write_text("")
    request_path(controls, kind).symlink_to(target)
    assert not requested(controls, kind)


@pytest.mark.parametrize("kind", KINDS)
def test_dangling_symlink_is_ignored(controls: Controls, kind: str, tmp_path: Path) -> None:
    request_path(controls, kind).symlink_to(tmp_path / "nowhere")
    assert not requested(controls, kind)


@pytest.mark.parametrize("kind", KINDS)
def test_directory_is_ignored(controls: Controls, kind: str) -> None:
    request_path(controls, kind).mkdir()
    assert not requested(controls, kind)


@pytest.mark.parametrize("kind", KINDS)
def test_file_of_another_user_is_ignored(controls: Controls, kind: str) -> None:
    path = request_path(controls, kind)
    path.touch()
    try:
        os.chown(path, os.geteuid() + 4242, -1)
    except PermissionError:
        pytest.skip("changing a file's owner needs privileges")
    assert not requested(controls, kind)


def test_clear_stale_removes_own_request_files(controls: Controls) -> None:
    controls.pause_path.touch()
    controls.cancel_path.write_text("from an earlier run")
    controls.clear_stale()
    assert not controls.pause_path.exists()
    assert not controls.cancel_path.exists()


def test_clear_stale_without_files(controls: Controls) -> None:
    controls.clear_stale()
    assert not controls.pause_path.exists()


def test_clear_stale_leaves_what_it_may_not_act_on(controls: Controls, tmp_path: Path) -> None:
    target = tmp_path / "precious.txt"
    target.write_text("keep me")
    controls.pause_path.symlink_to(target)
    controls.cancel_path.mkdir()
    controls.clear_stale()
    assert controls.pause_path.is_symlink()
    assert target.read_text() == "keep me"
    assert controls.cancel_path.is_dir()


def test_clear_stale_leaves_files_of_other_jobs(controls: Controls, tmp_path: Path) -> None:
    other = tmp_path / ".marianne-pause-job-2"
    other.touch()
    controls.clear_stale()
    assert other.exists()


def test_consume_deletes_and_tolerates_absence(controls: Controls) -> None:
    controls.pause_path.touch()
    controls.consume(controls.pause_path)
    assert not controls.pause_path.exists()
    controls.consume(controls.pause_path)


# --- stop requests ----------------------------------------------------------------------------


def test_no_stop_request(controls: Controls) -> None:
    assert controls.stop_request() is None
    assert not controls.interrupted


def test_pause_file_does_not_stop_a_running_child(controls: Controls) -> None:
    controls.pause_path.touch()
    assert controls.stop_request() is None


def test_cancel_file_stops_a_running_child(controls: Controls) -> None:
    controls.cancel_path.touch()
    assert controls.stop_request() == StopRequest("cancelled", immediate=False)


def test_cancel_symlink_does_not_stop(controls: Controls, tmp_path: Path) -> None:
    (tmp_path / "t").touch()
    controls.cancel_path.symlink_to(tmp_path / "t")
    assert controls.stop_request() is None


def test_first_signal_stops_with_grace(controls: Controls) -> None:
    controls._on_signal(signal.SIGTERM, None)
    assert controls.interrupted
    assert controls.signum == signal.SIGTERM
    assert controls.stop_request() == StopRequest("interrupted", immediate=False)


def test_second_signal_stops_at_once(controls: Controls) -> None:
    controls._on_signal(signal.SIGTERM, None)
    controls._on_signal(signal.SIGINT, None)
    assert controls.signals_seen == 2
    assert controls.signum == signal.SIGTERM  # the first signal is the one reported
    assert controls.stop_request() == StopRequest("interrupted", immediate=True)


def test_signal_wins_over_cancel_file(controls: Controls) -> None:
    controls.cancel_path.touch()
    controls._on_signal(signal.SIGHUP, None)
    assert controls.stop_request() == StopRequest("interrupted", immediate=False)


# --- wait -------------------------------------------------------------------------------------


def test_wait_sleeps_the_full_time_without_requests(controls: Controls) -> None:
    began = time.monotonic()
    assert controls.wait(0.3) is False
    assert time.monotonic() - began >= 0.3


def test_wait_zero_returns_at_once(controls: Controls) -> None:
    began = time.monotonic()
    assert controls.wait(0) is False
    assert time.monotonic() - began < 0.2


@pytest.mark.parametrize("kind", KINDS)
def test_wait_returns_at_once_on_an_existing_request(controls: Controls, kind: str) -> None:
    request_path(controls, kind).touch()
    began = time.monotonic()
    assert controls.wait(10) is True
    assert time.monotonic() - began < 0.2


def test_wait_ignores_a_symlinked_pause_file(controls: Controls, tmp_path: Path) -> None:
    (tmp_path / "t").touch()
    controls.pause_path.symlink_to(tmp_path / "t")
    assert controls.wait(0.1) is False


@pytest.mark.parametrize("kind", KINDS)
def test_wait_returns_early_when_a_request_appears(controls: Controls, kind: str) -> None:
    timer = later(0.1, request_path(controls, kind).touch)
    began = time.monotonic()
    try:
        assert controls.wait(10) is True
    finally:
        timer.join()
    assert time.monotonic() - began < 2


def test_wait_returns_early_on_a_signal(controls: Controls) -> None:
    timer = later(0.1, lambda: controls._on_signal(signal.SIGTERM, None))
    began = time.monotonic()
    try:
        assert controls.wait(10) is True
    finally:
        timer.join()
    assert time.monotonic() - began < 1
    assert controls.signum == signal.SIGTERM


def test_wait_returns_at_once_after_an_earlier_signal(controls: Controls) -> None:
    controls._on_signal(signal.SIGINT, None)
    assert controls.wait(10) is True


def test_wait_honours_the_extra_condition(controls: Controls) -> None:
    assert controls.wait(10, also=lambda: True) is True
    flag = threading.Event()
    timer = later(0.1, lambda: (flag.set(), controls.poke()))
    began = time.monotonic()
    try:
        assert controls.wait(10, also=flag.is_set) is True
    finally:
        timer.join()
    assert time.monotonic() - began < 1


def test_a_poke_alone_does_not_end_the_wait(controls: Controls) -> None:
    timer = later(0.05, controls.poke)
    began = time.monotonic()
    try:
        assert controls.wait(0.4) is False
    finally:
        timer.join()
    assert time.monotonic() - began >= 0.4


# --- signal handlers --------------------------------------------------------------------------


@pytest.mark.usefixtures("restore_signals")
def test_handling_signals_installs_and_restores(controls: Controls) -> None:
    def mine(signum: int, frame: object) -> None:
        raise AssertionError("the test's own handler must not run")

    signal.signal(signal.SIGTERM, mine)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    with controls.handling_signals():
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            assert signal.getsignal(signum) == controls._on_signal
    after = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    assert after == before
    assert after[signal.SIGTERM] is mine


@pytest.mark.usefixtures("restore_signals")
def test_handling_signals_leaves_an_ignored_sighup_ignored(controls: Controls) -> None:
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    with controls.handling_signals():
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
        assert signal.getsignal(signal.SIGTERM) == controls._on_signal
    assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN


@pytest.mark.usefixtures("restore_signals")
def test_handling_signals_leaves_an_ignored_sigint_ignored(controls: Controls) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with controls.handling_signals():
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN


@pytest.mark.usefixtures("restore_signals")
def test_handling_signals_restores_after_an_error(controls: Controls) -> None:
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(RuntimeError), controls.handling_signals():
        raise RuntimeError("boom")
    assert signal.getsignal(signal.SIGTERM) == before


@pytest.mark.usefixtures("restore_signals")
def test_a_real_signal_reaches_the_controls(controls: Controls) -> None:
    with controls.handling_signals():
        os.kill(os.getpid(), signal.SIGTERM)
        deadline = time.monotonic() + 2
        while controls.signum is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert controls.signum == signal.SIGTERM
        assert controls.wait(10) is True
    assert controls.stop_request() == StopRequest("interrupted", immediate=False)
