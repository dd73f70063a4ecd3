"""Backpressure across real runs: at ``critical`` a run starts nothing new, and the
attempts already running finish.

The level is forced the honest way, with a tiny process limit: the first job's attempts
are the machine's load, and the second job must wait until some of them end.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from mzt.machine import pressure
from tests.e2e.conftest import Project, wait_for
from tests.helpers import side_by_side


def _template(job: str, log: Path, seconds: float) -> str:
    # Several commands, so bash stays as the parent of sleep: two processes per attempt.
    line = f"{job} {{{{ sheet_num }}}} $(date +%s%N)"
    return f"echo start {line} >> {log}\nsleep {seconds}\necho end {line} >> {log}\n"


def _reading_age(home: Path) -> float:
    reading = pressure.read_cached(home)
    return float("inf") if reading is None else reading.age(datetime.now(UTC))


def _events(log: Path) -> list[tuple[str, str, int]]:
    if not log.exists():
        return []
    found = []
    for line in log.read_text().splitlines():
        kind, job, _, ns = line.split()
        found.append((kind, job, int(ns)))
    return found


def test_critical_pressure_holds_new_launches_until_running_attempts_end(
    project: Project,
) -> None:
    log = project.root / "log"
    env = {"MZT_MAX_PROCESSES": "5"}  # over 80 %: more than 4 processes is critical
    busy = project.score(
        {**side_by_side("busy", 3, _template("busy", log, 4)), "workspace": "./busy"},
        name="busy.yaml",
    )
    late = project.score(
        {**side_by_side("late", 1, _template("late", log, 0)), "workspace": "./late"},
        name="late.yaml",
    )
    first = project.start("run", busy, env=env)
    try:
        wait_for(lambda: sum(kind == "start" for kind, _, _ in _events(log)) == 3, timeout=60)
        # The machine's reading is shared for a second: the late job must not reuse the
        # one taken before the busy job's attempts existed.
        wait_for(lambda: _reading_age(project.home) > pressure.FRESH_SECONDS, timeout=30)
        second = project.mzt("run", late, env=env, timeout=120)
        _, errors = first.communicate(timeout=120)
        assert first.returncode == 0, errors
    finally:
        if first.poll() is None:
            first.kill()
        first.communicate()
    assert second.returncode == 0, second.stderr
    assert "held by backpressure: critical: processes" in second.stderr + second.stdout
    events = _events(log)
    busy_ends = sorted(ns for kind, job, ns in events if kind == "end" and job == "busy")
    late_start = next(ns for kind, job, ns in events if kind == "start" and job == "late")
    assert len(busy_ends) == 3  # the running attempts all finished
    assert late_start > busy_ends[0], "the late job started while the machine was critical"
