"""Scores written the way Marianne's own examples are load unchanged and expand correctly.

Each file under ``tests/score/marianne/`` mimics one upstream example (its name says
which). The expected layouts below were worked out by hand from the expansion rules:
stage s with fan-out c becomes c consecutive sheets; a stage edge S→T expands as
1→1 sheet to sheet, 1→N every instance on the one source, N→1 the one target on all
instances, N→N instance i on instance i, N→M (N≠M) all to all; with no `dependencies`
each stage waits for the whole previous stage; with `dependencies`, a stage without
an entry waits for nothing. Instrument resolution follows: per_sheet_instruments >
instrument_map > movement > instrument > backend.type, aliases substituted, settings
merged score → movement → alias → per-sheet, `cli_model` read as `model`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mzt import api
from mzt.score.plan import Plan, SheetPlan
from tests.score.score_cli import MARIANNE, assert_validate_document, run_in_process, run_mzt

Layout = list[tuple[int, int, tuple[int, ...]]]  # per sheet: (stage, instance, dependencies)


def chain(n: int) -> Layout:
    """n solo stages, each waiting for the one before."""
    return [(s, 1, (s - 1,) if s > 1 else ()) for s in range(1, n + 1)]


LAYOUTS: dict[str, Layout] = {
    # fan_out {2: 3}, deps 2←1, 3←2: 1→N then N→1.
    "hello_marianne.yaml": [
        (1, 1, ()),
        (2, 1, (1,)),
        (2, 2, (1,)),
        (2, 3, (1,)),
        (3, 1, (2, 3, 4)),
    ],
    # fan_out {2: 3, 3: 3}: stage 3 instance i waits for stage 2 instance i (N→N).
    "dialectic.yaml": [
        (1, 1, ()),
        (2, 1, (1,)),
        (2, 2, (1,)),
        (2, 3, (1,)),
        (3, 1, (2,)),
        (3, 2, (3,)),
        (3, 3, (4,)),
        (4, 1, (5, 6, 7)),
        (5, 1, (8,)),
    ],
    # No fan-out: sheet-level edges as written (1→1), including a diamond.
    "instrument_showcase.yaml": [
        (1, 1, ()),
        (2, 1, (1,)),
        (3, 1, (1,)),
        (4, 1, (2, 3)),
        (5, 1, (4,)),
        (6, 1, (5,)),
    ],
    "codebase_rewrite.yaml": [
        (1, 1, ()),
        (2, 1, (1,)),
        (3, 1, (2,)),
        (4, 1, (2,)),
        (5, 1, (3, 4)),
        (6, 1, (5,)),
        (7, 1, (6,)),
        (8, 1, (6,)),
        (9, 1, (7, 8)),
    ],
    # 17 stages, fan_out {12: 3}: sheets 12-14 are stage 12; stages 13-17 are sheets 15-19.
    "issue_solver.yaml": [
        *chain(11),
        (12, 1, (11,)),
        (12, 2, (11,)),
        (12, 3, (11,)),
        (13, 1, (12, 13, 14)),
        (14, 1, (15,)),
        (15, 1, (16,)),
        (16, 1, (17,)),
        (17, 1, (18,)),
    ],
    # fan_out {1: 6, 3: 7, 6: 3, 8: 4}; stage 5 has no entry (starts at once);
    # 6←[4, 5] (1→N twice); 8←[6, 7]: 3→4 all-to-all plus 1→N.
    "project_roadmap.yaml": [
        *[(1, i, ()) for i in range(1, 7)],
        (2, 1, (1, 2, 3, 4, 5, 6)),
        *[(3, i, (7,)) for i in range(1, 8)],
        (4, 1, (8, 9, 10, 11, 12, 13, 14)),
        (5, 1, ()),
        (6, 1, (15, 16)),
        (6, 2, (15, 16)),
        (6, 3, (15, 16)),
        (7, 1, (17, 18, 19)),
        *[(8, i, (17, 18, 19, 20)) for i in range(1, 5)],
    ],
    "trader_market_open.yaml": [
        (1, 1, ()),
        (2, 1, (1,)),
        (2, 2, (1,)),
        (3, 1, (2, 3)),
        (4, 1, (4,)),
        (5, 1, (5,)),
        (6, 1, (6,)),
    ],
    # No dependencies: the default chain.
    "trader_midday.yaml": chain(4),
    "simple_sheet.yaml": chain(2),
    "batch_item_ranges.yaml": chain(2),
    "legacy_backend.yaml": chain(3),
    # No dependencies under fan-out: the default chain is by stage.
    "worktree_isolation.yaml": [
        (1, 1, ()),
        (2, 1, (1,)),
        (2, 2, (1,)),
        (2, 3, (1,)),
        (3, 1, (2, 3, 4)),
    ],
    "observability_demo.yaml": chain(3),
    # movements.2.voices: 4 and movements.3.voices: 2 act as fan_out; 4→2 is all-to-all.
    "movement_voices.yaml": [
        (1, 1, ()),
        *[(2, i, (1,)) for i in range(1, 5)],
        (3, 1, (2, 3, 4, 5)),
        (3, 2, (2, 3, 4, 5)),
        (4, 1, (6, 7)),
    ],
    "prelude_cadenza.yaml": [(1, 1, ()), (2, 1, (1,)), (3, 1, (1, 2))],
    # fan_out {2: 3, 3: 4, 4: 2}: 3→4 and 4→2 all-to-all; 5←[1, 4] mixes 1→1 and N→1.
    "lovable_generator.yaml": [
        (1, 1, ()),
        *[(2, i, (1,)) for i in range(1, 4)],
        *[(3, i, (2, 3, 4)) for i in range(1, 5)],
        (4, 1, (5, 6, 7, 8)),
        (4, 2, (5, 6, 7, 8)),
        (5, 1, (1, 9, 10)),
    ],
    "api_backend.yaml": [(1, 1, ()), (2, 1, (1,)), (3, 1, (1, 2))],
}
MARIANNE_FILES = sorted(p.name for p in MARIANNE.glob("*.yaml"))


def plan_of(name: str) -> Plan:
    result = api.validate_score(MARIANNE / name)
    assert result.valid, [e.render(result.source) for e in result.errors]
    assert result.plan is not None
    return result.plan


def config(sheet: SheetPlan) -> dict[str, Any]:
    return dict(sheet.instrument.config)


def test_every_file_has_a_layout() -> None:
    assert sorted(LAYOUTS) == MARIANNE_FILES
    assert len(MARIANNE_FILES) >= 8


@pytest.mark.parametrize("name", MARIANNE_FILES)
def test_score_validates_through_the_cli(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_in_process(["validate", "--json", MARIANNE / name], capsys)
    assert code == 0, out
    document = json.loads(out)
    assert_validate_document(document, valid=True)
    assert document["total_sheets"] == len(LAYOUTS[name])
    assert "Traceback" not in err


def test_installed_command_accepts_a_marianne_score(tmp_path: Path) -> None:
    result = run_mzt("validate", MARIANNE / "project_roadmap.yaml", home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "24 sheets in 8 stages" in result.stdout


@pytest.mark.parametrize("name", MARIANNE_FILES)
def test_expansion_matches_the_rules(name: str) -> None:
    plan = plan_of(name)
    layout = [(s.stage, s.instance, s.dependencies) for s in plan.sheets]
    assert layout == LAYOUTS[name]
    assert [s.num for s in plan.sheets] == list(range(1, len(layout) + 1))
    for sheet in plan.sheets:
        assert sheet.fan_count == sum(1 for s in plan.sheets if s.stage == sheet.stage)
    assert plan.total_stages == max(stage for stage, _, _ in LAYOUTS[name])


def test_item_ranges_follow_size_and_start_item() -> None:
    ranges = [(s.item_start, s.item_end) for s in plan_of("batch_item_ranges.yaml").sheets]
    assert ranges == [(3, 7), (8, 12)]
    ranges = [(s.item_start, s.item_end) for s in plan_of("simple_sheet.yaml").sheets]
    assert ranges == [(1, 5), (6, 10)]


def test_item_ranges_with_a_short_last_batch(tmp_path: Path) -> None:
    text = (MARIANNE / "batch_item_ranges.yaml").read_text(encoding="utf-8")
    path = tmp_path / "short.yaml"
    path.write_text(text.replace("total_items: 12", "total_items: 13"), encoding="utf-8")
    result = api.validate_score(path)
    assert result.plan is not None
    assert [(s.item_start, s.item_end) for s in result.plan.sheets] == [(3, 7), (8, 12), (13, 13)]


def test_item_ranges_reach_the_prompt() -> None:
    result = api.validate_score(MARIANNE / "batch_item_ranges.yaml")
    assert result.loaded and result.plan and result.workspace
    preview = api.preview_prompt(result.loaded, result.plan, result.plan.sheet(2), result.workspace)
    assert preview.text is not None
    assert "descriptions 8 through 12" in preview.text
    assert "/out/008-012.csv" in preview.text


def test_voice_vocabulary_renders() -> None:
    result = api.validate_score(MARIANNE / "hello_marianne.yaml")
    assert result.loaded and result.plan and result.workspace
    sheet = result.plan.sheet(3)
    preview = api.preview_prompt(result.loaded, result.plan, sheet, result.workspace)
    assert preview.text is not None
    assert "movement 2 of 3" in preview.text
    assert "voice 2 of 3" in preview.text
    assert "about summer" in preview.text


def test_default_instrument_is_claude_cli() -> None:
    for sheet in plan_of("hello_marianne.yaml").sheets:
        assert (sheet.instrument.name, sheet.instrument.profile) == ("claude_cli", "claude_cli")
        assert sheet.instrument.timeout_seconds == 1800
        assert sheet.fallbacks == ()


class TestInstrumentShowcase:
    """instrument_showcase.yaml exercises every level of the precedence."""

    @pytest.fixture
    def plan(self) -> Plan:
        return plan_of("instrument_showcase.yaml")

    def test_names_and_profiles(self, plan: Plan) -> None:
        chosen = [(s.instrument.name, s.instrument.profile) for s in plan.sheets]
        assert chosen == [
            ("claude-code", "claude-code"),  # top-level instrument (movement 1 names none)
            ("quick", "gemini-cli"),  # movement 2 → alias
            ("deep-thinker", "claude-code"),  # movement 3 → alias
            ("codex-cli", "codex-cli"),  # instrument_map beats movement 4
            ("gemini-cli", "gemini-cli"),  # per_sheet_instruments beats map and movement 5
            ("claude-code", "claude-code"),  # top-level again
        ]

    def test_backend_block_settings_are_inherited(self, plan: Plan) -> None:
        first = config(plan.sheet(1))
        assert first["output_format"] == "json"
        assert first["disable_mcp"] is True
        assert first["skip_permissions"] is True

    def test_timeouts(self, plan: Plan) -> None:
        timeouts = [s.instrument.timeout_seconds for s in plan.sheets]
        # instrument_config (1200) beats backend.timeout_seconds (2400); the movement's
        # config (900) beats the score's; the per-sheet config (5400) beats the alias (3600).
        assert timeouts == [1200, 900, 5400, 1200, 1200, 1200]

    def test_models(self, plan: Plan) -> None:
        models = [s.instrument.model for s in plan.sheets]
        # cli_model in the alias config is read as model; the per-sheet config sets sheet 6.
        assert models == [
            None,
            "gemini-2.5-flash",
            "claude-opus-4-1",
            None,
            None,
            "claude-haiku-4-5",
        ]
        assert all("cli_model" not in s.instrument.config for s in plan.sheets)

    def test_fallback_chains(self, plan: Plan) -> None:
        chains = [[f.name for f in s.fallbacks] for s in plan.sheets]
        assert chains == [
            ["anthropic_api"],
            ["anthropic_api"],
            ["gemini-cli"],  # the movement's chain replaces the score's
            ["anthropic_api"],
            ["anthropic_api"],
            [],  # per_sheet_fallbacks: [] turns fallbacks off
        ]
        # A fallback runs with its own default model, not the primary's override.
        assert plan.sheet(3).fallbacks[0].model is None

    def test_descriptions_and_movement_names(self, plan: Plan) -> None:
        assert plan.sheet(3).description == "Analyse the riskiest module"
        assert [s.movement for s in plan.sheets] == [
            "Setup",
            "Survey",
            "Analysis",
            "Critique",
            "Synthesis",
            "Report",
        ]

    def test_validations_follow_conditions(self, plan: Plan) -> None:
        assert [s.validations for s in plan.sheets] == [(0,), (1,), (2,), (), (), (3,)]


def test_aliases_named_like_their_profiles() -> None:
    plan = plan_of("project_roadmap.yaml")
    sheet8, sheet17, sheet1 = plan.sheet(8), plan.sheet(17), plan.sheet(1)
    assert (sheet8.instrument.name, sheet8.instrument.profile) == ("gemini-cli", "gemini-cli")
    assert sheet8.instrument.timeout_seconds == 1500  # the alias's config
    assert (sheet17.instrument.profile, sheet17.instrument.model) == (
        "opencode",
        "qwen/qwen3-coder",
    )
    assert sheet17.instrument.timeout_seconds == 1200
    assert sheet1.instrument.timeout_seconds == 2400  # the claude-code alias
    # Fallbacks named after aliases carry the alias's settings too.
    by_name = {f.name: f for f in sheet1.fallbacks}
    assert [f.name for f in sheet1.fallbacks] == ["gemini-cli", "opencode"]
    assert by_name["opencode"].model == "qwen/qwen3-coder"
    assert by_name["gemini-cli"].timeout_seconds == 1500


def test_cli_alias_and_cli_model() -> None:
    plan = plan_of("trader_market_open.yaml")
    profiles = [s.instrument.profile for s in plan.sheets]
    expected = ["cli", "claude-code", "gemini-cli", "claude-code", "claude-code", "claude-code"]
    assert profiles == [*expected, "cli"]
    assert plan.sheet(3).instrument.model == "gemini-2.5-pro"  # alias config `cli_model`
    assert plan.sheet(1).instrument.timeout_seconds == 300
    assert plan.sheet(3).instrument.timeout_seconds == 900
    # `sheet: 5` and `condition:` pick the sheets each rule applies to.
    assert [s.validations for s in plan.sheets] == [(0,), (1,), (1,), (), (2,), (), (3,)]
    assert all(len(s.injections) == 2 for s in plan.sheets)  # the prelude reaches every sheet


def test_movement_instrument_cli() -> None:
    plan = plan_of("trader_midday.yaml")
    assert [s.instrument.name for s in plan.sheets] == ["cli", "claude-code", "claude-code", "cli"]
    assert [s.instrument.profile for s in plan.sheets] == [
        "cli",
        "claude-code",
        "claude-code",
        "cli",
    ]
    assert [s.instrument.timeout_seconds for s in plan.sheets] == [120, 900, 900, 120]


def test_bash_expansions_in_commands_pass_through() -> None:
    from mzt.score.fields import substitute_command

    result = api.validate_score(MARIANNE / "trader_midday.yaml")
    assert result.loaded is not None
    command = result.loaded.score.validations[0].command
    assert command is not None
    shell, env = substitute_command(command, {"workspace": "/w"})
    assert "${TRADER_API_KEY:?TRADER_API_KEY is not set}" in shell
    assert "{workspace}" not in shell and env == {"MZT_V_workspace": "/w"}
    awk = result.loaded.score.validations[1].command or ""
    assert "'{print $1}'" in substitute_command(awk, {"workspace": "/w"})[0]


def test_backend_type_when_no_instrument() -> None:
    plan = plan_of("legacy_backend.yaml")
    assert {(s.instrument.name, s.instrument.profile) for s in plan.sheets} == {
        ("anthropic_api", "anthropic_api")
    }
    # backend.timeout_seconds, then backend.timeout_overrides, then backend.sheet_overrides.
    assert [s.instrument.timeout_seconds for s in plan.sheets] == [900, 1500, 300]
    models = [s.instrument.model for s in plan.sheets]
    assert models == ["claude-sonnet-4-5", "claude-sonnet-4-5", "claude-haiku-4-5"]
    assert plan.sheet(1).instrument.config.get("max_tokens") == 4096


def test_http_instrument_with_fallback() -> None:
    plan = plan_of("api_backend.yaml")
    first = plan.sheet(1)
    assert (first.instrument.name, first.instrument.model) == ("anthropic_api", "claude-sonnet-4-5")
    assert first.instrument.config["api_key_env"] == "ANTHROPIC_API_KEY"
    assert first.instrument.config["max_tokens"] == 8192
    assert [(f.name, f.model) for f in first.fallbacks] == [("claude-code", None)]


def test_timeout_overrides_and_stage_keyed_skip_commands() -> None:
    plan = plan_of("issue_solver.yaml")
    timeouts = {s.num: s.instrument.timeout_seconds for s in plan.sheets}
    assert {n for n, t in timeouts.items() if t == 3600} == {12, 13, 14}
    assert {t for n, t in timeouts.items() if n not in (12, 13, 14)} == {1800}
    skipping = {s.num for s in plan.sheets if s.skip_when_command is not None}
    assert skipping == {5, 12, 13, 14}  # stage 12's command is copied to every voice
    assert plan.sheet(13).skip_when_command == plan.sheet(12).skip_when_command
    assert [f.name for f in plan.sheet(1).fallbacks] == ["goose"]
    assert plan.sheet(12).validations == (1, 2)
    assert plan.sheet(15).validations == (3,)


def test_prelude_and_cadenzas_are_attached_per_sheet() -> None:
    plan = plan_of("prelude_cadenza.yaml")
    kinds = [[(i.as_, bool(i.directory)) for i in s.injections] for s in plan.sheets]
    assert kinds == [
        [("context", False), ("skill", False)],
        [("context", False), ("skill", False), ("context", False), ("tool", False)],
        [("context", False), ("skill", False), ("context", True)],
    ]


def test_peripheral_blocks_are_accepted() -> None:
    result = api.validate_score(MARIANNE / "codebase_rewrite.yaml")
    assert result.loaded is not None
    score = result.loaded.score
    assert score.on_success[0].type == "run_job" and score.on_success[0].detached
    assert score.on_success[0].fresh
    assert score.concert.enabled and score.concert.max_chain_depth == 8
    assert score.workspace_lifecycle.archive_on_fresh
    demo = api.validate_score(MARIANNE / "observability_demo.yaml")
    assert demo.loaded is not None
    assert [n.type for n in demo.loaded.score.notifications] == ["desktop", "webhook", "slack"]
    assert demo.loaded.score.state_backend == "json"
    assert demo.loaded.score.cost_limits.active
    unused = sorted(w.path for w in demo.warnings if w.code == "V301")
    assert unused == ["checkpoints", "learning"]  # accepted, reported as not used by mzt
    assert all("not used" in w.message for w in demo.warnings if w.code == "V301")
    isolation = api.validate_score(MARIANNE / "worktree_isolation.yaml")
    assert isolation.loaded is not None
    assert isolation.loaded.score.isolation.enabled
    assert isolation.loaded.score.isolation.branch_prefix == "mzt-fix"


# --- precedence corner cases, each in a small generated score -------------------------------

BASE = """\
name: precedence
sheet:
  size: 1
  total_items: 4
prompt:
  template: "step {{ sheet_num }}"
"""


def plan_from(tmp_path: Path, extra: str) -> Plan:
    path = tmp_path / "score.yaml"
    path.write_text(BASE + extra, encoding="utf-8")
    result = api.validate_score(path)
    assert result.valid, [e.render(result.source) for e in result.errors]
    assert result.plan is not None
    return result.plan


def test_settings_merge_score_movement_alias_per_sheet(tmp_path: Path) -> None:
    path = tmp_path / "merge.yaml"
    path.write_text(
        """\
name: merge
instrument: claude-code
instrument_config: {temperature: 0.1, max_tokens: 100}
instruments:
  tuned: {profile: claude-code, config: {temperature: 0.3}}
movements:
  2: {instrument_config: {temperature: 0.2}}
  3: {instrument: tuned, instrument_config: {temperature: 0.2}}
  4: {instrument: tuned, instrument_config: {temperature: 0.2}}
sheet:
  size: 1
  total_items: 4
  per_sheet_instrument_config:
    4: {temperature: 0.4}
prompt:
  template: "step {{ sheet_num }}"
""",
        encoding="utf-8",
    )
    result = api.validate_score(path)
    assert result.plan is not None
    temperatures = [s.instrument.config["temperature"] for s in result.plan.sheets]
    # score (0.1) < movement (0.2) < alias (0.3) < per-sheet (0.4); untouched keys stay.
    assert temperatures == [0.1, 0.2, 0.3, 0.4]
    assert {s.instrument.config["max_tokens"] for s in result.plan.sheets} == {100}


def test_cli_model_and_model(tmp_path: Path) -> None:
    plan = plan_from(
        tmp_path,
        """\
instrument: claude-code
instrument_config: {model: score-model}
instruments:
  old: {profile: claude-code, config: {cli_model: alias-old-spelling}}
  both: {profile: claude-code, config: {cli_model: loses, model: wins}}
movements:
  2: {instrument: old}
  3: {instrument: both}
  4: {instrument_config: {cli_model: movement-old-spelling}}
""",
    )
    assert [s.instrument.model for s in plan.sheets] == [
        "score-model",
        "alias-old-spelling",
        "wins",
        "movement-old-spelling",
    ]


def test_fallback_precedence(tmp_path: Path) -> None:
    plan = plan_from(
        tmp_path,
        """\
instrument: claude-code
instrument_fallbacks: [gemini-cli]
movements:
  2: {instrument_fallbacks: [codex-cli, goose]}
  3: {instrument_fallbacks: []}
""",
    )
    chains = [[f.name for f in s.fallbacks] for s in plan.sheets]
    # per-sheet beats movement beats score; an empty movement list keeps the score's chain.
    assert chains == [["gemini-cli"], ["codex-cli", "goose"], ["gemini-cli"], ["gemini-cli"]]
    path = tmp_path / "per_sheet.yaml"
    path.write_text(
        BASE.replace(
            "  total_items: 4\n",
            "  total_items: 4\n  per_sheet_fallbacks:\n    2: [aider]\n    4: []\n",
        )
        + "instrument: claude-code\ninstrument_fallbacks: [gemini-cli]\n"
        + "movements:\n  2: {instrument_fallbacks: [codex-cli]}\n",
        encoding="utf-8",
    )
    result = api.validate_score(path)
    assert result.plan is not None
    chains = [[f.name for f in s.fallbacks] for s in result.plan.sheets]
    assert chains == [["gemini-cli"], ["aider"], ["gemini-cli"], []]


def test_backend_type_is_the_last_resort(tmp_path: Path) -> None:
    plan = plan_from(tmp_path, "backend: {type: ollama}\nmovements:\n  2: {instrument: aider}\n")
    assert [s.instrument.name for s in plan.sheets] == ["ollama", "aider", "ollama", "ollama"]


def test_backend_ollama_settings_configure_the_ollama_instrument_only(tmp_path: Path) -> None:
    plan = plan_from(
        tmp_path,
        "backend:\n  type: ollama\n  timeout_seconds: 900\n  ollama:\n"
        "    base_url: http://gpu-box:11434\n    model: qwen2.5-coder:7b\n"
        "    num_ctx: 16384\n    keep_alive: 10m\n    timeout_seconds: 300\n"
        "    dynamic_tools: true\n"
        "movements:\n  2: {instrument: aider}\n"
        "instrument_config: {num_ctx: 8192}\n",
    )
    sheet = plan.sheet(1).instrument
    assert sheet.model == "qwen2.5-coder:7b"
    assert sheet.config["base_url"] == "http://gpu-box:11434"
    assert sheet.config["keep_alive"] == "10m"
    assert sheet.config["num_ctx"] == 8192  # instrument_config is above the backend block
    assert sheet.timeout_seconds == 300
    other = plan.sheet(2).instrument
    assert other.name == "aider" and "base_url" not in other.config
    assert other.model is None and other.timeout_seconds == 900


def test_backend_ollama_settings_are_checked(tmp_path: Path) -> None:
    path = tmp_path / "score.yaml"
    path.write_text(BASE + "backend:\n  type: ollama\n  ollama: {num_ctx: lots}\n")
    result = api.validate_score(path)
    assert not result.valid
    assert any("num_ctx" in e.render(result.source) for e in result.errors)


# --- Jinja idioms and precedence details ----------------------------------------------------


@pytest.mark.parametrize(
    "name", ["trader_market_open.yaml", "project_roadmap.yaml", "simple_sheet.yaml"]
)
def test_no_undefined_variable_warnings_for_valid_jinja(name: str) -> None:
    result = api.validate_score(MARIANNE / name)
    assert [w.message for w in result.warnings if w.code == "V101"] == []


def test_backend_model_beats_cli_model_in_the_same_block(tmp_path: Path) -> None:
    plan = plan_from(
        tmp_path, "backend:\n  type: anthropic_api\n  model: api-model\n  cli_model: cli-model\n"
    )
    assert plan.sheet(1).instrument.model == "api-model"
