from __future__ import annotations

import os
import resource
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mzt.support.process import DRAIN_SECONDS, ProcessRequest, StopRequest, run_process

FULL = os.environ.get("MZT_FULL_TESTS") == "1"


def request(tmp_path: Path, script: str, **kwargs: object) -> ProcessRequest:
    return ProcessRequest(("bash", "-c", script), tmp_path, dict(os.environ), **kwargs)  # type: ignore[arg-type]


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def gone(pids: list[int], within: float = 10.0) -> bool:
    """Whether every pid has died within ``within`` seconds: a killed process can take a
    moment to be reaped on a loaded machine."""
    end = time.monotonic() + within
    while any(alive(p) for p in pids):
        if time.monotonic() > end:
            return False
        time.sleep(0.02)
    return True


def test_exit_code_and_streams(tmp_path: Path) -> None:
    out = run_process(request(tmp_path, "echo out; echo err >&2; exit 7"))
    assert (out.reason, out.exit_code, out.signal) == ("completed", 7, None)
    assert (out.stdout_tail, out.stderr_tail) == ("out\n", "err\n")
    assert not out.succeeded and not out.truncated


def test_prompt_on_stdin_and_devnull_otherwise(tmp_path: Path) -> None:
    assert run_process(request(tmp_path, "cat", stdin="héllo\n".encode())).stdout_tail == "héllo\n"
    # without a prompt, stdin is /dev/null: a reader sees EOF at once instead of hanging
    assert run_process(request(tmp_path, "cat; echo done", timeout=5)).stdout_tail == "done\n"


def test_large_prompt_is_streamed(tmp_path: Path) -> None:
    data = b"x" * 3_000_000
    out = run_process(request(tmp_path, "wc -c", stdin=data))
    assert out.stdout_tail.strip() == str(len(data))


def test_child_that_ignores_stdin(tmp_path: Path) -> None:
    out = run_process(request(tmp_path, "exit 0", stdin=b"y" * 5_000_000))
    assert out.succeeded


def test_logs_are_private_and_redacted(tmp_path: Path) -> None:
    key = "sk-ant-api03-" + "A1b2C3d4" * 8
    out = run_process(
        request(
            tmp_path,
            f"echo token {key}; echo {key} >&2",
            stdout_log=tmp_path / "o",
            stderr_log=tmp_path / "e",
        )
    )
    for path in (tmp_path / "o", tmp_path / "e"):
        assert key not in path.read_text() and "REDACTED" in path.read_text()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert key not in out.stdout_tail + out.stderr_tail


def test_tail_is_bounded_and_utf8_safe(tmp_path: Path) -> None:
    out = run_process(
        request(tmp_path, "for i in $(seq 2000); do printf 'é€'; done", tail_bytes=1001)
    )
    assert out.truncated and out.stdout_bytes == 2000 * 5
    assert len(out.stdout_tail.encode()) <= 1001
    assert "\ufffd" not in out.stdout_tail


def test_timeout_kills_the_whole_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "pids"
    started = time.monotonic()
    out = run_process(
        request(
            tmp_path,
            f"sleep 60 & echo $! > {pidfile}; sleep 60 & echo $! >> {pidfile}; wait",
            timeout=1,
            grace_seconds=1,
        )
    )
    elapsed = time.monotonic() - started
    assert out.reason == "timeout" and out.exit_code is None
    assert elapsed < 1 + 1 + DRAIN_SECONDS + 2
    assert gone([int(p) for p in pidfile.read_text().split()])


def test_term_ignoring_child_gets_killed(tmp_path: Path) -> None:
    started = time.monotonic()
    out = run_process(request(tmp_path, "trap '' TERM; sleep 60", timeout=0.5, grace_seconds=0.5))
    assert out.reason == "timeout" and out.signal == 9
    assert time.monotonic() - started < 0.5 + 0.5 + DRAIN_SECONDS + 1


def test_escaped_grandchild_holding_pipes_cannot_hang(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    started = time.monotonic()
    out = run_process(
        request(
            tmp_path,
            f"setsid bash -c 'echo $$ > {pidfile}; sleep 30' & sleep 0.2; echo parent done",
        )
    )
    assert out.reason == "completed" and "parent done" in out.stdout_tail
    assert time.monotonic() - started < DRAIN_SECONDS + 2
    os.kill(int(pidfile.read_text()), 9)  # it left the group on purpose; tidy up


def test_leftovers_in_the_group_are_stopped(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    out = run_process(request(tmp_path, f"sleep 60 >/dev/null 2>&1 & echo $! > {pidfile}; echo bg"))
    assert out.succeeded
    assert gone([int(pidfile.read_text())])


def test_stale_child_is_stopped(tmp_path: Path) -> None:
    out = run_process(
        request(tmp_path, "echo start; sleep 30", idle_timeout=0.5, grace_seconds=0.2)
    )
    assert out.reason == "stale" and out.stdout_tail == "start\n"


def test_chatty_child_is_not_stale(tmp_path: Path) -> None:
    # Longer in all than the idle timeout, each line well inside it even on a slow machine.
    out = run_process(
        request(tmp_path, "for i in 1 2 3 4 5 6; do echo $i; sleep 0.4; done", idle_timeout=1.5)
    )
    assert out.succeeded


def test_stop_request_cancels_promptly(tmp_path: Path) -> None:
    calls = []

    def stop() -> StopRequest | None:
        calls.append(time.monotonic())
        return StopRequest("cancelled") if len(calls) >= 2 else None

    started = time.monotonic()
    out = run_process(request(tmp_path, "sleep 60", grace_seconds=5), should_stop=stop)
    assert out.reason == "cancelled"
    assert time.monotonic() - started < 4.5  # below the 5 s grace: TERM was enough


def test_immediate_stop_skips_the_grace_period(tmp_path: Path) -> None:
    started = time.monotonic()
    out = run_process(
        request(tmp_path, "trap '' TERM; sleep 60", grace_seconds=30),
        should_stop=lambda: StopRequest("interrupted", immediate=True),
    )
    assert out.reason == "interrupted" and out.signal == 9
    assert time.monotonic() - started < 10  # the grace period is 30 s


def test_missing_executable(tmp_path: Path) -> None:
    out = run_process(ProcessRequest(("no-such-binary-xyz",), tmp_path, {"PATH": "/usr/bin"}))
    assert out.reason == "error" and out.error is not None
    assert out.error == "Executable not found: no-such-binary-xyz is not on PATH"


def test_environment_is_exactly_the_given_one(tmp_path: Path) -> None:
    out = run_process(ProcessRequest(("/usr/bin/env",), tmp_path, {"ONLY": "this"}))
    assert out.stdout_tail == "ONLY=this\n"


@pytest.mark.timeout(300)
def test_memory_stays_flat_under_a_flood(tmp_path: Path) -> None:
    megabytes = 200 if FULL else 20
    script = (
        "import resource, sys\n"
        "from pathlib import Path\n"
        "from mzt.support.process import ProcessRequest, run_process\n"
        f"r = ProcessRequest(('bash', '-c', 'head -c {megabytes}000000 /dev/zero | tr \"\\\\0\" a'), Path('.'), {{'PATH': '/usr/bin:/bin'}}, stdout_log=Path('log'))\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "out = run_process(r)\n"
        "after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print(out.stdout_bytes, before, after)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    total, before, after = map(int, result.stdout.split())
    assert total == megabytes * 1_000_000
    assert (tmp_path / "log").stat().st_size == total
    assert (after - before) / 1024 < 40, f"grew by {(after - before) / 1024:.0f} MB"
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss > 0


def test_spawned_start_time_is_the_one_proc_shows(tmp_path: Path) -> None:
    """The start time a held spawn knows from the boot clock is /proc's field 22 exactly."""
    from mzt.support.process import Outcome, spawn
    from mzt.support.procinfo import read_stat

    known = 0
    for _ in range(200):
        if known >= 5:
            break
        started = spawn(request(tmp_path, "true"), held=True)
        assert not isinstance(started, Outcome)
        stat = read_stat(started.proc.pid)
        assert stat is not None
        if started.start_time is not None:
            known += 1
            assert started.start_time == stat.start_time
        assert started.hold is not None
        started.hold.cancel()
        outcome = started.proceed(lambda: None)
        assert outcome.reason == "interrupted" and outcome.error == "stopped before it started"
    # A reading pair straddles a clock tick now and then, more often on a loaded machine
    # (the start time is then read from /proc); it cannot straddle one every time.
    assert known >= 1
