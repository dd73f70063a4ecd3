"""`mzt.machine.configshow`: each effective value and where it comes from."""

from __future__ import annotations

from pathlib import Path

from mzt.machine.configshow import effective


def test_sources_are_file_lines_variables_and_defaults(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(
        "max_concurrent_sheets: 3\ninstruments:\n  cli:\n    max_concurrent: 1\n  other: {}\n"
    )
    found = effective(home=tmp_path, environ={"MZT_MAX_PROCESSES": "9"})
    by_key = {s.key: s for s in found.settings}
    assert found.present
    assert (by_key["max_concurrent_sheets"].source, by_key["max_concurrent_sheets"].line) == (
        "file",
        1,
    )
    assert by_key["instruments.cli.max_concurrent"].to_json() == {
        "key": "instruments.cli.max_concurrent",
        "value": 1,
        "source": "file",
        "line": 4,
        "variable": None,
    }
    assert by_key["instruments.other.max_concurrent"].source == "default"
    assert by_key["max_processes"].variable == "MZT_MAX_PROCESSES"
    assert by_key["max_processes"].value == 9 and found.config.max_processes == 9
    assert by_key["max_concurrent_jobs"].source == "default"
    assert found.to_json()["file"] == "present"


def test_an_absent_file_is_all_defaults(tmp_path: Path) -> None:
    found = effective(home=tmp_path, environ={})
    assert not found.present
    assert {s.source for s in found.settings} == {"default"}
    assert found.to_json()["path"] == str(tmp_path / "config.yaml")
