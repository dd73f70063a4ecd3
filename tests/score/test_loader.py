from __future__ import annotations

from pathlib import Path

import pytest

from mzt.score.loader import MAX_SCORE_BYTES, digest, load_score
from mzt.support.errors import ScoreError
from tests.helpers import minimal, write_score


def issues_of(path: Path) -> list:
    with pytest.raises(ScoreError) as info:
        load_score(path)
    return info.value.issues


def test_loads_minimal_score(tmp_path: Path) -> None:
    loaded = load_score(write_score(tmp_path, minimal(name="My job: nightly!")))
    assert loaded.job_id == "My_job__nightly_"
    assert loaded.template == "sheet {{ sheet_num }}"
    assert loaded.default_workspace() == (tmp_path / "workspace").resolve()
    assert loaded.score.retry.max_retries == 3


def test_workspace_is_relative_to_the_score_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sub = tmp_path / "scores"
    sub.mkdir()
    monkeypatch.chdir(tmp_path)
    loaded = load_score(write_score(sub, minimal(workspace="../out")))
    assert loaded.default_workspace() == (tmp_path / "out").resolve()


def test_template_file_relative_to_score(tmp_path: Path) -> None:
    (tmp_path / "prompt.j2").write_text("hello {{ sheet_num }}")
    loaded = load_score(write_score(tmp_path, minimal(prompt={"template_file": "prompt.j2"})))
    assert loaded.template == "hello {{ sheet_num }}"
    assert loaded.template_path == (tmp_path / "prompt.j2").resolve()


def test_missing_template_file_is_left_to_the_checks(tmp_path: Path) -> None:
    loaded = load_score(write_score(tmp_path, minimal(prompt={"template_file": "nope.j2"})))
    assert loaded.template is None and loaded.template_path is not None


def test_unknown_key_with_typo_hint_and_location(tmp_path: Path) -> None:
    text = "name: t\nsheet:\n  size: 1\n  total_items: 2\nprompt: {}\nparalel:\n  enabled: true\n"
    [issue] = issues_of(write_score(tmp_path, text))
    assert (issue.code, issue.path, issue.line) == ("SCHEMA", "paralel", 6)
    assert "did you mean `parallel`" in (issue.hint or "")


@pytest.mark.parametrize(
    ("data", "path", "hint"),
    [
        (minimal(retries={"max_retries": 1}), "retries", "`retry`"),
        (minimal(validation=[]), "validation", "`validations`"),
        (minimal(sheets={"size": 1}), "sheets", "`sheet`"),
        (minimal(max_retries=2), "max_retries", "`retry.max_retries`"),
        (minimal(retry={"max_retry": 2}), "retry.max_retry", "`max_retries`"),
        (
            minimal(validations=[{"type": "file_exists", "file": "x"}]),
            "validations.0.file",
            "`path`",
        ),
        (minimal(parallel={"max_concurent": 2}), "parallel.max_concurent", "`max_concurrent`"),
        (minimal(movements={1: {"instrumnet": "cli"}}), "movements.1.instrumnet", "`instrument`"),
        (
            minimal(sheet={"size": 1, "total_items": 2, "fanout": {1: 2}}),
            "sheet.fanout",
            "`fan_out`",
        ),
    ],
)
def test_typo_hints(tmp_path: Path, data: dict, path: str, hint: str) -> None:
    [issue] = issues_of(write_score(tmp_path, data))
    assert issue.path == path
    assert hint in (issue.hint or ""), issue


@pytest.mark.parametrize(
    ("data", "path", "needle"),
    [
        (minimal(retry={"max_retries": "3"}), "retry.max_retries", "valid integer"),
        (minimal(retry={"max_retries": -1}), "retry.max_retries", "greater than or equal"),
        (minimal(retry={"max_retries": True}), "retry.max_retries", "valid integer"),
        (minimal(parallel={"enabled": "yes"}), "parallel.enabled", "valid boolean"),
        (minimal(parallel={"max_concurrent": 50}), "parallel.max_concurrent", "less than or equal"),
        (
            minimal(instrument_config={"timeout_seconds": -5}),
            "instrument_config.timeout_seconds",
            "greater than",
        ),
        (minimal(retry={"base_delay_seconds": float("inf")}), "retry.base_delay_seconds", "finite"),
        (minimal(retry={"base_delay_seconds": float("nan")}), "retry.base_delay_seconds", "finite"),
        (minimal(description=5), "description", "valid string"),
        (
            minimal(validations=[{"type": "file_exist", "path": "x"}]),
            "validations.0.type",
            "file_exists",
        ),
        (minimal(sheet={"size": 0, "total_items": 2}), "sheet.size", "greater than or equal"),
    ],
)
def test_type_errors_are_strict_and_located(
    tmp_path: Path, data: dict, path: str, needle: str
) -> None:
    [issue] = issues_of(write_score(tmp_path, data))
    assert issue.path == path
    assert needle in issue.message
    assert issue.line is not None


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (minimal(sheet={"size": 2, "total_items": 4, "fan_out": {1: 2}}), "fan_out needs"),
        (minimal(sheet={"size": 1, "total_items": 2, "start_item": 3}), "no sheets"),
        (minimal(prompt={"template": "a", "template_file": "b"}), "not both"),
        (minimal(retry={"base_delay_seconds": 10, "max_delay_seconds": 5}), "larger than"),
        (minimal(cost_limits={"enabled": True}), "neither max_cost_per_sheet"),
        (minimal(parallel={"budget_partition": False}), "not supported"),
        (minimal(on_success=[{"type": "run_job"}]), "job_path"),
        (minimal(notifications=[{"type": "webhook"}]), "url"),
        (
            minimal(stale_detection={"idle_timeout_seconds": 10, "check_interval_seconds": 20}),
            "smaller",
        ),
        (
            minimal(
                sheet={"size": 1, "total_items": 2, "prelude": [{"file": "a", "directory": "b"}]}
            ),
            "exactly one",
        ),
        (
            minimal(sheet={"size": 1, "total_items": 3, "instrument_map": {"a": [1], "b": [1]}}),
            "both",
        ),
        (minimal(rate_limit={"detection_patterns": ["(unclosed"]}), "not a valid regex"),
        (minimal(name="..."), "no usable job id"),
    ],
)
def test_cross_field_rules(tmp_path: Path, data: dict, needle: str) -> None:
    issues = issues_of(write_score(tmp_path, data))
    assert any(needle in i.message for i in issues), issues


def test_missing_required_keys_hint(tmp_path: Path) -> None:
    issues = issues_of(write_score(tmp_path, "name: t\n"))
    assert {i.path for i in issues} == {"sheet", "prompt"}
    assert any("'sheet'" in i.message for i in issues)
    assert all("at least `name`" in (i.hint or "") for i in issues)


@pytest.mark.parametrize("text", ["", "- a\n- b\n", "just text\n", "42\n"])
def test_non_mapping_documents(tmp_path: Path, text: str) -> None:
    [issue] = issues_of(write_score(tmp_path, text))
    assert "mapping" in (issue.hint or "")


def test_total_sheets_is_tolerated(tmp_path: Path) -> None:
    load_score(
        write_score(tmp_path, minimal(sheet={"size": 1, "total_items": 2, "total_sheets": 2}))
    )


def test_unused_keys_and_unknown_instrument_settings_are_accepted(tmp_path: Path) -> None:
    loaded = load_score(
        write_score(
            tmp_path,
            minimal(
                learning={"enabled": True},
                bridge=None,
                instrument_config={"weird": 1, "model": "m"},
            ),
        )
    )
    assert loaded.score.unused_keys() == ["learning", "bridge"]
    assert loaded.score.instrument_config.unknown_keys() == ["weird"]


def test_file_problems(tmp_path: Path) -> None:
    [issue] = issues_of(tmp_path / "absent.yaml")
    assert issue.code == "FILE" and "does not exist" in issue.message
    [issue] = issues_of(tmp_path)
    assert "folder" in issue.message
    big = tmp_path / "big.yaml"
    big.write_bytes(b"#" * (MAX_SCORE_BYTES + 1))
    [issue] = issues_of(big)
    assert "1 MiB" in issue.message


def test_yaml_problem_becomes_score_error(tmp_path: Path) -> None:
    [issue] = issues_of(write_score(tmp_path, "name: t\nname: u\n"))
    assert (issue.code, issue.line) == ("YAML", 2)


def test_digest_ignores_formatting_but_not_content(tmp_path: Path) -> None:
    a = load_score(
        write_score(tmp_path, "name: t\nsheet: {size: 1, total_items: 2}\nprompt: {}\n", "a.yaml")
    )
    b = load_score(
        write_score(
            tmp_path,
            "# comment\nprompt: {}\nname: t\nsheet:\n  total_items: 2\n  size: 1\n",
            "b.yaml",
        )
    )
    c = load_score(
        write_score(tmp_path, "name: t\nsheet: {size: 1, total_items: 3}\nprompt: {}\n", "c.yaml")
    )
    assert a.digest == b.digest != c.digest
    assert digest({1: "a"}) == digest({"1": "a"})


def test_lax_mode_accepts_json_round_trip(tmp_path: Path) -> None:
    import json

    from mzt.score.loader import snapshot, validate_document
    from mzt.support.yamlsafe import Document

    loaded = load_score(
        write_score(tmp_path, minimal(sheet={"size": 1, "total_items": 3, "fan_out": {2: 2}}))
    )
    data = json.loads(json.dumps(snapshot(loaded.document.data)))
    again = validate_document(Document(data, {}), source="<snapshot>", base_dir=tmp_path, lax=True)
    assert again.score.sheet.fan_out == {2: 2}
    assert again.digest == loaded.digest
