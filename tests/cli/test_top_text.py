"""The text of a `mzt top` frame: plain blocks and a terminal screen."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from mzt.cli import top_text
from mzt.machine import pressure
from mzt.machine.config import MachineConfig
from mzt.machine.pressure_probe import Usage
from mzt.views.top import TopFrame


@pytest.fixture(autouse=True)
def no_colour(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")


def job(job_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "job_id": job_id,
        "job_name": job_id,
        "workspace": f"/ws/{job_id}",
        "status": "running",
        "alive": True,
        "pid": 42,
        "progress": {"completed": 2, "total": 9, "failed": 0},
        "running": [],
        "waiting": [],
        "waiting_for_slot": [],
        "cost_usd": 0.0,
        "elapsed_seconds": 75.0,
        "updated_at": "2026-05-01T10:00:00Z",
        "error": None,
        **extra,
    }


def frame(jobs: list[dict[str, Any]], **extra: Any) -> TopFrame:
    at = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)
    return TopFrame(at, jobs, extra.get("rate_limits", []), extra.get("circuits", []))


def test_a_block_names_what_runs_what_waits_and_the_shared_records() -> None:
    busy = job(
        "busy",
        cost_usd=1.5,
        progress={"completed": 2, "total": 9, "failed": 1},
        running=[{"sheet": 3, "instrument": "claude-code", "seconds": 12.0}],
        waiting=[
            {"sheet": 4, "reason": "retry", "seconds_left": 4.2},
            {"sheet": 5, "reason": "rate_limited", "seconds_left": 300.0},
            {"sheet": 6, "reason": "fermata", "seconds_left": None},
        ],
    )
    rotten = job("rotten\x1b[2J", status="corrupt", alive=None, error="bad\x1b[31m json")
    limits = [
        {
            "instrument": "claude-code",
            "limited_until": "2026-05-01T10:05:00Z",
            "seconds_left": 300.0,
            "set_by_job": "busy",
        }
    ]
    circuits = [{"instrument": "gemini", "state": "open", "until": "2026-05-01T10:01:00Z"}]
    lines = top_text.block(frame([busy, rotten], rate_limits=limits, circuits=circuits))
    assert lines[0].endswith("2 jobs · 1 running · 1 sheet running · 3 waiting · $1.50")
    assert lines[1] == (
        "  busy running 2/9 (1 failed) · $1.50 · running sheet 3 (claude-code, 12s)"
        " · waiting sheet 4 (retry, 4.2s), 5 (rate limited, 5m00s), 6 (held) · for 1m15s"
    )
    assert "\x1b" not in "".join(lines)  # text from files never steers the terminal
    assert (
        lines[3] == "  rate limit claude-code until 2026-05-01 10:05:00Z (5m00s left, set by busy)"
    )
    assert lines[4] == "  circuit gemini open until 2026-05-01 10:01:00Z"


def test_many_sheets_are_cut_with_a_count() -> None:
    running = [{"sheet": n, "instrument": "cli", "seconds": 1.0} for n in range(1, 10)]
    line = top_text.job_line(job("wide", running=running))
    assert "6 (cli, 1.0s) +3 more" in line and "7 (cli" not in line


def test_the_screen_fits_the_terminal() -> None:
    empty = top_text.screen(frame([]), 80, 24)
    assert "no job to show" in empty[2]
    many = top_text.screen(frame([job(f"job-{n}") for n in range(40)]), 30, 10)
    assert len(many) == 9 and many[-1].startswith("… 34 more lines")
    assert all(len(line) <= 30 for line in many[:-1])


SLOTS = [
    {"limit": "sheets", "capacity": 4, "held": 4, "by_job": {"a": 2, "b": 2}, "problem": None},
    {"limit": "jobs", "capacity": 15, "held": 2, "by_job": {"a": 1, "b": 1}, "problem": None},
    {"limit": "instrument-cli", "capacity": 4, "held": 0, "by_job": {}, "problem": None},
    {"limit": "model-old", "capacity": 0, "held": 1, "by_job": {"a": 1}, "problem": None},
]


def test_slot_waits_and_the_slots_block() -> None:
    waits = [
        {"sheet": None, "limit": "jobs", "text": "waiting for a job slot: 15/15 held by jobs a, b"},
        {"sheet": 3, "limit": "sheets", "text": "waiting for a sheet slot: 4/4 held by jobs a, b"},
        {
            "sheet": 7,
            "limit": "instrument-cli",
            "text": "waiting for a cli slot: 4/4 held by job a",
        },
    ]
    shown = frame([job("c\x1b[2J", waiting_for_slot=waits)])
    shown = TopFrame(shown.ts, shown.jobs, [], [], SLOTS)
    lines = top_text.block(shown)
    assert lines[0].endswith("1 job · 1 running · 0 sheets running · 2 waiting · $0.00")
    assert lines[1] == (
        "  c running 2/9 · waiting for a job slot: 15/15 held by jobs a, b"
        " · slot wait sheet 3 (sheets), 7 (instrument-cli) · for 1m15s"
    )
    # Sheets and jobs always; another limit only while held: what is free says nothing.
    assert lines[2:] == [
        "  slots:",
        "    sheets 4/4 (a 2, b 2)",
        "    jobs 2/15 (a 1, b 1)",
        "    model-old 1 held (a 1)",
    ]
    screen = top_text.screen(shown, 100, 24)
    assert screen[-5:] == [
        "",
        "slots:",
        "  sheets 4/4 (a 2, b 2)",
        "  jobs 2/15 (a 1, b 1)",
        "  model-old 1 held (a 1)",
    ]
    # A frame with no slots read has no block.
    assert top_text.block(frame([job("d")]))[1:] == ["  d running 2/9 · for 1m15s"]


def test_the_pressure_line_gives_the_level_and_its_causes_or_what_was_measured() -> None:
    critical = pressure.assess(
        MachineConfig(max_processes=10),
        Usage(1024.0, 9),
        now=datetime(2026, 5, 1, 10, 0, tzinfo=UTC),
    )
    shown = TopFrame(frame([]).ts, [], [], [], [], critical.to_json())
    assert top_text.block(shown)[-1] == "  pressure critical: processes 9/10"
    calm = pressure.assess(MachineConfig(), Usage(512.0, 3), now=shown.ts).to_json()
    line = top_text.pressure_line(TopFrame(shown.ts, [], [], [], [], calm))
    assert line == "pressure none: memory 0.5/8.0 GB, processes 3/50"
    assert top_text.pressure_line(frame([])) is None


def test_a_sheet_running_as_a_slurm_job_names_it() -> None:
    slurm = {"job_id": "812", "state": "PENDING", "node": None}
    running = [{"sheet": 3, "instrument": "cli", "seconds": 2.0, "slurm": slurm}]
    lines = top_text.block(frame([job("far", running=running)]))
    assert "running sheet 3 (cli, 2.0s, Slurm job 812 PENDING)" in lines[1]
    moved = {**slurm, "state": "RUNNING", "node": "node07"}
    later = frame([job("far", running=[{**running[0], "slurm": moved}])])
    assert "(cli, 2.0s, Slurm job 812 RUNNING on node07)" in top_text.block(later)[1]
    assert later.key != frame([job("far", running=running)]).key  # a frame worth showing
