"""`mzt.machine.configfile`: every problem of the file, with its key, its line and a hint."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mzt.machine.configfile import check_file, parse_config


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_a_typo_names_the_key_its_line_and_the_right_spelling(tmp_path: Path) -> None:
    path = _write(tmp_path, "max_concurrent_jobs: 2\nmax_concurent_sheets: 4\n")
    [issue] = check_file(path).errors
    assert (issue.path, issue.line) == ("max_concurent_sheets", 2)
    assert issue.hint == "did you mean `max_concurrent_sheets`?"


def test_a_typo_inside_an_instrument_hints_at_its_keys(tmp_path: Path) -> None:
    path = _write(tmp_path, "instruments:\n  cli:\n    max_concurent: 1\n")
    [issue] = check_file(path).errors
    assert (issue.path, issue.line) == ("instruments.cli.max_concurent", 3)
    assert issue.hint == "did you mean `max_concurrent`?"


def test_an_unknown_key_far_from_any_lists_the_allowed_ones(tmp_path: Path) -> None:
    [issue] = check_file(_write(tmp_path, "colour: blue\n")).errors
    assert issue.hint is not None and "max_concurrent_sheets" in issue.hint


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = 'max_concurrent_jobs: "3"\nmodels:\n  opus: {}\nmax_processes: 1\n'
    errors = check_file(_write(tmp_path, text)).errors
    found = {(i.path, i.line) for i in errors}
    assert found == {
        ("max_concurrent_jobs", 1),
        ("models.opus.max_concurrent", 3),
        ("max_processes", 4),
    }
    assert "the string '3'" in next(i.message for i in errors if i.line == 1)


def test_yaml_errors_carry_their_line(tmp_path: Path) -> None:
    [issue] = check_file(_write(tmp_path, "a: 1\nb: [\n")).errors
    assert issue.code == "YAML" and issue.line is not None


def test_yaml_that_would_build_objects_is_refused(tmp_path: Path) -> None:
    text = "max_concurrent_jobs: !!python/object/apply:os.system ['true']\n"
    [issue] = check_file(_write(tmp_path, text)).errors
    assert issue.code == "YAML"


@pytest.mark.parametrize("text", ["", "# only a comment\n"])
def test_an_empty_file_is_all_defaults(tmp_path: Path, text: str) -> None:
    config, _ = parse_config(_write(tmp_path, text))
    assert config.max_concurrent_sheets == 10


def test_a_list_is_not_a_configuration(tmp_path: Path) -> None:
    [issue] = check_file(_write(tmp_path, "- 1\n")).errors
    assert "not a mapping" in issue.message


def test_the_machine_file_absent_is_valid_but_a_named_file_must_exist(tmp_path: Path) -> None:
    absent = check_file(home=tmp_path)
    assert absent.valid and not absent.present
    named = check_file(tmp_path / "nope.yaml")
    assert not named.valid and "does not exist" in named.errors[0].message


def test_a_fifo_or_a_folder_is_refused_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "config.yaml")
    [issue] = check_file(home=tmp_path).errors
    assert issue.code == "FILE" and "FIFO" in issue.message
    (tmp_path / "config.yaml").unlink()
    (tmp_path / "config.yaml").mkdir()
    [issue] = check_file(home=tmp_path).errors
    assert "folder" in issue.message


def test_a_symlink_to_a_file_is_followed(tmp_path: Path) -> None:
    (tmp_path / "real.yaml").write_text("max_concurrent_jobs: 3\n")
    (tmp_path / "config.yaml").symlink_to(tmp_path / "real.yaml")
    config, lines = parse_config(tmp_path / "config.yaml")
    assert config.max_concurrent_jobs == 3 and lines[("max_concurrent_jobs",)] == 1


def test_a_large_file_is_refused(tmp_path: Path) -> None:
    [issue] = check_file(_write(tmp_path, "#" * (300 * 1024))).errors
    assert "larger than" in issue.message


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_file_says_so(tmp_path: Path) -> None:
    path = _write(tmp_path, "max_processes: 9\n")
    path.chmod(0)
    [issue] = check_file(path).errors
    assert "permission denied" in issue.message
