from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import minimal, run_mzt, write_score

VALIDATE_FIELDS = {"schema", "valid", "errors", "warnings", "total_sheets"}
ISSUE_FIELDS = {"code", "message", "path", "line"}


def test_valid_score(tmp_path: Path, mzt) -> None:
    score = write_score(tmp_path, minimal(instrument="cli"))
    result = mzt("validate", score)
    assert result.code == 0
    assert f"{score}: valid — 3 sheets, workspace {tmp_path / 'workspace'}" in result.out
    assert "note: " in result.err and "[V203]" in result.err


def test_one_sheet_is_counted_in_the_singular(tmp_path: Path, mzt) -> None:
    score = write_score(tmp_path, minimal(instrument="cli", sheet={"size": 1, "total_items": 1}))
    result = mzt("validate", score)
    assert result.code == 0
    assert f"{score}: valid — 1 sheet, workspace " in result.out
    fanned = {"size": 1, "total_items": 1, "fan_out": {1: 3}}
    one_stage = write_score(tmp_path, minimal(instrument="cli", sheet=fanned), name="fan.yaml")
    assert f"{one_stage}: valid — 3 sheets in 1 stage, workspace " in mzt("validate", one_stage).out


def test_quiet_prints_nothing_for_a_valid_score(tmp_path: Path, mzt) -> None:
    result = mzt("validate", "-q", write_score(tmp_path, minimal(instrument="cli")))
    assert (result.code, result.out, result.err) == (0, "", "")
    assert mzt("-q", "validate", write_score(tmp_path, minimal(instrument="cli"))).out == ""


def test_invalid_score_exit_2_with_location(tmp_path: Path, mzt) -> None:
    score = write_score(
        tmp_path, "name: t\nsheet: {size: 1, total_items: 2}\nprompt: {}\nretries: 3\n"
    )
    result = mzt("validate", score)
    assert result.code == 2
    assert (
        f"error: {score}:4:1: [SCHEMA] retries: unknown key 'retries' Hint: did you mean `retry`?"
        in result.err
    )
    assert "invalid (1 error)" in result.err
    assert "Traceback" not in result.err


def test_json_document(tmp_path: Path, mzt) -> None:
    score = write_score(
        tmp_path,
        minimal(validations=[{"type": "content_regex", "path": "{workspace}/a", "pattern": "("}]),
    )
    result = mzt("validate", "--json", score)
    doc = result.json()
    assert result.code == 2
    assert (
        VALIDATE_FIELDS <= set(doc) and doc["schema"] == "mzt.validate/1" and doc["valid"] is False
    )
    assert doc["total_sheets"] == 3
    [error] = doc["errors"]
    assert ISSUE_FIELDS <= set(error) and error["code"] == "V007" and error["line"] is not None
    assert all(ISSUE_FIELDS <= set(w) for w in doc["warnings"])


def test_json_for_unloadable_file(tmp_path: Path, mzt) -> None:
    result = mzt("validate", "-j", tmp_path / "missing.yaml")
    doc = result.json()
    assert result.code == 2 and doc["valid"] is False and doc["total_sheets"] is None
    assert doc["errors"][0]["code"] == "FILE"


def test_verbose_shows_plan_and_prompt(tmp_path: Path, mzt) -> None:
    data = minimal(
        instrument="cli",
        sheet={"size": 1, "total_items": 3, "fan_out": {2: 2}},
        parallel={"enabled": True},
    )
    data["prompt"] = {"template": "echo sheet {{ sheet_num }} of {{ total_sheets }}"}
    result = mzt("validate", "-v", write_score(tmp_path, data))
    assert result.code == 0
    assert "SHEET  STAGE  INSTRUMENT  WAITS FOR  CHECKS  TIMEOUT" in result.out
    assert "2      2.1    cli         1          0       5m" in result.out
    assert "4      3      cli         2-3" in result.out
    assert "Prompt of sheet 1:\necho sheet 1 of 4" in result.out


def test_verbose_json_has_sheets_and_preview(tmp_path: Path, mzt) -> None:
    doc = mzt("validate", "-v", "-j", write_score(tmp_path, minimal())).json()
    assert doc["preview"] == "sheet 1"
    assert [s["dependencies"] for s in doc["sheets"]] == [[], [1], [2]]


def test_workspace_override_is_relative_to_cwd(tmp_path: Path, mzt, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    doc = mzt("validate", "-j", "-w", "elsewhere", write_score(tmp_path, minimal())).json()
    assert doc["workspace"] == str(tmp_path / "elsewhere")


def test_real_command_no_traceback_and_unchanged_file(tmp_path: Path) -> None:
    score = write_score(
        tmp_path,
        "name: t\nsheet: {size: 1, total_items: 2}\nprompt: {}\nvalidations: [{type: nope}]\n",
    )
    before = score.read_bytes()
    result = run_mzt("validate", score)
    assert result.returncode == 2
    assert "validations.0.type" in result.stderr and "Traceback" not in result.stderr
    assert score.read_bytes() == before
    ok = run_mzt("validate", "--json", write_score(tmp_path, minimal(), "good.yaml"))
    assert ok.returncode == 0 and json.loads(ok.stdout)["valid"] is True
