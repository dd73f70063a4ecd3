"""`mzt.views.doctor_machine`: doctor's verdict on the machine configuration."""

from __future__ import annotations

from pathlib import Path

from mzt.views.doctor_machine import check_machine_config


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
