"""`mzt logs -f JOB` beside a real run of parallel sheets: every attempt at once, this run only."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mzt.views.file_events import POLL_ENV
from tests.e2e.conftest import Project, wait_for
from tests.helpers import side_by_side

# A loaded machine starts Python processes slowly; nothing here waits on a fixed sleep.
TIMEOUT = 60


class Lines:
    """The lines a process writes to one pipe, collected as they arrive."""

    def __init__(self, pipe: Any) -> None:
        self.lines: list[str] = []
        self._lock = threading.Lock()
        self.thread = threading.Thread(target=self._collect, args=(pipe,), daemon=True)
        self.thread.start()

    def _collect(self, pipe: Any) -> None:
        for line in pipe:
            with self._lock:
                self.lines.append(line.rstrip("\n"))

    def now(self) -> list[str]:
        with self._lock:
            return list(self.lines)

    def has(self, *wanted: str) -> bool:
        seen = set(self.now())
        return all(line in seen for line in wanted)


def wait_until(done: Callable[[], bool], out: Lines, err: Lines) -> None:
    """Wait for ``done``, failing with what `logs -f` printed so far."""
    try:
        wait_for(done, timeout=TIMEOUT)
    except AssertionError:
        raise AssertionError(f"not seen in time; stdout {out.now()}, stderr {err.now()}") from None


def fan_out(project: Project, body: str) -> Path:
    """Three `cli` sheets of one stage, run side by side, each running ``body``."""
    return project.score(side_by_side("fan", 3, body))


def gated(project: Project, gate: Path, before: str, after: str) -> str:
    """A sheet script: ``before``, then wait for ``gate`` (at most a minute), then ``after``."""
    began = project.workspace / "began-{{ sheet_num }}"
    return (
        f"{before}; touch {began}; "
        f"for i in $(seq 1 1200); do [ -e {gate} ] && break; sleep 0.05; done; {after}"
    )


def follow(project: Project) -> tuple[subprocess.Popen[str], Lines, Lines]:
    follower = project.start("logs", "fan", "-w", project.workspace, "-f")
    assert follower.stdout is not None and follower.stderr is not None
    return follower, Lines(follower.stdout), Lines(follower.stderr)


def attempt_started(project: Project) -> bool:
    history = project.workspace / ".marianne" / "fan.history.jsonl"
    return history.exists() and b"attempt_started" in history.read_bytes()


def finish(run: subprocess.Popen[str], follower: subprocess.Popen[str], *readers: Lines) -> None:
    """The run ends by itself, and `logs -f` right after it, both with exit 0."""
    try:
        assert run.wait(timeout=TIMEOUT) == 0, run.stderr.read() if run.stderr else ""
        assert follower.wait(timeout=TIMEOUT) == 0
    finally:
        for proc in (run, follower):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        run.communicate()  # the run's own pipes; the follower's are read to their end
        for reader in readers:
            reader.thread.join(timeout=TIMEOUT)
        for pipe in (follower.stdout, follower.stderr):
            if pipe is not None:
                pipe.close()


@pytest.mark.parametrize("polling", [False, True], ids=["file-events", "polling"])
def test_every_running_sheet_is_followed_at_once(
    project: Project, polling: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if polling:
        monkeypatch.setenv(POLL_ENV, "1")  # as where inotify is not available
    gate = project.root / "release"
    body = gated(
        project,
        gate,
        "echo first {{ sheet_num }}",
        # The agent's output is untrusted: no escape sequence may reach the terminal.
        "echo second {{ sheet_num }}; printf 'done \\033[31m{{ sheet_num }}\\033[0m\\n' >&2",
    )
    run = project.start("run", fan_out(project, body))
    wait_for(lambda: attempt_started(project) or run.poll() is not None, timeout=TIMEOUT)
    follower, out, err = follow(project)
    firsts = [f"[sheet {n}] first {n}" for n in (1, 2, 3)]
    try:
        # No sheet can end before the gate exists: seeing all three first lines now
        # means all three attempts are followed while they run.
        wait_until(lambda: out.has(*firsts), out, err)
        assert run.poll() is None and follower.poll() is None
        assert not any("second" in line for line in out.now())
        gate.touch()
    finally:
        finish(run, follower, out, err)
    lines = out.now()
    for n in (1, 2, 3):
        assert lines.index(f"[sheet {n}] first {n}") < lines.index(f"[sheet {n}] second {n}")
        assert f"[sheet {n} stderr] done {n}" in lines
        assert f"following sheet {n}, attempt 1" in err.now()
    assert len(lines) == 9, lines  # every line once, nothing else
    assert not any("\x1b" in line for line in lines)


def two_sheets(project: Project, template: str, *, pause: float) -> Path:
    """Two `cli` sheets of job `fan`, one after the other, ``pause`` seconds apart."""
    return project.score(
        {
            "name": "fan",
            "instrument": "cli",
            "sheet": {"size": 1, "total_items": 2},
            "pause_between_sheets_seconds": pause,
            "prompt": {"template": template},
        }
    )


def test_a_previous_runs_log_is_not_shown(project: Project) -> None:
    def chain(template: str) -> Path:
        return two_sheets(project, template, pause=5)

    assert project.mzt("run", chain("echo old {{ sheet_num }}")).returncode == 0
    logs = project.workspace / ".marianne" / "logs" / "fan"
    assert (logs / "sheet-2.attempt-1.stdout").read_text() == "old 2\n"
    # A changed score runs the completed job afresh: attempt 1 of each sheet again. Sheet
    # 1 is silent, so during the pause before sheet 2 no attempt of this run runs, and
    # the only log there is the first run's of sheet 2.
    one_done = project.workspace / "one-done"
    run = project.start(
        "run",
        chain(f"{{% if sheet_num == 1 %}}touch {one_done}{{% else %}}echo new 2{{% endif %}}"),
    )
    wait_for(lambda: one_done.exists() or run.poll() is not None, timeout=TIMEOUT)
    follower, out, err = follow(project)
    finish(run, follower, out, err)
    assert out.now() == ["==> sheet 2, attempt 1: stdout <==", "new 2"], err.now()


def test_following_one_sheet_waits_for_this_runs_attempt(project: Project) -> None:
    def chain(template: str) -> Path:
        return two_sheets(project, template, pause=3)

    assert project.mzt("run", chain("echo old {{ sheet_num }}")).returncode == 0
    one_done = project.workspace / "one-done"
    run = project.start(
        "run",
        chain(f"{{% if sheet_num == 1 %}}touch {one_done}{{% else %}}echo new 2{{% endif %}}"),
    )
    wait_for(lambda: one_done.exists() or run.poll() is not None, timeout=TIMEOUT)
    # Sheet 2 has not started in this run: its only log is the first run's.
    follower = project.start("logs", "fan", "-w", project.workspace, "-f", "--sheet", "2")
    assert follower.stdout is not None and follower.stderr is not None
    out, err = Lines(follower.stdout), Lines(follower.stderr)
    try:
        wait_until(lambda: out.has("new 2"), out, err)
    finally:
        finish(run, follower, out, err)
    assert "old 2" not in out.now(), out.now()
