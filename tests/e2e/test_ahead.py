"""One sheet at a time, the next sheet's child is started held while the current one runs.

Whatever happens — a retry in between, a prompt that changes, kill -9 of mzt — a child
started ahead runs nothing until its own sheet is launched and recorded, and none is left
behind.
"""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import Project, wait_for


def _log_script(pause: str = "true") -> str:
    return (
        "L={{ workspace }}/log\n"
        'echo "start {{ sheet_num }} $$" >> "$L"\n'
        f"{pause}\n"
        'echo "done {{ sheet_num }} $$" >> "$L"\n'
    )


def _score(project: Project, script: str, sheets: int) -> Path:
    return project.score(
        {
            "name": "job",
            "instrument": "cli",
            "sheet": {"size": 1, "total_items": sheets},
            "retry": {"max_retries": 2, "base_delay_seconds": 0.01, "jitter": False},
            "prompt": {"template": script},
        }
    )


def _log(project: Project) -> list[list[str]]:
    path = project.workspace / "log"
    if not path.exists():
        return []
    return [line.split() for line in path.read_text().splitlines() if line.strip()]


def _carrying(home: Path) -> list[int]:
    """Live processes whose environment names this project's MZT_HOME: its runs and their
    attempts, held or not."""
    entry = f"MZT_HOME={home}".encode()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            environ = Path(f"/proc/{name}/environ").read_bytes().split(b"\0")
            state = Path(f"/proc/{name}/stat").read_text().rpartition(")")[2].split()[0]
        except OSError:
            continue
        if entry in environ and state != "Z":
            found.append(int(name))
    return found


def _running(lines: list[list[str]]) -> set[int]:
    """The attempt that logged a start but no done, and its children (its sleep)."""
    started = {pid for kind, _, pid in lines if kind == "start"}
    done = {pid for kind, _, pid in lines if kind == "done"}
    found: set[int] = set()
    for pid in map(int, started - done):
        found.add(pid)
        for task in Path(f"/proc/{pid}/task").glob("*/children"):
            try:
                found.update(int(child) for child in task.read_text().split())
            except OSError:
                continue
    return found


def _assert_serial(lines: list[list[str]]) -> None:
    """Every start follows the done of the attempt before it: nothing ran alongside."""
    open_pid: str | None = None
    for kind, _sheet, pid in lines:
        if kind == "start":
            assert open_pid is None, lines
            open_pid = pid
        else:
            assert open_pid == pid, lines
            open_pid = None


@pytest.mark.timeout(120)
def test_sheets_run_once_each_in_order_around_a_retry(project: Project) -> None:
    # Sheet 3 fails its first attempt: the child started ahead for sheet 4 is dropped
    # unstarted and sheet 3 runs again first.
    script = _log_script() + (
        "{% if sheet_num == 3 %}"
        "if [ ! -f {{ workspace }}/failed-once ]; then touch {{ workspace }}/failed-once; exit 1; fi"
        "{% endif %}\n"
    )
    result = project.mzt("run", _score(project, script, 6))
    assert result.returncode == 0, result.stdout + result.stderr
    lines = _log(project)
    _assert_serial(lines)
    assert [int(line[1]) for line in lines if line[0] == "start"] == [1, 2, 3, 3, 4, 5, 6]
    assert _carrying(project.home) == []


@pytest.mark.timeout(120)
def test_a_prompt_that_changes_meanwhile_runs_as_it_reads_at_launch(project: Project) -> None:
    # Each sheet's prompt includes a file the sheet before it writes: the prompt foreseen
    # while that sheet ran is stale by its launch, so the child started for it is dropped.
    script = (
        'echo "{{ sheet_num }} saw {% if sheet_num > 1 %}'
        "{{ previous_outputs[sheet_num - 1] | default('nothing') | trim }}"
        '{% endif %}" >> {{ workspace }}/seen; echo "sheet {{ sheet_num }} output"\n'
    )
    data = {
        "name": "job",
        "instrument": "cli",
        "sheet": {"size": 1, "total_items": 3},
        "cross_sheet": {"auto_capture_stdout": True},
        "prompt": {"template": script},
    }
    result = project.mzt("run", project.score(data))
    assert result.returncode == 0, result.stdout + result.stderr
    seen = (project.workspace / "seen").read_text().splitlines()
    assert [line.split(" saw ")[0] for line in seen] == ["1", "2", "3"]
    assert "sheet 1 output" in seen[1] and "sheet 2 output" in seen[2]


@pytest.mark.timeout(300)
def test_kill_9_of_mzt_leaves_no_child_started_ahead(project: Project) -> None:
    score = _score(project, _log_script("sleep {{ [0.1, 0.3, 0.6][sheet_num % 3] }}"), 8)
    rng = random.Random(20261208)
    kills = 0
    for _ in range(8):
        before = len(_log(project))
        proc = project.start("run", score)
        try:
            wait_for(lambda b=before, p=proc: len(_log(project)) > b or p.poll() is not None, 30)
        except AssertionError:
            proc.kill()
            raise
        time.sleep(rng.uniform(0.0, 0.4))
        if proc.poll() is not None:
            out, err = proc.communicate(timeout=10)
            assert proc.returncode == 0, out + err
            break
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=10)
        kills += 1
        # The held child reads end-of-file from the dead run and exits without running;
        # only the attempt the kill interrupted runs on (until the next run stops it).
        running = _running(_log(project))
        wait_for(lambda r=running: set(_carrying(project.home)) <= r, 10)
    assert kills >= 4, f"the job finished after {kills} kills; make it longer"
    final = project.mzt("run", score)
    assert final.returncode == 0, final.stdout + final.stderr
    lines = _log(project)
    latest: dict[str, str] = {}
    for kind, sheet, pid in lines:
        if kind == "start":
            latest[sheet] = pid
        else:  # a copy that finishes after a newer copy started ran alongside it
            assert latest.get(sheet) == pid, lines
    assert {line[1] for line in lines if line[0] == "done"} == {str(n) for n in range(1, 9)}
    assert _carrying(project.home) == []
