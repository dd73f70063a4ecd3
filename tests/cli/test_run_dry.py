from __future__ import annotations

from pathlib import Path

from tests.helpers import minimal, write_score

DRY_RUN_FIELDS = {"schema", "job_id", "total_sheets", "workspace", "sheets"}
SHEET_FIELDS = {"sheet_num", "stage", "instance", "instrument", "dependencies", "validations"}


def test_dry_run_table(tmp_path: Path, mzt) -> None:
    data = minimal(name="dry demo", instrument="cli", instrument_fallbacks=["claude-code"])
    result = mzt("run", "--dry-run", write_score(tmp_path, data))
    assert result.code == 0
    assert "dry_demo: 3 sheets" in result.out and "(dry run)" in result.out
    assert "cli → claude-code" in result.out
    assert not (tmp_path / "workspace").exists(), "a dry run writes nothing"


def test_dry_run_json(tmp_path: Path, mzt) -> None:
    data = minimal(sheet={"size": 1, "total_items": 3, "fan_out": {2: 2}})
    data["validations"] = [
        {"type": "file_exists", "path": "{workspace}/x", "condition": "stage == 2"}
    ]
    result = mzt("run", "-n", "-j", write_score(tmp_path, data))
    doc = result.json()
    assert result.code == 0 and DRY_RUN_FIELDS <= set(doc)
    assert doc["schema"] == "mzt.run/1" and doc["dry_run"] is True and doc["total_sheets"] == 4
    assert all(SHEET_FIELDS <= set(s) for s in doc["sheets"])
    assert [
        (s["stage"], s["instance"], s["dependencies"], s["validations"]) for s in doc["sheets"]
    ] == [
        (1, 1, [], 0),
        (2, 1, [1], 1),
        (2, 2, [1], 1),
        (3, 1, [2, 3], 0),
    ]


def test_large_plan_is_compacted_by_stage(tmp_path: Path, mzt) -> None:
    data = minimal(sheet={"size": 1, "total_items": 3, "fan_out": {2: 100}})
    result = mzt("run", "-n", write_score(tmp_path, data))
    assert "2-101  2 ×100" in result.out
    assert len(result.out.splitlines()) < 20


def test_invalid_score_is_refused_with_json_error(tmp_path: Path, mzt) -> None:
    score = write_score(
        tmp_path, minimal(sheet={"size": 1, "total_items": 2, "dependencies": {1: [2], 2: [1]}})
    )
    result = mzt("run", "-n", "-j", score)
    doc = result.json()
    assert result.code == 2 and doc["schema"] == "mzt.error/1"
    assert doc["error"]["code"] == "SCORE" and "cycle" in doc["error"]["message"]
    assert doc["error"]["issues"][0]["path"] == "sheet.dependencies.1"
    text = mzt("run", "-n", score)
    assert text.code == 2 and "error:" in text.err and "cycle" in text.err


def test_usage_errors_exit_2(tmp_path: Path, mzt) -> None:
    assert mzt("run").code == 2
    assert mzt("run", "--start-sheet", "0", write_score(tmp_path, minimal())).code == 2
    result = mzt("nosuchcommand")
    assert result.code == 2 and "No such command" in result.err
    assert mzt("run", "-j", "--bogus", "x").json()["schema"] == "mzt.error/1"


def test_dry_run_says_how_long_sequential_sheets_pause(tmp_path: Path, mzt) -> None:
    sequential = mzt("run", "-n", write_score(tmp_path, minimal()))
    assert "one at a time, 2 s apart (pause_between_sheets_seconds" in sequential.out
    unpaused = minimal(name="quick", pause_between_sheets_seconds=0)
    assert "apart" not in mzt("run", "-n", write_score(tmp_path, unpaused)).out
    side_by_side = minimal(name="wide", parallel={"enabled": True, "max_concurrent": 3})
    assert "apart" not in mzt("run", "-n", write_score(tmp_path, side_by_side)).out
