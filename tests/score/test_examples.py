"""The example scores validate and show what their headers promise.

Each example goes through the installed `mzt validate` (text and --json) as a separate
process and through `mzt.api.validate_score` in-process. tests/e2e/test_examples.py
runs the offline ones to completion.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mzt import api
from tests.score.score_cli import (
    EXAMPLES,
    CliResult,
    assert_validate_document,
    run_many,
    run_mzt,
)

# The module's fixtures run dozens of whole `mzt` processes: on a loaded two-core machine
# that can outlast the default per-test timeout, which is meant to catch hangs.
pytestmark = pytest.mark.timeout(900)

# Sheet counts after expansion, worked out from each score's `sheet:` block by hand.
EXPECTED_SHEETS = {
    "hello.yaml": 5,  # 3 stages, stage 2 × 3
    "code-review.yaml": 7,  # 4 stages, stage 2 × 4
    "research-writing.yaml": 6,  # 4 stages, stage 3 × 3
    "data-processing.yaml": 6,  # items 101-330 in sizes of 40
    "mixed-instruments.yaml": 6,  # 5 stages, stage 3 × 2
}
EXAMPLE_FILES = sorted(p.name for p in EXAMPLES.glob("*.yaml"))


def test_the_expected_examples_exist() -> None:
    assert set(EXPECTED_SHEETS) <= set(EXAMPLE_FILES)
    assert len(EXAMPLE_FILES) >= 5


@pytest.fixture(scope="module")
def cli_runs(cli_home: Path) -> dict[tuple[str, str], CliResult]:
    """`mzt validate` and `mzt validate --json` on every example, run concurrently."""
    keys = [(mode, name) for mode in ("text", "json") for name in EXAMPLE_FILES]
    commands = [
        ("validate", EXAMPLES / name) if mode == "text" else ("validate", "--json", EXAMPLES / name)
        for mode, name in keys
    ]
    return dict(zip(keys, run_many(commands, home=cli_home), strict=True))


@pytest.mark.parametrize("name", EXAMPLE_FILES)
def test_installed_command_accepts_the_example(
    name: str, cli_runs: dict[tuple[str, str], CliResult]
) -> None:
    result = cli_runs[("text", name)]
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert re.search(r"^(error|warning):", result.stderr, re.MULTILINE) is None, result.stderr
    assert f"{EXAMPLES / name}: valid" in result.stdout


@pytest.mark.parametrize("name", EXAMPLE_FILES)
def test_json_has_the_contract_fields(
    name: str, cli_runs: dict[tuple[str, str], CliResult]
) -> None:
    result = cli_runs[("json", name)]
    assert result.returncode == 0, result.stderr
    document = result.json()
    assert_validate_document(document, valid=True)
    if name in EXPECTED_SHEETS:
        assert document["total_sheets"] == EXPECTED_SHEETS[name]
    assert [w for w in document["warnings"] if w.get("severity") == "warning"] == []


@pytest.mark.parametrize("name", EXAMPLE_FILES)
def test_library_accepts_the_example_without_warnings(name: str) -> None:
    result = api.validate_score(EXAMPLES / name)
    assert result.valid, [e.render(result.source) for e in result.errors]
    assert result.plan is not None
    if name in EXPECTED_SHEETS:
        assert result.plan.total_sheets == EXPECTED_SHEETS[name]
    warnings = [w.render(result.source) for w in result.warnings if w.severity == "warning"]
    assert warnings == []
    # Every sheet is checked by at least one validation.
    assert all(sheet.validations for sheet in result.plan.sheets)


@pytest.mark.parametrize("name", EXAMPLE_FILES)
def test_header_says_what_it_shows_and_how_to_run_it(name: str) -> None:
    text = (EXAMPLES / name).read_text(encoding="utf-8")
    header = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        header.append(line)
    assert len(header) >= 5, "a comment header explains the example"
    joined = "\n".join(header)
    assert "mzt validate" in joined and f"examples/{name}" in joined
    assert "mzt run" in joined


def test_hello_uses_only_bash_and_fans_out() -> None:
    result = api.validate_score(EXAMPLES / "hello.yaml")
    assert result.loaded is not None and result.plan is not None
    score, plan = result.loaded.score, result.plan
    assert {s.instrument.profile for s in plan.sheets} == {"cli"}
    assert all(s.fallbacks == () for s in plan.sheets)
    assert max(s.fan_count for s in plan.sheets) >= 3
    assert plan.total_stages >= 3
    assert score.parallel.enabled
    assert score.pause_between_sheets_seconds == 0
    kinds = {rule.type for rule in score.validations}
    assert {"file_exists", "content_contains", "command_succeeds"} <= kinds


def test_feature_examples_use_what_their_headers_promise() -> None:
    def load(name: str) -> api.Validation:
        result = api.validate_score(EXAMPLES / name)
        assert result.loaded is not None and result.plan is not None
        return result

    review = load("code-review.yaml")
    assert review.loaded and review.plan
    assert review.loaded.score.instrument == "claude-code"
    assert [f.name for f in review.plan.sheet(1).fallbacks] == ["gemini-cli", "codex-cli"]
    assert all(m.name for m in review.loaded.score.movements.values())
    assert review.loaded.score.cross_sheet is not None
    assert all(rule.condition for rule in review.loaded.score.validations)

    research = load("research-writing.yaml")
    assert research.loaded and research.plan
    prompt = research.loaded.score.prompt
    assert prompt.stakes and "previous_outputs" in (prompt.template or "")
    assert research.loaded.score.cross_sheet is not None
    assert research.loaded.score.cross_sheet.auto_capture_stdout
    assert {r.type for r in research.loaded.score.validations} >= {
        "content_contains",
        "content_regex",
    }

    data = load("data-processing.yaml")
    assert data.plan and data.loaded
    ranges = [(s.item_start, s.item_end) for s in data.plan.sheets]
    assert ranges == [(101, 140), (141, 180), (181, 220), (221, 260), (261, 300), (301, 330)]
    assert "{{ start_item }}" in (data.loaded.template or "")
    assert "{{ end_item }}" in (data.loaded.template or "")

    mixed = load("mixed-instruments.yaml")
    assert mixed.plan and mixed.loaded
    profiles = [s.instrument.profile for s in mixed.plan.sheets]
    assert profiles == ["cli", "claude-code", "claude-code", "gemini-cli", "claude-code", "cli"]
    assert mixed.loaded.score.instruments
    assert mixed.loaded.score.instrument_config.timeout_seconds is not None
    timeouts = [s.instrument.timeout_seconds for s in mixed.plan.sheets]
    assert timeouts == [120, 1800, 1800, 900, 1800, 120]


def test_hello_dry_run_lists_the_plan(tmp_path: Path) -> None:
    result = run_mzt("run", "--dry-run", "--json", EXAMPLES / "hello.yaml", home=tmp_path)
    assert result.returncode == 0, result.stderr
    document = result.json()
    assert document["total_sheets"] == 5
    stages = [(s["stage"], s["instance"], s["dependencies"]) for s in document["sheets"]]
    assert stages == [(1, 1, []), (2, 1, [1]), (2, 2, [1]), (2, 3, [1]), (3, 1, [2, 3, 4])]
    assert {s["instrument"] for s in document["sheets"]} == {"cli"}
