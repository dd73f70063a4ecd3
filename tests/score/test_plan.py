from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from mzt.score.instrumentation import DEFAULT_TIMEOUT_SECONDS
from mzt.score.loader import load_score
from mzt.score.plan import Plan, build_plan
from mzt.support.errors import ScoreError
from tests.helpers import minimal, write_score

TIMEOUTS = {"cli": 300.0, "claude-code": 1800.0}


def plan_of(tmp_path: Path, **overrides: Any) -> Plan:
    loaded = load_score(write_score(tmp_path, minimal(**overrides)))
    return build_plan(loaded, default_timeout=TIMEOUTS.get)


def plan_error(tmp_path: Path, **overrides: Any) -> list:
    with pytest.raises(ScoreError) as info:
        plan_of(tmp_path, **overrides)
    return info.value.issues


def layout(plan: Plan) -> list[tuple[int, int, int, tuple[int, ...]]]:
    return [(s.num, s.stage, s.instance, s.dependencies) for s in plan.sheets]


def test_linear_default_chain(tmp_path: Path) -> None:
    plan = plan_of(tmp_path)
    assert layout(plan) == [(1, 1, 1, ()), (2, 2, 1, (1,)), (3, 3, 1, (2,))]
    assert plan.total_stages == 3


@pytest.mark.parametrize(
    ("size", "total", "start", "ranges"),
    [
        (1, 3, 1, [(1, 1), (2, 2), (3, 3)]),
        (5, 10, 1, [(1, 5), (6, 10)]),
        (5, 12, 1, [(1, 5), (6, 10), (11, 12)]),
        (5, 12, 3, [(3, 7), (8, 12)]),
        (4, 10, 4, [(4, 7), (8, 10)]),
        (10, 3, 1, [(1, 3)]),
        (1, 5, 5, [(5, 5)]),
    ],
)
def test_item_ranges(tmp_path: Path, size: int, total: int, start: int, ranges: list) -> None:
    plan = plan_of(tmp_path, sheet={"size": size, "total_items": total, "start_item": start})
    assert [(s.item_start, s.item_end) for s in plan.sheets] == ranges
    variables = plan.variables(plan.sheets[-1])
    assert (variables["start_item"], variables["end_item"]) == ranges[-1]


def test_fan_out_expansion_and_edges(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, sheet={"size": 1, "total_items": 3, "fan_out": {2: 3}})
    assert layout(plan) == [
        (1, 1, 1, ()),
        (2, 2, 1, (1,)),
        (3, 2, 2, (1,)),
        (4, 2, 3, (1,)),
        (5, 3, 1, (2, 3, 4)),
    ]
    assert [s.fan_count for s in plan.sheets] == [1, 3, 3, 3, 1]
    assert [(s.item_start, s.item_end) for s in plan.sheets][1] == (2, 2)


def test_n_to_n_and_n_to_m(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, sheet={"size": 1, "total_items": 3, "fan_out": {1: 2, 2: 2, 3: 3}})
    assert layout(plan) == [
        (1, 1, 1, ()),
        (2, 1, 2, ()),
        (3, 2, 1, (1,)),  # N→N: instance to instance
        (4, 2, 2, (2,)),
        (5, 3, 1, (3, 4)),  # N→M: all to all
        (6, 3, 2, (3, 4)),
        (7, 3, 3, (3, 4)),
    ]


def test_explicit_stage_dependencies_under_fan_out(tmp_path: Path) -> None:
    plan = plan_of(
        tmp_path,
        sheet={"size": 1, "total_items": 4, "fan_out": {2: 2}, "dependencies": {2: [1], 4: [2, 3]}},
    )
    # stage 3 (sheet 4) has no entry, so it starts at once
    assert layout(plan) == [
        (1, 1, 1, ()),
        (2, 2, 1, (1,)),
        (3, 2, 2, (1,)),
        (4, 3, 1, ()),
        (5, 4, 1, (2, 3, 4)),
    ]


def test_voices_are_fan_out_shorthand(tmp_path: Path) -> None:
    a = plan_of(tmp_path, movements={2: {"voices": 3}})
    b = plan_of(tmp_path, sheet={"size": 1, "total_items": 3, "fan_out": {2: 3}})
    assert layout(a) == layout(b)


def test_voices_conflicting_with_fan_out(tmp_path: Path) -> None:
    issues = plan_error(
        tmp_path,
        sheet={"size": 1, "total_items": 3, "fan_out": {2: 3}},
        movements={2: {"voices": 2}},
    )
    assert "voices" in issues[0].message


def test_pre_expanded_stage_map(tmp_path: Path) -> None:
    stage_map = {1: {"stage": 1, "instance": 1, "fan_count": 1}}
    stage_map.update({n: {"stage": 2, "instance": n - 1, "fan_count": 2} for n in (2, 3)})
    stage_map[4] = {"stage": 3, "instance": 1, "fan_count": 1}
    plan = plan_of(
        tmp_path,
        sheet={
            "size": 1,
            "total_items": 4,
            "fan_out_stage_map": stage_map,
            "dependencies": {2: [1], 3: [1], 4: [2, 3]},
        },
    )
    assert layout(plan) == [(1, 1, 1, ()), (2, 2, 1, (1,)), (3, 2, 2, (1,)), (4, 3, 1, (2, 3))]


@pytest.mark.parametrize(
    ("deps", "needle"),
    [
        ({1: [2], 2: [1]}, "cycle: sheet 1 → 2 → 1"),
        ({1: [3], 2: [1], 3: [2]}, "cycle"),
        ({2: [2]}, "depends on itself"),
        ({2: [7]}, "sheet 7 does not exist (the score has 3 sheets)"),
        ({9: [1]}, "sheet 9 does not exist"),
    ],
)
def test_graph_errors(tmp_path: Path, deps: dict, needle: str) -> None:
    issues = plan_error(tmp_path, sheet={"size": 1, "total_items": 3, "dependencies": deps})
    assert any(needle in i.message for i in issues), issues
    assert all(i.code == "PLAN" and i.path.startswith("sheet.dependencies") for i in issues)


def test_fan_out_stage_out_of_range(tmp_path: Path) -> None:
    issues = plan_error(tmp_path, sheet={"size": 1, "total_items": 3, "fan_out": {5: 2}})
    assert "stage 5 does not exist" in issues[0].message
    assert issues[0].path == "sheet.fan_out.5"


def test_stage_word_under_fan_out(tmp_path: Path) -> None:
    issues = plan_error(
        tmp_path, sheet={"size": 1, "total_items": 3, "fan_out": {2: 2}, "dependencies": {3: [4]}}
    )
    assert "stage 4 does not exist (the score has 3 stages)" in issues[0].message


def test_large_fan_out_is_fast_enough_to_plan(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, sheet={"size": 1, "total_items": 3, "fan_out": {2: 10_000}})
    assert plan.total_sheets == 10_002
    assert plan.sheet(10_002).dependencies == tuple(range(2, 10_002))


def test_instrument_precedence(tmp_path: Path) -> None:
    plan = plan_of(
        tmp_path,
        sheet={
            "size": 1,
            "total_items": 5,
            "per_sheet_instruments": {1: "aider"},
            "instrument_map": {"goose": [1, 2]},
        },
        movements={2: {"instrument": "codex-cli"}, 3: {"instrument": "gemini-cli"}},
        instrument="claude-code",
        backend={"type": "claude_cli"},
    )
    assert [s.instrument.name for s in plan.sheets] == [
        "aider",
        "goose",
        "gemini-cli",
        "claude-code",
        "claude-code",
    ]


def test_stages_without_a_movement_share_one_instrument_choice(tmp_path: Path) -> None:
    plan = plan_of(
        tmp_path,
        sheet={"size": 1, "total_items": 4},
        movements={3: {"instrument_config": {"timeout_seconds": 5}}},
        instrument="cli",
    )
    first, second, third, fourth = (s.instrument for s in plan.sheets)
    assert first is second is fourth  # one object held for a chain of any length
    assert third.timeout_seconds == 5.0 and first.timeout_seconds == 300.0


def test_backend_type_when_no_instrument(tmp_path: Path) -> None:
    assert plan_of(tmp_path).sheet(1).instrument.name == "claude_cli"
    assert plan_of(tmp_path, backend={"type": "cli"}).sheet(1).instrument.name == "cli"


def test_alias_and_config_merge_order(tmp_path: Path) -> None:
    plan = plan_of(
        tmp_path,
        instrument="fast",
        instruments={
            "fast": {"profile": "claude-code", "config": {"model": "haiku", "disable_mcp": False}}
        },
        instrument_config={"model": "opus", "skip_permissions": True, "timeout_seconds": 900},
        movements={2: {"instrument_config": {"model": "sonnet", "extra": 1}}},
        sheet={
            "size": 1,
            "total_items": 3,
            "per_sheet_instrument_config": {3: {"cli_model": "custom"}},
        },
    )
    s1, s2, s3 = plan.sheets
    assert (s1.instrument.name, s1.instrument.profile) == ("fast", "claude-code")
    assert dict(s1.instrument.config) == {
        "model": "haiku",
        "skip_permissions": True,
        "timeout_seconds": 900,
        "disable_mcp": False,
    }
    assert s2.instrument.config["model"] == "haiku"  # alias config beats movement config
    assert s2.instrument.config["extra"] == 1
    assert s3.instrument.model == "custom"  # per-sheet config wins, cli_model read as model
    assert "cli_model" not in s3.instrument.config


def test_cli_model_alias_in_alias_config(tmp_path: Path) -> None:
    plan = plan_of(
        tmp_path,
        instrument="g",
        instruments={"g": {"profile": "gemini-cli", "config": {"cli_model": "flash"}}},
    )
    assert plan.sheet(1).instrument.model == "flash"


def test_backend_settings_are_the_lowest_layer(tmp_path: Path) -> None:
    plan = plan_of(
        tmp_path,
        backend={"cli_model": "old", "disable_mcp": False},
        instrument_config={"model": "new"},
    )
    config = plan.sheet(1).instrument.config
    assert config["model"] == "new" and config["disable_mcp"] is False


def test_fallback_chain_precedence_and_fresh_model(tmp_path: Path) -> None:
    plan = plan_of(
        tmp_path,
        instrument="claude-code",
        instrument_config={"model": "opus"},
        instrument_fallbacks=["gemini-cli", "codex-cli"],
        movements={2: {"instrument_fallbacks": ["aider"]}},
        sheet={"size": 1, "total_items": 3, "per_sheet_fallbacks": {3: []}},
    )
    assert [f.name for f in plan.sheet(1).fallbacks] == ["gemini-cli", "codex-cli"]
    assert [f.name for f in plan.sheet(2).fallbacks] == ["aider"]
    assert plan.sheet(3).fallbacks == ()
    assert plan.sheet(1).fallbacks[0].model is None  # a fallback brings its own default model
    assert plan.sheet(1).instrument.model == "opus"


def test_timeout_precedence(tmp_path: Path) -> None:
    plan = plan_of(
        tmp_path,
        instrument="cli",
        sheet={
            "size": 1,
            "total_items": 6,
            "per_sheet_instrument_config": {1: {"timeout_seconds": 11}},
        },
        instrument_config={"timeout_seconds": 99, "timeout_overrides": {1: 22, 2: 33}},
        backend={
            "timeout_overrides": {2: 44, 3: 55},
            "sheet_overrides": {4: {"timeout_seconds": 66}},
        },
    )
    # per-sheet settings (whatever their block) beat the general instrument_config timeout
    assert [s.instrument.timeout_seconds for s in plan.sheets] == [11, 33, 55, 66, 99, 99]


def test_timeout_defaults(tmp_path: Path) -> None:
    assert plan_of(tmp_path, instrument="cli").sheet(1).instrument.timeout_seconds == 300
    assert plan_of(tmp_path, instrument="claude-code").sheet(1).instrument.timeout_seconds == 1800
    assert (
        plan_of(tmp_path, instrument="unknown-x").sheet(1).instrument.timeout_seconds
        == DEFAULT_TIMEOUT_SECONDS
    )
    assert (
        plan_of(tmp_path, instrument="cli", backend={"timeout_seconds": 42})
        .sheet(1)
        .instrument.timeout_seconds
        == 42
    )


def test_validation_applicability(tmp_path: Path) -> None:
    rules = [
        {"type": "file_exists", "path": "{workspace}/a"},
        {"type": "file_exists", "path": "{workspace}/b", "condition": "sheet_num >= 2"},
        {"type": "file_exists", "path": "{workspace}/c", "sheet": 3},
        {
            "type": "file_exists",
            "path": "{workspace}/d",
            "condition": "stage == 2 and instance == 2",
        },
        {
            "type": "file_exists",
            "path": "{workspace}/e",
            "condition": "limit == 3 and sheet_num == 4",
        },
    ]
    plan = plan_of(
        tmp_path,
        validations=rules,
        sheet={"size": 1, "total_items": 3, "fan_out": {2: 2}},
        prompt={"template": "x", "variables": {"limit": 3}},
    )
    assert [s.validations for s in plan.sheets] == [(0,), (0, 1), (0, 1, 2, 3), (0, 1, 4)]


def test_skip_rules_and_injections_follow_stages(tmp_path: Path) -> None:
    plan = plan_of(
        tmp_path,
        sheet={
            "size": 1,
            "total_items": 3,
            "fan_out": {2: 2},
            "skip_when": {2: "job.x"},
            "skip_when_command": {3: {"command": "true"}},
            "prelude": [{"file": "p.md"}],
            "cadenzas": {2: [{"file": "c.md", "as": "skill"}]},
            "descriptions": {1: "first"},
        },
        prompt={"template": "x", "prompt_extensions": ["be brief"]},
    )
    assert [s.skip_when for s in plan.sheets] == [None, "job.x", "job.x", None]
    assert plan.sheet(4).skip_when_command is not None
    assert [len(s.injections) for s in plan.sheets] == [1, 2, 1, 1]
    assert plan.sheet(1).description == "first"
    assert plan.sheet(2).prompt_extensions == ("be brief",)


def test_plan_is_immutable(tmp_path: Path) -> None:
    plan = plan_of(tmp_path)
    with pytest.raises(AttributeError):
        plan.sheets[0].num = 5  # type: ignore[misc]
    with pytest.raises(TypeError):
        plan.sheets[0].instrument.config["model"] = "x"  # type: ignore[index]


def test_all_to_all_fan_out_over_the_edge_bound_is_refused_quickly(tmp_path: Path) -> None:
    """Two stages of 40,000 and 50,000 instances wait all-to-all: two billion edges."""
    started = time.monotonic()
    issues = plan_error(
        tmp_path, sheet={"size": 1, "total_items": 2, "fan_out": {1: 40_000, 2: 50_000}}
    )
    assert time.monotonic() - started < 10
    assert "2,000,000,000 dependency edges" in issues[0].message
    assert "1,000,000" in issues[0].message


def test_edges_up_to_the_bound_are_planned(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, sheet={"size": 1, "total_items": 2, "fan_out": {1: 100, 2: 200}})
    assert plan.sheet(101).dependencies == tuple(range(1, 101))
