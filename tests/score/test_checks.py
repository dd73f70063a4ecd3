from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from mzt.api import validate_score
from mzt.score.catalog import Catalog, load_catalog
from tests.helpers import minimal, write_score


def codes(tmp_path: Path, catalog: Catalog | None = None, **overrides: Any) -> dict[str, list]:
    result = validate_score(write_score(tmp_path, minimal(**overrides)), catalog=catalog)
    found: dict[str, list] = {}
    for issue in [*result.errors, *result.warnings]:
        found.setdefault(issue.code, []).append(issue)
    return found


def test_clean_score_has_only_the_no_validation_note(tmp_path: Path) -> None:
    assert set(codes(tmp_path, instrument="cli")) == {"V203"}


def test_v001_template_syntax(tmp_path: Path) -> None:
    [issue] = codes(tmp_path, prompt={"template": "a\n{% if x %}"})["V001"]
    assert (
        issue.severity == "error" and issue.path == "prompt.template" and "line 2" in issue.message
    )


def test_v002_workspace_parent(tmp_path: Path) -> None:
    [issue] = codes(tmp_path, workspace="nope/deeper/ws")["V002"]
    assert issue.severity == "warning" and "will create it" in issue.message


def test_v002_a_file_where_the_workspace_or_a_parent_should_be(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("")
    os.mkfifo(tmp_path / "p")
    [issue] = codes(tmp_path, workspace="f/ws")["V002"]
    assert issue.severity == "error" and f"{tmp_path / 'f'} is a regular file" in issue.message
    [issue] = codes(tmp_path, workspace="p")["V002"]
    assert issue.severity == "error" and "is a FIFO, not a folder" in issue.message
    assert "V002" not in codes(tmp_path, workspace="ws")


def test_v005_working_directory(tmp_path: Path) -> None:
    [issue] = codes(tmp_path, backend={"working_directory": "nowhere"})["V005"]
    assert (issue.severity, issue.path) == ("error", "backend.working_directory")
    assert f"{tmp_path / 'nowhere'} does not exist" in issue.message
    (tmp_path / "f").write_text("")
    [issue] = codes(tmp_path, instrument_config={"working_directory": str(tmp_path / "f")})["V005"]
    assert "is a regular file" in issue.message
    (tmp_path / "d").mkdir()
    assert "V005" not in codes(tmp_path, backend={"working_directory": "d"})
    assert "V005" not in codes(tmp_path, backend={"working_directory": "{{ workspace }}/x"})


def test_v011_instrument_and_backend_type_conflict(tmp_path: Path) -> None:
    [issue] = codes(tmp_path, instrument="cli", backend={"type": "anthropic_api"})["V011"]
    assert (issue.severity, issue.path) == ("error", "backend.type")
    assert "V011" not in codes(tmp_path, instrument="cli", backend={"type": "claude_cli"})


def test_v003_missing_template_file(tmp_path: Path) -> None:
    [issue] = codes(tmp_path, prompt={"template_file": "gone.j2"})["V003"]
    assert issue.severity == "error" and "gone.j2" in issue.message


def test_v004_system_prompt_file(tmp_path: Path) -> None:
    assert (
        codes(tmp_path, instrument_config={"system_prompt_file": "sys.md"})["V004"][0].severity
        == "error"
    )
    (tmp_path / "sys.md").write_text("x")
    assert "V004" not in codes(tmp_path, instrument_config={"system_prompt_file": "sys.md"})


def test_v007_v008_v106_rule_problems(tmp_path: Path) -> None:
    found = codes(
        tmp_path,
        validations=[
            {"type": "content_regex", "path": "{workspace}/a", "pattern": "(unclosed"},
            {"type": "content_contains", "path": "{workspace}/a"},
            {"type": "command_succeeds"},
            {"type": "content_contains", "path": "{workspace}/a", "pattern": ""},
        ],
    )
    assert found["V007"][0].path == "validations.0.pattern"
    assert {(i.path, i.severity) for i in found["V008"]} == {
        ("validations.1", "error"),
        ("validations.2", "error"),
        ("validations.3.pattern", "error"),  # empty: an error, as upstream, and V106 too
    }
    assert found["V106"][0].severity == "warning"


def test_v010_unknown_path_field(tmp_path: Path) -> None:
    [issue] = codes(
        tmp_path, validations=[{"type": "file_exists", "path": "{workspace}/{sheet}.md"}]
    )["V010"]
    assert issue.severity == "error" and "{sheet}" in issue.message


def test_v101_undefined_variable_with_suggestion(tmp_path: Path) -> None:
    found = codes(
        tmp_path, prompt={"template": "{{ sheet_nm }} {{ topik }}", "variables": {"topic": "x"}}
    )
    messages = {i.message: i.hint for i in found["V101"]}
    assert (
        messages["the template uses 'sheet_nm', which is not defined"]
        == "did you mean 'sheet_num'?"
    )
    assert messages["the template uses 'topik', which is not defined"] == "did you mean 'topic'?"
    assert all(i.severity == "warning" for i in found["V101"])


def test_v201_v202_brace_mixups(tmp_path: Path) -> None:
    found = codes(
        tmp_path,
        prompt={"template": "write to {workspace}/x and {{ workspace }} {not_a_var}"},
        validations=[{"type": "file_exists", "path": "{{ workspace }}/x"}],
    )
    assert len(found["V202"]) == 1 and "{workspace}" in found["V202"][0].message
    assert found["V201"][0].path == "validations.0.path"


def test_v103_v104_timeouts(tmp_path: Path) -> None:
    found = codes(
        tmp_path,
        instrument="cli",
        instrument_config={"timeout_seconds": 30, "timeout_overrides": {3: 10000}},
    )
    assert "sheets 1, 2" in found["V103"][0].message
    assert found["V104"][0].severity == "info"


def test_v203_v206_v207_fan_out_notes(tmp_path: Path) -> None:
    found = codes(tmp_path, sheet={"size": 1, "total_items": 3, "fan_out": {2: 2}})
    assert {"V203", "V206", "V207"} <= set(found)
    quiet = codes(
        tmp_path,
        sheet={"size": 1, "total_items": 3, "fan_out": {2: 2}, "dependencies": {2: [1], 3: [2]}},
        parallel={"enabled": True},
    )
    assert not {"V206", "V207"} & set(quiet)


def test_v208_shadowing(tmp_path: Path) -> None:
    [issue] = codes(
        tmp_path, prompt={"template": "{{ workspace }}", "variables": {"workspace": "x"}}
    )["V208"]
    assert issue.path == "prompt.variables.workspace"


def test_v210_v211_unknown_instruments(tmp_path: Path) -> None:
    found = codes(
        tmp_path,
        instrument="claude-cod",
        instrument_fallbacks=["gemini-cli", "nosuch"],
        instruments={"mine": {"profile": "codex"}},
    )
    by_message = {i.message: i for i in found["V210"]}
    top = by_message["unknown instrument 'claude-cod' (first used by sheet 1)"]
    assert (top.hint, top.path) == ("did you mean 'claude-code'?", "instrument")
    assert top.line is not None
    assert [i.message for i in found["V211"]] == [
        "unknown fallback instrument 'nosuch' (first used by sheet 1)"
    ]
    assert any("alias 'mine'" in i.message for i in found["V210"])


def test_user_profiles_are_known(tmp_path: Path, _isolated_home: Path) -> None:
    folder = _isolated_home / "instruments"
    folder.mkdir()
    (folder / "mine.yaml").write_text("name: my-agent\ndefault_timeout_seconds: 120\n")
    (folder / "broken.yaml").write_text("name: [unclosed\n")
    catalog = load_catalog()
    assert "my-agent" in catalog and catalog.default_timeout("my-agent") == 120
    assert "V210" not in codes(tmp_path, catalog=catalog, instrument="my-agent")


def test_v212_v213_v214_out_of_range_keys(tmp_path: Path) -> None:
    found = codes(
        tmp_path,
        sheet={
            "size": 1,
            "total_items": 3,
            "skip_when": {7: "True"},
            "descriptions": {9: "x"},
        },
        movements={5: {"name": "late"}},
    )
    assert found["V212"][0].path == "sheet.skip_when.7"
    assert found["V213"][0].path == "movements.5"
    assert found["V214"][0].path == "sheet.descriptions.9"


def test_v214_a_slurm_block_naming_a_missing_sheet(tmp_path: Path) -> None:
    found = codes(
        tmp_path,
        sheet={"size": 1, "total_items": 2},
        slurm={"sheets": {2: {"time_limit": "5"}, 4: {"partition": "gpu"}}},
    )
    assert [f.path for f in found["V214"]] == ["slurm.sheets.4"]


def test_v215_parallel_over_a_chain(tmp_path: Path) -> None:
    parallel = {"enabled": True, "max_concurrent": 4}
    chain = codes(tmp_path, sheet={"size": 1, "total_items": 4}, parallel=parallel)
    assert chain["V215"][0].path == "parallel.enabled"
    assert "each of the 4 sheets waits" in chain["V215"][0].message
    # With more than one slot the run never pauses between sheets, so V215 names no pause.
    assert "apart" not in chain["V215"][0].message
    # Independent sheets, a fan-out, a single sheet or parallel off: nothing to say.
    free = {"size": 1, "total_items": 4, "dependencies": {2: [], 3: [], 4: []}}
    assert "V215" not in codes(tmp_path, sheet=free, parallel=parallel)
    fanned = {"size": 1, "total_items": 2, "fan_out": {1: 3}}
    assert "V215" not in codes(tmp_path, sheet=fanned, parallel=parallel)
    assert "V215" not in codes(tmp_path, sheet={"size": 1, "total_items": 1}, parallel=parallel)
    assert "V215" not in codes(tmp_path, sheet={"size": 1, "total_items": 4})
    # A diamond (2 and 3 both after 1) can overlap.
    diamond = {"size": 1, "total_items": 4, "dependencies": {2: [1], 3: [1], 4: [2, 3]}}
    assert "V215" not in codes(tmp_path, sheet=diamond, parallel=parallel)


def test_v305_bad_skip_expression(tmp_path: Path) -> None:
    found = codes(
        tmp_path, sheet={"size": 1, "total_items": 2, "skip_when": {2: "__import__('os')"}}
    )
    assert found["V305"][0].severity == "error"


def test_v306_v307_conditions(tmp_path: Path) -> None:
    found = codes(
        tmp_path,
        validations=[
            {"type": "file_exists", "path": "{workspace}/a", "condition": "sheet_num in [1, 2]"},
            {"type": "file_exists", "path": "{workspace}/a", "condition": "sheet_num > 10"},
        ],
    )
    assert found["V306"][0].path == "validations.0.condition"
    assert found["V307"][0].path == "validations.1.condition"


def test_v301_v302_v303_accepted_but_unused(tmp_path: Path) -> None:
    found = codes(
        tmp_path,
        learning={"enabled": True},
        techniques={"t": {"kind": "skill"}},
        instrument_config={"temprature": 0.2},
        state_backend="sqlite",
        backend={"type": "ollama", "ollama": {"num_ctx": 8192, "dynamic_tools": True}},
    )
    paths = {"learning", "techniques", "backend.ollama.dynamic_tools"}
    assert {i.path for i in found["V301"]} == paths
    assert all("accepted, not used by mzt" in i.message for i in found["V301"])
    assert found["V302"][0].hint == "did you mean 'temperature'?"
    assert "V303" in found


def test_errors_carry_lines(tmp_path: Path) -> None:
    result = validate_score(
        write_score(
            tmp_path,
            "name: t\nsheet: {size: 1, total_items: 2}\nprompt: {template: x}\nvalidations:\n"
            "  - type: content_regex\n    path: '{workspace}/a'\n    pattern: '('\n",
        )
    )
    [issue] = result.errors
    assert (issue.code, issue.line) == ("V007", 7)


def test_hooks_and_concert_are_carried_out(tmp_path: Path) -> None:
    found = codes(
        tmp_path,
        on_success=[{"type": "run_command", "command": "true"}],
        concert={"enabled": True},
        notifications=[{"type": "desktop"}],
        workspace_lifecycle={"archive_on_fresh": True},
    )
    assert "V304" not in found


def test_upstream_like_chaining_scores_warn_about_no_hook_or_concert(tmp_path: Path) -> None:
    folder = Path(__file__).parent / "marianne"
    for name in ("codebase_rewrite.yaml", "issue_solver.yaml"):
        result = validate_score(folder / name, workspace=tmp_path / name)
        assert result.valid, name
        paths = {i.path.split(".")[0] for i in result.warnings if i.code == "V304"}
        assert not paths & {"on_success", "concert"}, name


def test_v012_format_width_over_the_bound(tmp_path: Path) -> None:
    found = codes(
        tmp_path,
        validations=[
            {"type": "file_exists", "path": "{workspace}/{sheet_num:>100000000}"},
            {"type": "command_succeeds", "command": "test -d {workspace:.99999}"},
            {"type": "command_succeeds", "command": "ls", "working_directory": "{workspace:<5000}"},
            {"type": "file_exists", "path": "{workspace}/{sheet_num:0>4096}"},
        ],
    )
    issues = found["V012"]
    assert {i.path for i in issues} == {
        "validations.0.path",
        "validations.1.command",
        "validations.2.working_directory",
    }
    assert all(i.severity == "error" and "4096" in i.message for i in issues)
    assert "V010" not in found


def test_v013_nested_literal_range_loops(tmp_path: Path) -> None:
    hostile = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
    [issue] = codes(tmp_path, prompt={"template": hostile})["V013"]
    assert issue.severity == "error" and issue.path == "prompt.template"
    assert "10,000,000,000" in issue.message and "1,000,000" in issue.message
    fine = "{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}"
    assert "V013" not in codes(tmp_path, prompt={"template": fine})
    dynamic = (
        "{% for i in range(total_sheets) %}{% for j in range(10**5) %}{% endfor %}{% endfor %}"
    )
    assert "V013" not in codes(tmp_path, prompt={"template": dynamic})
    three = "{% for a in range(200) %}{% for b in range(2, 202) %}{% for c in range(0, 60, 2) %}"
    three += "{% endfor %}{% endfor %}{% endfor %}"
    assert "V013" in codes(tmp_path, prompt={"template": three})


def test_v003_template_file_that_is_not_a_file(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "t.j2")
    prompt = {"template_file": "t.j2"}
    [issue] = codes(tmp_path, prompt=prompt)["V003"]
    assert "is a FIFO, not a regular file" in issue.message


def test_v008_and_v106_for_empty_and_blank_patterns(tmp_path: Path) -> None:
    found = codes(
        tmp_path,
        validations=[
            {"type": "content_contains", "path": "{workspace}/a", "pattern": ""},
            {"type": "content_regex", "path": "{workspace}/a", "pattern": "   "},
            {"type": "file_exists", "path": "  "},
            {"type": "command_succeeds", "command": "\t"},
            {"type": "content_contains", "path": "{workspace}/a", "pattern": " x "},
        ],
    )
    assert {(i.path, i.severity) for i in found["V008"]} == {
        ("validations.0.pattern", "error"),
        ("validations.1.pattern", "error"),
        ("validations.2.path", "error"),
        ("validations.3.command", "error"),
    }
    messages = {i.path: i.message for i in found["V008"]}
    assert messages["validations.0.pattern"].endswith("`pattern`, and this one is empty")
    assert messages["validations.1.pattern"].endswith("`pattern`, and this one is only blanks")
    assert {(i.path, i.severity) for i in found["V106"]} == {
        ("validations.0.pattern", "warning"),
        ("validations.1.pattern", "warning"),
    }


def test_v108_names_the_prelude_or_the_cadenza_sheet(tmp_path: Path) -> None:
    gone = str(tmp_path / "gone.md")
    found = codes(
        tmp_path,
        sheet={
            "size": 1,
            "total_items": 3,
            "prelude": [{"file": gone}],
            "cadenzas": {2: [{"directory": str(tmp_path / "nodir")}]},
        },
    )
    messages = sorted(i.message for i in found["V108"])
    assert messages == [
        f"the file {gone} injected by the prelude does not exist",
        f"the folder {tmp_path / 'nodir'} injected by the cadenza (sheet 2) does not exist",
    ]
    assert all(i.severity == "warning" for i in found["V108"])


def test_v205_only_file_exists_validations(tmp_path: Path) -> None:
    exists = {"type": "file_exists", "path": "{workspace}/a"}
    other = {"type": "file_exists", "path": "{workspace}/b"}
    [issue] = codes(tmp_path, instrument="cli", validations=[exists, other])["V205"]
    assert (issue.severity, issue.path) == ("info", "validations")
    assert "archive_on_fresh" in (issue.hint or "")
    content = {"type": "content_contains", "path": "{workspace}/a", "pattern": "x"}
    assert "V205" not in codes(tmp_path, instrument="cli", validations=[exists, content])
    assert "V205" not in codes(tmp_path, instrument="cli")  # no validations: V203 says it


def test_v204_v209_claude_code_settings_for_unattended_runs(tmp_path: Path) -> None:
    found = codes(tmp_path, backend={"skip_permissions": False, "disable_mcp": False})
    [v204] = found["V204"]
    assert (v204.severity, v204.path) == ("warning", "backend.skip_permissions")
    assert v204.message.startswith("sheets 1, 2, 3 run Claude Code with skip_permissions false")
    [v209] = found["V209"]
    assert (v209.severity, v209.path) == ("info", "backend.disable_mcp")
    # Any layer counts, and only the sheets that play Claude Code are named.
    found = codes(
        tmp_path,
        instrument="cli",
        instruments={"claude": {"profile": "claude-code", "config": {"skip_permissions": False}}},
        sheet={"size": 1, "total_items": 3, "per_sheet_instruments": {2: "claude"}},
    )
    [v204] = found["V204"]
    assert v204.path == "instruments.claude.config.skip_permissions"
    assert v204.message.startswith("sheet 2 runs Claude Code")
    # Other instruments have no such flags to drop; true (the default) is what is wanted.
    assert "V204" not in codes(tmp_path, instrument="cli", backend={"skip_permissions": False})
    assert not {"V204", "V209"} & set(codes(tmp_path, backend={"skip_permissions": True}))
    fallback = codes(
        tmp_path,
        instrument="cli",
        instrument_fallbacks=["claude_cli"],
        instrument_config={"disable_mcp": False},
    )
    assert fallback["V209"][0].path == "instrument_config.disable_mcp"
