"""`mzt status`, `top` and `watch` beside a real run waiting for a machine slot.

Another process holds the machine's only sheet slot (``slot_child.py hold``), so the run's
first sheet waits in the slot queue with a real ticket until that process lets go.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Project, wait_for
from tests.machine.slot_child import holding, let_go
from tests.pty_command import PtyCommand

WAIT_TEXT = "waiting for a sheet slot: 1/1 held by job holder"


def waiter_score(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "workspace": f"./ws-{name}",
        "instrument": "cli",
        "sheet": {"size": 1, "total_items": 2},
        "prompt": {"template": "true"},
    }


def status_json(project: Project, job: str) -> dict[str, Any] | None:
    result = project.mzt("status", job, "-w", project.root / f"ws-{job}", "--json")
    doc: dict[str, Any] | None = json.loads(result.stdout) if result.returncode == 0 else None
    return doc


def slot_wait_of(project: Project, job: str) -> Any:
    doc = status_json(project, job)
    return doc["slot_waits"].get("1") if doc else None


@dataclass
class Waiting:
    project: Project
    run: subprocess.Popen[str]

    @property
    def ws(self) -> Path:
        return self.project.root / "ws-waiter"


def machine(base: Path, **config: int) -> Project:
    (base / "home").mkdir()
    (base / "proj").mkdir()
    lines = "".join(f"{key}: {value}\n" for key, value in config.items())
    (base / "home" / "config.yaml").write_text(lines)
    return Project(base / "proj", base / "home")


@pytest.fixture(scope="module")
def waiting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Waiting]:
    project = machine(tmp_path_factory.mktemp("slots"), max_concurrent_sheets=1)
    with holding(project.home, "holder", "sheets:1"):
        run = project.start("run", project.score(waiter_score("waiter"), "waiter.yaml"), "-q")
        try:
            wait_for(lambda: slot_wait_of(project, "waiter") is not None, timeout=60)
            yield Waiting(project, run)
        finally:
            if run.poll() is None and slot_wait_of(project, "waiter") is None:
                run.kill()  # something else went wrong: do not wait for it
    run.communicate(timeout=60)  # the slot let go, the run goes on
    assert run.returncode == 0


def test_status_names_the_waiting_sheet_and_who_holds_the_slot(waiting: Waiting) -> None:
    text = waiting.project.mzt("status", "waiter", "-w", waiting.ws)
    assert text.returncode == 0, text.stderr
    assert "Waiting for machine slots:\n" in text.stdout
    assert f"  sheet 1: {WAIT_TEXT}\n" in text.stdout
    [row] = [line for line in text.stdout.splitlines() if line.startswith("1 ")]
    assert row.split()[1:3] == ["waiting", "(slot)"]
    doc = status_json(waiting.project, "waiter")
    assert doc is not None and doc["schema"] == "mzt.status/1"
    assert doc["sheets"]["1"]["status"] == "pending"
    assert doc["sheets"]["1"]["waiting_for_slot"] == {"limit": "sheets", "text": WAIT_TEXT}
    assert doc["sheets"]["2"]["waiting_for_slot"] is None
    assert doc["waiting_for_slot"] is None
    # The machine's load beside it: the level with what was measured.
    assert doc["pressure"]["schema"] == "mzt.pressure/1"
    [shown] = [line for line in text.stdout.splitlines() if line.startswith("  pressure")]
    assert f"{doc['pressure']['level']}: " in shown


def test_top_once_shows_the_slots_and_the_wait_as_lines_and_as_json(waiting: Waiting) -> None:
    plain = waiting.project.mzt("top", "--once")
    assert plain.returncode == 0, plain.stderr
    lines = plain.stdout.splitlines()
    assert "1 job · 1 running · 0 sheets running · 1 waiting" in lines[0]
    assert lines[1].startswith("  waiter running 0/2 · slot wait sheet 1 (sheets)")
    assert lines[2:5] == ["  slots:", "    sheets 1/1 (holder 1)", "    jobs 1/15 (waiter 1)"]
    assert lines[5].startswith("  pressure ") and "processes" in lines[5]
    result = waiting.project.mzt("top", "--once", "--json")
    assert result.returncode == 0, result.stderr
    [line] = result.stdout.splitlines()
    doc = json.loads(line)
    assert doc["schema"] == "mzt.top/1" and doc["pressure"]["schema"] == "mzt.pressure/1"
    slots = {item["limit"]: item for item in doc["slots"]}
    assert slots["sheets"] == {
        "limit": "sheets",
        "capacity": 1,
        "held": 1,
        "by_job": {"holder": 1},
        "problem": None,
    }
    assert (slots["jobs"]["held"], slots["jobs"]["by_job"]) == (1, {"waiter": 1})
    [job] = doc["jobs"]
    assert job["waiting_for_slot"] == [{"sheet": 1, "limit": "sheets", "text": WAIT_TEXT}]
    assert doc["totals"]["sheets_waiting_for_slot"] == 1


def test_top_on_a_terminal_shows_the_slots_block(waiting: Waiting) -> None:
    env = {k: v for k, v in waiting.project.env().items() if k not in ("COLUMNS", "LINES")}
    term = PtyCommand(
        waiting.project.root,
        ["top", "--once"],
        {**env, "TERM": "xterm-256color"},
        rows=30,
        cols=120,
    )
    code, text = term.finish(60)
    assert code == 0
    screen = [line.rstrip("\r") for line in text.split("\x1b[H\x1b[2J")[-1].splitlines()]
    assert "waiter running 0/2 · slot wait sheet 1 (sheets)" in "\n".join(screen)
    at = screen.index("slots:")
    assert screen[at + 1 : at + 3] == ["  sheets 1/1 (holder 1)", "  jobs 1/15 (waiter 1)"]


def test_watch_says_when_the_wait_begins_and_ends(tmp_path: Path) -> None:
    project = machine(tmp_path, max_concurrent_sheets=1)
    with holding(project.home, "holder", "sheets:1") as holder:
        run = project.start("run", project.score(waiter_score("late"), "late.yaml"), "-q")
        try:
            wait_for(lambda: slot_wait_of(project, "late") is not None, timeout=60)
            watch = project.start("watch", "late", "-w", project.root / "ws-late")
            assert watch.stdout is not None
            first = watch.stdout.readline()
            assert f"late running 0/2 (0%) · sheet 1: {WAIT_TEXT}" in first
        finally:
            let_go(holder)
        out, err = watch.communicate(timeout=60)
    run.communicate(timeout=60)
    assert (run.returncode, watch.returncode) == (0, 0), err
    lines = out.splitlines()
    assert lines and "finished (exit 0)" in lines[-1]
    # The wait's end is the next line, before the sheet's attempt ends.
    assert " late running 0/2 (0%)" in lines[0] and "waiting for" not in lines[0]
    assert not any("waiting for" in line for line in lines)
