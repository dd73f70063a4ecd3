"""One attempt run by a worker: what it reports when the instrument cannot even start."""

from __future__ import annotations

from pathlib import Path

from mzt.execute.attempt import execute
from mzt.support import records
from tests.execute.specs import shell_spec


def test_a_missing_working_directory_is_e603_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "gone"
    spec = records.replace(shell_spec(tmp_path, "touch ran"), workdir=missing)
    report = execute(spec, lambda: None)
    assert report.error is not None
    assert (report.error.code, report.error.retriable) == ("E603", False)
    assert str(missing) in report.error.message and "does not exist" in report.error.message
    assert "Executable not found" not in report.error.message
    assert not (tmp_path / "ran").exists()


def test_a_working_directory_that_is_a_file_is_e603(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("")
    spec = records.replace(shell_spec(tmp_path, "true"), workdir=tmp_path / "f")
    report = execute(spec, lambda: None)
    assert report.error is not None and report.error.code == "E603"
    assert "a regular file, not a folder" in report.error.message
