"""`mzt.views.doctor_machine`: doctor's verdicts on the machine configuration and pressure."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mzt.instruments import ratelimits
from mzt.machine import pressure_probe
from mzt.views.doctor_machine import check_machine_config, check_pressure


def test_absent_is_ok_with_the_default_limits(tmp_path: Path) -> None:
    check = check_machine_config(tmp_path, {})
    assert check.verdict == "ok" and check.details["file"] == "absent"
    assert "sheets 10, jobs 15, per instrument 4, memory 8192 MB, processes 50" in check.message


def test_overrides_are_named_in_the_limits(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("models:\n  opus: {max_concurrent: 1}\n")
    check = check_machine_config(tmp_path, {"MZT_MAX_CONCURRENT_SHEETS": "3"})
    assert check.verdict == "ok" and check.details["file"] == "present"
    assert (
        "sheets 3" in check.message and "overridden by MZT_MAX_CONCURRENT_SHEETS" in check.message
    )
    assert check.details["limits"]["models"] == {"opus": {"max_concurrent": 1}}


def test_an_invalid_file_is_a_problem_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("max_concurrent_jobs: 1\nmax_processes: 1\n")
    check = check_machine_config(tmp_path, {})
    assert check.verdict == "problem" and check.details["file"] == "invalid"
    assert [e["line"] for e in check.details["errors"]] == [2]


def test_a_bad_variable_is_a_problem_naming_it(tmp_path: Path) -> None:
    check = check_machine_config(tmp_path, {"MZT_MAX_MEMORY_MB": "lots"})
    assert check.verdict == "problem" and "MZT_MAX_MEMORY_MB" in check.message
    assert check.details["errors"][0]["code"] == "CONFIG_ENV"


def test_pressure_at_rest_is_ok_and_writes_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    check = check_pressure(home, {})
    assert check.verdict == "ok" and check.area == "pressure"
    # The measuring process's own children count, whatever else the suite has started.
    assert re.fullmatch(r"none: memory \d+ MB/8\.0 GB \(\d+ %\), processes \d+/50", check.message)
    assert check.details["schema"] == "mzt.pressure/1" and check.details["level"] == "none"
    assert not home.exists()


def test_a_rate_limit_makes_pressure_a_warning(tmp_path: Path) -> None:
    until = datetime.now(UTC) + timedelta(minutes=5)
    ratelimits.record("claude-code", until, "429", "nightly", home=tmp_path)
    check = check_pressure(tmp_path, {})
    assert check.verdict == "warning" and check.details["level"] == "high"
    assert "rate limit on claude-code until" in check.message
    assert check.message.endswith("each launch waits 2 s")
    assert not (tmp_path / "pressure.json").exists()


def test_a_failed_probe_makes_pressure_a_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pressure_probe, "PROC", str(tmp_path / "no-proc"))
    check = check_pressure(tmp_path, {})
    assert check.verdict == "problem" and check.details["allows_launch"] is False
    assert check.message.startswith("critical: probe failed: ")


def test_pressure_limits_come_from_the_environment(tmp_path: Path) -> None:
    check = check_pressure(tmp_path, {"MZT_MAX_PROCESSES": "7"})
    assert check.details["max_processes"] == 7


def test_pressure_is_not_measured_with_an_unusable_configuration(tmp_path: Path) -> None:
    check = check_pressure(tmp_path, {"MZT_MAX_MEMORY_MB": "lots"})
    assert check.verdict == "ok" and check.message.startswith("not measured")
