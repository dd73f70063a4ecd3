"""`mzt config path|show|check` and `mzt doctor`'s config check, through the real command."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.cli.test_startup import imported
from tests.e2e.conftest import Project


@pytest.fixture
def project(tmp_path: Path) -> Project:
    (tmp_path / "home").mkdir()
    return Project(tmp_path, tmp_path / "home")


def _config(project: Project) -> Path:
    return project.home / "config.yaml"


def test_path_names_the_file_under_mzt_home(project: Project) -> None:
    done = project.mzt("config", "path")
    assert done.returncode == 0
    assert done.stdout == f"{_config(project)}\n"


def test_show_gives_each_value_and_its_source(project: Project) -> None:
    _config(project).write_text(
        "# limits\nmax_concurrent_sheets: 4\ninstruments:\n  cli:\n    max_concurrent: 1\n"
    )
    done = project.mzt("config", "show")
    assert done.returncode == 0, done.stderr
    rows = {line.split()[0]: line.split()[1:] for line in done.stdout.splitlines()[2:]}
    assert rows["max_concurrent_sheets"] == ["4", "file,", "line", "2"]
    assert rows["instruments.cli.max_concurrent"] == ["1", "file,", "line", "5"]
    assert rows["max_concurrent_jobs"] == ["15", "default"]
    doc = json.loads(project.mzt("config", "show", "-j").stdout)
    assert doc["schema"] == "mzt.config/1" and doc["file"] == "present"
    assert doc["config"]["max_concurrent_sheets"] == 4
    assert doc["config"]["instruments"] == {"cli": {"max_concurrent": 1}}


def test_an_override_variable_shows_as_the_source(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MZT_MAX_CONCURRENT_JOBS", "3")
    doc = json.loads(project.mzt("config", "show", "-j").stdout)
    [jobs] = [s for s in doc["settings"] if s["key"] == "max_concurrent_jobs"]
    assert jobs == {
        "key": "max_concurrent_jobs",
        "value": 3,
        "source": "env",
        "line": None,
        "variable": "MZT_MAX_CONCURRENT_JOBS",
    }
    assert doc["file"] == "absent"


def test_a_bad_override_is_one_paragraph_and_exit_2(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MZT_MAX_PROCESSES", "lots")
    done = project.mzt("config", "show")
    assert done.returncode == 2
    assert "MZT_MAX_PROCESSES='lots'" in done.stderr and "Traceback" not in done.stderr
    doc = json.loads(project.mzt("config", "show", "-j").stdout)
    assert doc["schema"] == "mzt.error/1" and doc["error"]["code"] == "CONFIG_ENV"


def test_absent_file_shows_defaults_and_checks_valid(project: Project) -> None:
    shown = project.mzt("config", "show")
    assert shown.returncode == 0 and "(absent: defaults apply)" in shown.stdout
    assert "max_concurrent_sheets         10     default" in shown.stdout
    checked = project.mzt("config", "check")
    assert checked.returncode == 0 and "absent (the defaults apply)" in checked.stdout
    doc = json.loads(project.mzt("config", "check", "-j").stdout)
    assert doc == {
        "schema": "mzt.config-check/1",
        "valid": True,
        "source": str(_config(project)),
        "file": "absent",
        "errors": [],
        "warnings": [],
    }


def test_check_reports_each_problem_with_key_line_and_hint(project: Project) -> None:
    bad = project.root / "mine.yaml"
    bad.write_text("max_concurrent_jobs: 2\nmax_concurent_sheets: 4\nmax_processes: two\n")
    done = project.mzt("config", "check", bad)
    assert done.returncode == 2
    assert f"{bad}:2:1: [SCHEMA] max_concurent_sheets: unknown key" in done.stderr
    assert "did you mean `max_concurrent_sheets`?" in done.stderr
    assert f"{bad}:3:" in done.stderr and "invalid (2 errors)" in done.stderr
    doc = json.loads(project.mzt("config", "check", "-j", bad).stdout)
    assert doc["schema"] == "mzt.config-check/1" and doc["valid"] is False
    assert [(e["path"], e["line"]) for e in doc["errors"]] == [
        ("max_processes", 3),
        ("max_concurent_sheets", 2),
    ]
    assert project.mzt("config", "check", project.root / "absent.yaml").returncode == 2


def test_an_invalid_machine_file_stops_show_with_exit_2(project: Project) -> None:
    _config(project).write_text("max_concurrent_sheets: 0\n")
    done = project.mzt("config", "show")
    assert done.returncode == 2
    assert f"{_config(project)}:1:" in done.stderr and "greater than or equal to 1" in done.stderr


@pytest.mark.parametrize("kind", ["fifo", "folder"])
def test_something_else_in_place_of_the_file_is_named(project: Project, kind: str) -> None:
    if kind == "fifo":
        os.mkfifo(_config(project))
    else:
        _config(project).mkdir()
    for args in (("config", "show"), ("config", "check")):
        done = project.mzt(*args, timeout=30)  # a FIFO must never block the read
        assert done.returncode == 2
        assert str(_config(project)) in done.stderr
        assert ("FIFO" if kind == "fifo" else "folder") in done.stderr


def test_a_symlink_is_followed(project: Project) -> None:
    real = project.root / "dotfiles-config.yaml"
    real.write_text("max_concurrent_jobs: 3\n")
    _config(project).symlink_to(real)
    doc = json.loads(project.mzt("config", "show", "-j").stdout)
    assert doc["config"]["max_concurrent_jobs"] == 3
    assert project.mzt("config", "check").returncode == 0
    real.unlink()
    dangling = project.mzt("config", "show")
    assert dangling.returncode == 2 and "which does not exist" in dangling.stderr


def _doctor_config(project: Project) -> tuple[int, dict[str, object]]:
    done = project.mzt("doctor", "-j")
    doc = json.loads(done.stdout)
    [check] = [c for c in doc["checks"] if c["area"] == "config"]
    return done.returncode, check


def test_doctor_checks_the_file_and_shows_the_limits(project: Project) -> None:
    _, absent = _doctor_config(project)
    assert absent["verdict"] == "ok" and "absent, the defaults apply" in str(absent["message"])
    assert absent["details"]["limits"]["max_concurrent_sheets"] == 10  # type: ignore[index]
    _config(project).write_text(
        "max_concurrent_sheets: 6\ninstruments:\n  cli: {max_concurrent: 1}\n"
    )
    _, valid = _doctor_config(project)
    assert valid["verdict"] == "ok"
    assert "sheets 6" in str(valid["message"]) and "cli 1" in str(valid["message"])
    _config(project).write_text("max_concurrent_sheet: 6\n")
    code, invalid = _doctor_config(project)
    assert code == 1 and invalid["verdict"] == "problem"
    assert "did you mean `max_concurrent_sheets`?" in str(invalid["message"])
    text = project.mzt("doctor")
    assert "problem  config" in text.stdout and f"{_config(project)}:1:1" in text.stdout


def test_config_show_without_a_file_never_loads_the_yaml_reader(tmp_path: Path) -> None:
    modules = imported(tmp_path, "config", "show")
    assert {"yaml", "mzt.support.yamlsafe", "mzt.machine.configfile"}.isdisjoint(modules)
    assert "mzt.machine.config" in modules


def test_names_from_the_file_cannot_steer_the_terminal(project: Project) -> None:
    _config(project).write_text('instruments:\n  "evil\\e[2J": {max_concurrent: 1}\n')
    done = project.mzt("config", "show")
    assert done.returncode == 0, done.stderr
    assert "\x1b" not in done.stdout and "instruments.evil" in done.stdout
