"""End to end: circuit breakers open, send sheets to fallbacks or make them wait, are
shared with sibling runs, survive a damaged record, and show in status and instruments."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import yaml

from tests.e2e.conftest import Project, wait_for


def failing_score(name: str = "job", **extra: Any) -> dict[str, Any]:
    """Sheets on `broken` (/bin/false) with `cli` as the fallback."""
    return {
        "name": name,
        "instrument": "broken",
        "instrument_fallbacks": ["cli"],
        "sheet": {"size": 1, "total_items": 3},
        "retry": {"max_retries": 2, "base_delay_seconds": 0.05, "jitter": False},
        "circuit_breaker": {"failure_threshold": 2, "recovery_timeout_seconds": 600},
        "prompt": {"template": "echo ok > {{ workspace }}/out-{{ sheet_num }}.txt"},
        "validations": [{"type": "file_exists", "path": "{workspace}/out-{sheet_num}.txt"}],
        **extra,
    }


def flaky_profile(project: Project) -> None:
    """A shell instrument whose failures are not a script's verdict (no `deterministic`)."""
    profile = {
        "name": "flaky",
        "display_name": "Shell that sometimes fails",
        "kind": "cli",
        "raw_prompt": True,
        "cli": {
            "command": {"executable": "bash", "prompt_flag": "-c", "prompt_via_stdin": False},
            "output": {"format": "text"},
        },
    }
    folder = project.home / "instruments"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "flaky.yaml").write_text(yaml.safe_dump(profile))


def flaky_score(rest: float, **extra: Any) -> dict[str, Any]:
    """One sheet that fails its first two attempts, then succeeds; no fallback."""
    ws = "{{ workspace }}"
    return {
        "name": "job",
        "instrument": "flaky",
        "sheet": {"size": 1, "total_items": 1},
        "retry": {"max_retries": 5, "base_delay_seconds": 0.05, "jitter": False},
        "circuit_breaker": {"failure_threshold": 2, "recovery_timeout_seconds": rest},
        "prompt": {
            "template": (
                f"echo x >> {ws}/calls; test $(wc -l < {ws}/calls) -ge 3 && echo ok > {ws}/out"
            )
        },
        "validations": [{"type": "file_exists", "path": "{workspace}/out"}],
        **extra,
    }


def record(project: Project, instrument: str = "broken") -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (project.home / "circuits" / f"{instrument}.json").read_text()
    )
    return data


def events(workspace: Path, job: str = "job") -> list[dict[str, Any]]:
    path = workspace / ".marianne" / f"{job}.history.jsonl"
    if not path.exists():
        return []
    found = []
    for line in path.read_text().splitlines():
        try:
            found.append(json.loads(line))
        except ValueError:
            continue  # a line being written
    return found


def test_after_repeated_failures_the_next_sheet_goes_to_its_fallback(project: Project) -> None:
    project.fake_profile("broken", executable="/bin/false")
    result = project.mzt("run", project.score(failing_score()))
    assert result.returncode == 0, result.stderr
    assert "broken's circuit is open; moving to cli" in result.stdout
    sheets = project.sheets("job")
    assert sheets[1]["attempt_count"] == 3  # two failures opened it, then the fallback
    for num in (2, 3):  # never tried on the open instrument
        assert sheets[num]["attempt_count"] == 1 and sheets[num]["instrument_name"] == "cli"
        [move] = sheets[num]["instrument_fallback_history"]
        assert (move["from"], move["to"], move["reason"]) == ("broken", "cli", "circuit_open")
        assert (project.workspace / f"out-{num}.txt").exists()
    shared = record(project)
    assert shared["state"] == "open" and shared["consecutive_failures"] == 2
    assert shared["set_by_job"] == "job"
    assert (project.home / "circuits" / "broken.json").stat().st_mode & 0o777 == 0o600

    status = json.loads(project.mzt("status", "job", "--json").stdout)
    [circuit] = status["circuit_breaker"]["circuits"]
    assert circuit["instrument"] == "broken" and circuit["state"] == "open"
    assert circuit["seconds_left"] > 0
    [change] = status["circuit_breaker"]["history"]
    assert (change["state"], change["trigger"]) == ("open", "failure_recorded")
    text = project.mzt("status", "job").stdout
    assert "Circuit breakers:" in text and "broken: open until" in text

    listing = project.mzt("instruments", "list")
    header, *rows = listing.stdout.splitlines()
    assert "CIRCUIT" in header.split()
    [row] = [r for r in rows if r.startswith("broken ")]
    assert "open until" in row
    [cli_row] = [r for r in rows if r.startswith("cli ")]
    assert "closed" in cli_row
    doc = json.loads(project.mzt("instruments", "list", "--json").stdout)
    states = {i["name"]: i["circuit"]["state"] for i in doc["instruments"]}
    assert states["broken"] == "open" and states["cli"] == "closed"

    diagnosis = json.loads(project.mzt("diagnose", "job", "--json").stdout)
    assert diagnosis["circuit_breaker"]["circuits"][0]["state"] == "open"
    assert "Circuit breakers:" in project.mzt("diagnose", "job").stdout

    cleared = json.loads(project.mzt("clear-rate-limits", "broken", "--json").stdout)
    assert cleared["circuits_cleared"] == ["broken"]
    assert not (project.home / "circuits" / "broken.json").exists()


def test_a_sibling_run_started_after_it_opened_falls_back_at_once(project: Project) -> None:
    project.fake_profile("broken", executable="/bin/false")
    assert project.mzt("run", project.score(failing_score("first"), "first.yaml")).returncode == 0
    second = failing_score("second", workspace="./ws2")
    second["sheet"] = {"size": 1, "total_items": 1}
    started = time.monotonic()
    result = project.mzt("run", project.score(second, "second.yaml"))
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 60  # it did not sit out the ten-minute rest
    from mzt.state import JsonStateBackend

    state = JsonStateBackend(project.root / "ws2").load("second")
    assert state is not None
    sheet = state.sheet(1)
    assert sheet.attempt_count == 1 and sheet.instrument_name == "cli"  # broken never ran
    assert [m["reason"] for m in sheet.instrument_fallback_history] == ["circuit_open"]
    [seen] = state.circuit_breaker_history
    assert seen["state"] == "open" and "first" in seen["trigger"]


def test_without_a_fallback_the_sheet_waits_for_the_trial(project: Project) -> None:
    flaky_profile(project)
    rest = 5.0  # long enough for `mzt status` to see the wait on a loaded machine
    proc = project.start("run", project.score(flaky_score(rest)))
    wait_for(lambda: any(e.get("event") == "circuit_wait" for e in events(project.workspace)), 60)
    waiting = json.loads(project.mzt("status", "job", "--json").stdout)
    assert waiting["sheets"]["1"]["status"] == "waiting"
    assert waiting["sheets"]["1"]["waiting_until"]
    assert waiting["circuit_breaker"]["circuits"][0]["state"] in ("open", "half_open")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "circuit open; next try" in out
    lines = events(project.workspace)
    opened = next(e for e in lines if e.get("event") == "circuit_breaker")
    trial = next(e for e in lines if e.get("event") == "attempt_started" and e["ts"] > opened["ts"])
    assert (trial["ts"] - opened["ts"]) / 1e6 >= rest - 0.1  # it waited out the rest
    sheet = project.sheets("job")[1]
    # Three executions: the waiting spent no budget (max_retries 5 would allow more).
    assert sheet["attempt_count"] == 3 and sheet["status"] == "completed"
    states = [c["state"] for c in project.state("job")["circuit_breaker_history"]]
    assert states == ["open", "half_open", "closed"]
    assert record(project, "flaky")["state"] == "closed"


def test_a_pause_acts_while_a_sheet_waits_for_the_circuit(project: Project) -> None:
    flaky_profile(project)
    proc = project.start("run", project.score(flaky_score(600)))
    wait_for(lambda: any(e.get("event") == "circuit_wait" for e in events(project.workspace)), 60)
    started = time.monotonic()
    (project.workspace / ".marianne-pause-job").touch()
    proc.communicate(timeout=60)
    assert proc.returncode == 3
    assert time.monotonic() - started < 30
    assert project.state("job")["status"] == "paused"


def test_a_damaged_record_is_taken_as_closed_and_replaced(project: Project) -> None:
    project.fake_profile("broken", executable="/bin/false")
    folder = project.home / "circuits"
    folder.mkdir(mode=0o700)
    (folder / "broken.json").write_text('{"instrument": "broken", "state": ')
    result = project.mzt("run", project.score(failing_score()))
    assert result.returncode == 0, result.stderr
    assert "damaged; taken as closed" in result.stdout
    assert "Traceback" not in result.stderr
    assert record(project)["state"] == "open"  # the next change rewrote it
