"""kill -9 of the mzt process alone (not its attempts' groups): the attempts it left running
are stopped before their sheets run again, so two copies of one sheet never overlap.
"""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import Project, alive, wait_for

SHEETS = 12
KILLS = 20


def _sheet_script(ws: str) -> str:
    # Each copy checks whether the previous copy of its sheet is still alive before it
    # does anything, and logs start/done lines with its pid.
    n = "{{ sheet_num }}"
    return (
        f"L={ws}/log; P={ws}/pid-{n}\n"
        # kill -0 alone would count a zombie nobody reaped yet as alive; and one reaped
        # between the two looks leaves no stat to read, which is not alive either.
        f'if [ -f "$P" ] && kill -0 "$(cat "$P")" 2>/dev/null; then\n'
        f'  S=$(cut -d" " -f3 "/proc/$(cat "$P")/stat" 2>/dev/null)\n'
        "else S=; fi\n"
        f'if [ -n "$S" ] && [ "$S" != Z ]; then\n'
        f'  echo "OVERLAP {n} $(cat "$P")" >> "$L"\n'
        "fi\n"
        'echo $$ > "$P"\n'
        f'echo "start {n} $$" >> "$L"\n'
        "sleep {{ [0.2, 0.5, 0.9, 1.2, 1.5, 0.7][sheet_num % 6] }}\n"
        f'echo "done {n} $$" >> "$L"\n'
        f"echo ok > {ws}/out-{n}.txt\n"
    )


def _score(project: Project, template: str, sheets: int, concurrent: int) -> Path:
    return project.score(
        {
            "name": "job",
            "instrument": "cli",
            # One stage fanned out: every sheet may run at once (up to max_concurrent).
            "sheet": {"size": 1, "total_items": 1, "fan_out": {1: sheets}},
            "parallel": {"enabled": True, "max_concurrent": concurrent},
            "prompt": {"template": template},
            "validations": [
                {
                    "type": "content_contains",
                    "path": "{workspace}/out-{sheet_num}.txt",
                    "pattern": "ok",
                }
            ],
        }
    )


def _log(project: Project) -> list[list[str]]:
    path = project.workspace / "log"
    if not path.exists():
        return []
    return [line.split() for line in path.read_text().splitlines() if line.strip()]


def _starts(project: Project) -> int:
    return sum(1 for line in _log(project) if line[0] == "start")


def _open_copies(lines: list[list[str]]) -> dict[int, int]:
    """Attempt pids that logged a start but no done (sheet → pid)."""
    started: dict[int, int] = {}
    for kind, sheet, pid in (line[:3] for line in lines if len(line) >= 3):
        if kind == "start":
            started[int(sheet)] = int(pid)
        elif kind == "done" and started.get(int(sheet)) == int(pid):
            del started[int(sheet)]
    return started


def _assert_no_overlap(lines: list[list[str]]) -> None:
    assert not [line for line in lines if line[0] == "OVERLAP"], lines
    latest: dict[int, int] = {}
    for kind, sheet, pid in (line[:3] for line in lines):
        if kind == "start":
            latest[int(sheet)] = int(pid)
        elif kind == "done":
            # A copy that finishes after a newer copy of its sheet started ran alongside it.
            assert latest.get(int(sheet)) == int(pid), f"sheet {sheet}: {pid} outlived its stop"


@pytest.mark.timeout(300)
def test_kill_of_mzt_alone_never_runs_a_sheet_twice_at_once(project: Project) -> None:
    ws = "{{ workspace }}"
    score = _score(project, _sheet_script(ws), SHEETS, 3)
    rng = random.Random(20261202)
    kills = 0
    leftovers: list[int] = []
    for _ in range(KILLS):
        before = _starts(project)
        proc = project.start("run", score)
        # Kill while attempts run: after this run has started one, at a random moment.
        try:
            wait_for(lambda b=before, p=proc: _starts(project) > b or p.poll() is not None, 30)
        except AssertionError:
            proc.kill()
            raise
        time.sleep(rng.uniform(0.0, 0.6))
        if proc.poll() is not None:
            out, err = proc.communicate(timeout=10)
            assert proc.returncode == 0, out + err
            break
        os.kill(proc.pid, signal.SIGKILL)  # mzt only: its attempts live in their own groups
        proc.communicate(timeout=10)
        kills += 1
        leftovers.extend(_open_copies(_log(project)).values())
    assert kills >= 10, f"the job finished after {kills} kills; make it longer"
    print(f"{kills} kills of mzt alone, {len(leftovers)} attempts left running by them")
    final = project.mzt("run", score)
    assert final.returncode == 0, final.stdout + final.stderr
    lines = _log(project)
    _assert_no_overlap(lines)
    assert all(not alive(pid) for pid in leftovers)
    done = {int(line[1]) for line in lines if line[0] == "done"}
    assert done == set(range(1, SHEETS + 1))
    assert all((project.workspace / f"out-{n}.txt").exists() for n in range(1, SHEETS + 1))


def _helper_script(ws: str) -> str:
    # The first copy starts a helper that leaves the attempt's session, then blocks.
    return (
        f"if [ ! -f {ws}/first ]; then\n"
        f"  touch {ws}/first\n"
        f"  setsid sleep 300 > /dev/null 2>&1 < /dev/null &\n"
        f"  echo $! > {ws}/helper.tmp && mv {ws}/helper.tmp {ws}/helper\n"
        f"  echo $$ > {ws}/attempt\n"
        "  sleep 120\n"
        "fi\n"
        f"echo ok > {ws}/out-{{{{ sheet_num }}}}.txt\n"
    )


def _killed_with_helper(project: Project) -> tuple[Path, int, int]:
    score = _score(project, _helper_script("{{ workspace }}"), 1, 1)
    proc = project.start("run", score)
    try:
        wait_for(lambda: (project.workspace / "helper").exists(), 30)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=10)
    helper = int((project.workspace / "helper").read_text())
    attempt = int((project.workspace / "attempt").read_text())
    assert alive(helper) and alive(attempt)  # the bug: both outlive the killed run
    return score, helper, attempt


@pytest.mark.timeout(120)
def test_next_run_stops_the_helper_that_left_the_session(project: Project) -> None:
    score, helper, attempt = _killed_with_helper(project)
    try:
        result = project.mzt("run", score)
        assert result.returncode == 0, result.stdout + result.stderr
        assert not alive(attempt)
        assert not alive(helper)
        assert "stopped" in result.stdout + result.stderr
    finally:
        _kill_quietly(helper, attempt)


@pytest.mark.timeout(120)
def test_cancel_of_a_killed_run_stops_its_attempts(project: Project) -> None:
    _, helper, attempt = _killed_with_helper(project)
    try:
        status = project.mzt("status", "job", "--json")
        assert '"leftover_attempts"' in status.stdout and str(attempt) in status.stdout
        result = project.mzt("cancel", "job")
        assert result.returncode == 0, result.stdout + result.stderr
        assert not alive(attempt)
        assert not alive(helper)
        assert str(attempt) in result.stdout
        assert project.state("job")["status"] == "cancelled"
    finally:
        _kill_quietly(helper, attempt)


def _kill_quietly(*pids: int) -> None:
    for pid in pids:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)
