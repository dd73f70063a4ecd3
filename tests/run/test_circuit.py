"""The run's circuit breakers: what counts, fallbacks, per-run circuits, switching it off."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
import yaml

from mzt import api
from mzt.execute.attempt import AttemptReport
from mzt.instruments.classify import ErrorInfo
from mzt.run.circuit import outcome_of
from mzt.state import CheckpointState, JsonStateBackend
from tests.helpers import minimal, write_score


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "home"
    (folder / "instruments").mkdir(parents=True)
    profile = {
        "name": "broken",
        "display_name": "Always fails",
        "kind": "cli",
        "cli": {"command": {"executable": "/bin/false"}, "output": {"format": "text"}},
    }
    (folder / "instruments" / "broken.yaml").write_text(yaml.safe_dump(profile))
    monkeypatch.setenv("MZT_HOME", str(folder))
    return folder


def report(**fields: Any) -> AttemptReport:
    values = {"stopped": False, "error": None, "execution_success": False, **fields}
    return cast(AttemptReport, SimpleNamespace(**values))


def error(code: str = "E009", *, deterministic: bool = False) -> ErrorInfo:
    return ErrorInfo(code, "transient", True, "it failed", deterministic=deterministic)


@pytest.mark.parametrize(
    ("attempt", "counts"),
    [
        (report(execution_success=True), "success"),
        (report(error=error()), "failure"),  # a failed execution
        (report(error=error("E001")), "failure"),  # a timeout
        (report(), "failure"),  # no result at all (the program could not start)
        (report(error=error(deterministic=True)), "success"),  # a script's own verdict
        (report(error=error("E101")), "neither"),  # a rate limit
        (report(stopped=True, error=error()), "neither"),  # cut short by a cancel
    ],
)
def test_which_attempts_count(attempt: AttemptReport, counts: str) -> None:
    assert outcome_of(attempt) == counts


def _run(tmp_path: Path, **breaker: Any) -> CheckpointState:
    data = minimal(
        name="job",
        workspace="./ws",
        instrument="broken",
        instrument_fallbacks=["cli"],
        pause_between_sheets_seconds=0,
        retry={"max_retries": 2, "base_delay_seconds": 0.01, "jitter": False},
        circuit_breaker={"failure_threshold": 2, "recovery_timeout_seconds": 600, **breaker},
        prompt={"template": "echo ok > {{ workspace }}/out-{{ sheet_num }}"},
        validations=[{"type": "file_exists", "path": "{workspace}/out-{sheet_num}"}],
    )
    result = api.run_score(write_score(tmp_path, data))
    assert result.exit_code == 0, result.message
    state = JsonStateBackend(tmp_path / "ws").load("job")
    assert state is not None
    return state


def test_a_run_of_its_own_keeps_its_circuits_in_memory(tmp_path: Path, home: Path) -> None:
    state = _run(tmp_path, cross_workspace_coordination=False)
    assert not (home / "circuits").exists()
    assert state.sheet(1).attempt_count == 3  # two failures opened it; the fallback ran
    for num in (2, 3):
        sheet = state.sheet(num)
        assert sheet.attempt_count == 1 and sheet.instrument_name == "cli"
        [move] = sheet.instrument_fallback_history
        assert (move["from"], move["to"], move["reason"]) == ("broken", "cli", "circuit_open")
    [change] = state.circuit_breaker_history
    assert change["state"] == "open" and change["trigger"] == "failure_recorded"
    assert change["instrument"] == "broken" and change["consecutive_failures"] == 2


def test_switched_off_it_never_opens(tmp_path: Path, home: Path) -> None:
    state = _run(tmp_path, enabled=False)
    assert not (home / "circuits").exists()
    assert state.circuit_breaker_history == []
    for num in (1, 2, 3):  # every sheet spent its budget on the failing instrument
        assert state.sheet(num).attempt_count == 3
        [move] = state.sheet(num).instrument_fallback_history
        assert move["reason"] == "execution_failed"


def test_a_scripts_own_failures_leave_the_cli_circuit_closed(tmp_path: Path, home: Path) -> None:
    data = minimal(
        name="job",
        workspace="./ws",
        instrument="cli",
        pause_between_sheets_seconds=0,
        retry={"max_retries": 3},
        circuit_breaker={"failure_threshold": 1},
        prompt={"template": "exit 1"},
    )
    result = api.run_score(write_score(tmp_path, data))
    assert result.exit_code == 1
    state = JsonStateBackend(tmp_path / "ws").load("job")
    assert state is not None and state.sheet(1).attempt_count == 3
    assert state.circuit_breaker_history == []
    assert not (home / "circuits" / "cli.json").exists()


@pytest.mark.parametrize(
    "breaker",
    [{"honor_other_jobs_rate_limits": False}, {"cross_workspace_coordination": False}],
)
def test_other_jobs_rate_limits_can_be_ignored(tmp_path: Path, breaker: dict[str, bool]) -> None:
    from datetime import UTC, datetime, timedelta

    from mzt.instruments import ratelimits

    ratelimits.record("cli", datetime.now(UTC) + timedelta(hours=1), "limited", "other")
    data = minimal(
        name="job",
        workspace="./ws",
        instrument="cli",
        pause_between_sheets_seconds=0,
        circuit_breaker=breaker,
        prompt={"template": "true"},
    )
    result = api.run_score(write_score(tmp_path, data))
    assert result.exit_code == 0, result.message  # it did not wait for the other job's limit
    assert ratelimits.active("cli") is not None  # and left the record alone


def test_a_fallback_whose_rest_is_over_runs_as_its_trial(tmp_path: Path, home: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from mzt.instruments.circuits import Circuit, FileCircuits

    book = FileCircuits(home)
    now = datetime.now(UTC)
    book.update("broken", lambda c: Circuit("broken", "open", 5, now + timedelta(hours=1)))
    book.update("cli", lambda c: Circuit("cli", "open", 5, now - timedelta(seconds=1)))
    state = _run(tmp_path)
    sheet = state.sheet(1)
    assert sheet.attempt_count == 1 and sheet.instrument_name == "cli"
    assert book.get("cli").state == "closed"  # the trial succeeded
    assert book.get("broken").state == "open"
    changes = [(c["instrument"], c["state"]) for c in state.circuit_breaker_history]
    assert changes == [("broken", "open"), ("cli", "half_open"), ("cli", "closed")]
