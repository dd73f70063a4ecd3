"""Bad scores: each one is refused (exit 2) with a located, one-paragraph message.

Every file under ``tests/score/bad/`` is run through the installed ``mzt validate``
as its own process (in parallel, once per module) and its ``--json`` answer is read
through the CLI entry point in-process. A few inputs cannot live in the repository
(a 2 MiB file, bytes that are not UTF-8, a 5000-digit integer, tags that would touch
a marker file) and are generated per test instead; those also go through the real
command line in both modes.
"""

from __future__ import annotations

import json
import re
import resource
from dataclasses import dataclass
from pathlib import Path

import pytest

from mzt import api
from tests.score.score_cli import (
    BAD,
    CliResult,
    assert_validate_document,
    fingerprint,
    run_in_process,
    run_many,
    run_mzt,
)

# The module's fixtures run dozens of whole `mzt` processes: on a loaded two-core machine
# that can outlast the default per-test timeout, which is meant to catch hangs.
pytestmark = pytest.mark.timeout(900)


@dataclass(frozen=True)
class Bad:
    """What `mzt validate` must say about one bad score."""

    expect: tuple[str, ...]  # regular expressions that must all match stderr
    line: int | None = None  # the line the message points at, where YAML gives one
    exit_code: int = 2


CASES: dict[str, Bad] = {
    # --- typos: unknown keys with a hint --------------------------------------------
    "typo_retries.yaml": Bad(("SCHEMA", r"\bretries\b", r"did you mean \W?retry\b"), 8),
    "typo_validation.yaml": Bad((r"\bvalidation\b", r"did you mean \W?validations\b"), 8),
    "typo_paralel.yaml": Bad((r"\bparalel\b", r"did you mean \W?parallel\b"), 10),
    "typo_sheets.yaml": Bad((r"\bsheets\b", r"did you mean \W?sheet\b"), 3),
    "typo_nested_retry.yaml": Bad((r"retry\.max_retry\b", r"did you mean \W?max_retries\b"), 9),
    "typo_nested_validation.yaml": Bad((r"validations\.1\.paht", r"did you mean \W?path\b"), 12),
    "typo_sheet_total_item.yaml": Bad((r"sheet\.total_item\b", r"did you mean \W?total_items"), 5),
    "typo_top_max_retries.yaml": Bad((r"\bmax_retries\b", r"retry\.max_retries"), 3),
    "typo_timeout.yaml": Bad((r"\btimeout\b", r"instrument_config\.timeout_seconds"), 8),
    # --- wrong types and values ----------------------------------------------------------
    "type_string_for_int.yaml": Bad((r"retry\.max_retries", "integer", "'3'"), 9),
    "type_inf_timeout.yaml": Bad((r"instrument_config\.timeout_seconds", "finite"), 5),
    "type_nan_delay.yaml": Bad((r"retry\.base_delay_seconds", "finite"), 9),
    "type_negative_timeout.yaml": Bad((r"instrument_config\.timeout_seconds", "greater than 0"), 5),
    "type_yes_for_string.yaml": Bad((r"\binstrument\b", "string", "True"), 3),
    "type_bool_for_int.yaml": Bad((r"sheet\.size", "integer"), 4),
    "type_string_sheet_keys.yaml": Bad((r"sheet\.dependencies\.2", "integer"), 7),
    "type_zero_size.yaml": Bad((r"sheet\.size", "greater than or equal to 1"), 4),
    "type_negative_pause.yaml": Bad(("pause_between_sheets_seconds", "greater than or equal"), 3),
    "type_validation_stage.yaml": Bad((r"validations\.0\.stage", "10"), 11),
    "type_validations_mapping.yaml": Bad((r"\bvalidations\b", "list"), 8),
    "type_dependency_not_list.yaml": Bad((r"sheet\.dependencies\.2", "list"), 7),
    "state_backend_unknown.yaml": Bad(("state_backend", "postgres"), 3),
    "empty_name.yaml": Bad((r"\bname\b", "at least 1 character"), 2),
    "unusable_name.yaml": Bad((r"\bname\b", "job id"), 2),
    # --- YAML syntax ---------------------------------------------------------------------
    "yaml_unclosed_bracket.yaml": Bad(("YAML", "flow sequence"), 8),
    "yaml_bad_indent.yaml": Bad(("YAML", "block mapping"), 5),
    "yaml_tab_indent.yaml": Bad(("YAML", r"\\t"), 4),
    "yaml_unterminated_quote.yaml": Bad(("YAML", "quoted scalar"), None),
    # --- duplicate keys, anchors, aliases, tags ------------------------------------------
    "duplicate_top_key.yaml": Bad(("YAML", "duplicate key 'name'", "line 2"), 6),
    "duplicate_nested_key.yaml": Bad(("YAML", "duplicate key 2", "line 7"), 9),
    "anchor_alias.yaml": Bad(("YAML", "anchor", "&shared"), 3),
    "merge_key.yaml": Bad(("YAML", "merge key"), 4),
    "billion_laughs.yaml": Bad(("YAML", "anchor"), 3),
    "unknown_tag.yaml": Bad(("YAML", "!include", "not allowed"), 7),
    "python_name_tag.yaml": Bad(("YAML", "!!python/name:os.system", "not allowed"), 9),
    "binary_tag.yaml": Bad(("YAML", "!!binary", "not allowed"), 7),
    # --- dependency graphs ---------------------------------------------------------------
    "cycle_two.yaml": Bad(("PLAN", "cycle", r"\b1 \S+ 2 \S+ 1\b"), 7),
    "cycle_three.yaml": Bad(("PLAN", "cycle", r"\b2 \S+ 4 \S+ 3 \S+ 2\b"), 7),
    "cycle_self.yaml": Bad(("PLAN", "sheet 3", "itself"), 8),
    "cycle_fan_out_stages.yaml": Bad(("PLAN", "cycle", r"stage 2 \S+ 3 \S+ 2\b"), 9),
    "dependency_source_out_of_range.yaml": Bad(("PLAN", "sheet 7 does not exist", "3 sheets"), 8),
    "dependency_target_out_of_range.yaml": Bad(("PLAN", "sheet 9 does not exist"), 8),
    "dependency_stage_out_of_range.yaml": Bad(("PLAN", "stage 4 does not exist", "3 stages"), 10),
    "fan_out_stage_out_of_range.yaml": Bad(
        ("PLAN", r"sheet\.fan_out\.5", "stage 5 does not exist"), 7
    ),
    "fan_out_with_size.yaml": Bad(("fan_out", "size: 1"), 3),
    "fan_out_with_start_item.yaml": Bad(("fan_out", "start_item: 1"), 3),
    "fan_out_zero.yaml": Bad((r"sheet\.fan_out\.2", "greater than or equal to 1"), 7),
    "voices_conflict.yaml": Bad((r"movements\.2\.voices", "3 voices", "4 instances"), 6),
    "start_item_past_total.yaml": Bad(("start_item", "no sheets"), 3),
    # --- missing keys, non-mapping documents ---------------------------------------------
    "missing_name.yaml": Bad((r"required key \W?name\b", "missing")),
    "missing_prompt.yaml": Bad((r"required key \W?prompt\b", "missing")),
    "missing_total_items.yaml": Bad((r"required key \W?total_items\b", "missing"), 3),
    "non_mapping_list.yaml": Bad(("SCHEMA", "list", "mapping")),
    "non_mapping_scalar.yaml": Bad(("SCHEMA", "not a mapping")),
    "empty.yaml": Bad(("SCHEMA", "empty")),
    "comments_only.yaml": Bad(("SCHEMA", "empty")),
    # --- validations, templates, expressions ---------------------------------------------
    "invalid_regex.yaml": Bad(("V007", r"validations\.1\.pattern", "regex"), 13),
    "v008_missing_path.yaml": Bad(("V008", "file_exists", r"\bpath\b"), 9),
    "v008_missing_pattern.yaml": Bad(("V008", "content_contains", r"\bpattern\b"), 11),
    "v008_missing_command.yaml": Bad(("V008", "command_succeeds", r"\bcommand\b"), 9),
    "validation_unknown_type.yaml": Bad((r"validations\.0\.type", "file_exist"), 9),
    "validation_unknown_field.yaml": Bad(("V010", "worksapce"), 10),
    "skip_when_syntax.yaml": Bad(("V305", r"sheet\.skip_when\.3"), 7),
    "skip_when_call.yaml": Bad(("V305", r"sheet\.skip_when\.2", "called"), 7),
    "jinja_syntax.yaml": Bad(("V001", r"prompt\.template", "endif"), 7),
    "template_and_file.yaml": Bad(("template_file", "not both"), 6),
    "template_file_missing.yaml": Bad(("V003", "does-not-exist.j2"), 7),
    # --- hostile sizes: each is refused at its bound, before anything runs ---------------
    "format_width_path.yaml": Bad(("V012", r"validations\.0\.path", "over 4096"), 11),
    "format_width_command.yaml": Bad(("V012", r"validations\.0\.command", "over 4096"), 11),
    "nested_range_loops.yaml": Bad(("V013", "10,000,000,000 iterations", "1,000,000"), 8),
    "fan_out_edges.yaml": Bad(("PLAN", "2,000,000,000 dependency edges", "1,000,000"), 7),
    # --- conflicting or inconsistent settings --------------------------------------------
    "instrument_and_backend.yaml": Bad(("instrument", r"backend\.type", "anthropic_api")),
    "instrument_map_overlap.yaml": Bad(("instrument_map", "sheet 2", "gemini-cli", "codex-cli"), 4),
    "budget_partition_false.yaml": Bad((r"parallel\.budget_partition", "not supported"), 10),
    "retry_delays_inverted.yaml": Bad(("base_delay_seconds", "max_delay_seconds"), 8),
    "cost_limits_without_limit.yaml": Bad(("cost_limits", "max_cost_per"), 8),
    "webhook_without_url.yaml": Bad((r"notifications\.0", r"\burl"), 9),
    "run_job_without_path.yaml": Bad((r"on_success\.0", "job_path"), 9),
    "isolation_bad_prefix.yaml": Bad((r"isolation\.branch_prefix", "1 bad prefix"), 10),
    "logging_both_without_file.yaml": Bad(("logging", "file_path"), 8),
    "injection_file_and_directory.yaml": Bad((r"sheet\.prelude\.0", r"\bfile\b", "directory"), 7),
    # --- advice, not refusal: these run, so validate says so (exit 0) with a warning ------
    # A workspace whose parent is missing: a run creates it, so this is only a warning.
    "workspace_parent_missing.yaml": Bad(
        ("V002", "/nonexistent-mzt-parent/deeper"), 3, exit_code=0
    ),
    # An undefined variable read only from sheet 2 on: sheet 1 still renders.
    "missing_variable_branch.yaml": Bad(("V101", "style_gide", "style_guide"), 8, exit_code=0),
    # An undefined variable read by every sheet: still a warning (V101), as for upstream.
    "missing_variable_sheet_one.yaml": Bad(("V101", r"\btopic\b"), 7, exit_code=0),
    # An unreadable condition clause counts as true (fail-open), so the rule still applies.
    "condition_unreadable.yaml": Bad(("V306", "sheet_num >> 1"), 11, exit_code=0),
}

BAD_FILES = sorted(p.name for p in BAD.glob("*.yaml"))


@dataclass(frozen=True)
class Observed:
    result: CliResult
    before: tuple[str, int]
    after: tuple[str, int]


@pytest.fixture(scope="module")
def observed(cli_home: Path) -> dict[str, Observed]:
    """`mzt validate FILE` for every bad file, run concurrently, with before/after fingerprints."""
    paths = [BAD / name for name in BAD_FILES]
    before = {p.name: fingerprint(p) for p in paths}
    results = run_many([("validate", p) for p in paths], home=cli_home)
    return {
        p.name: Observed(r, before[p.name], fingerprint(p))
        for p, r in zip(paths, results, strict=True)
    }


def assert_clean_failure_text(result: CliResult) -> None:
    """No traceback and no crash report: every failure is a handled, located message."""
    text = result.stdout + result.stderr
    assert "Traceback" not in text
    assert "unexpected error" not in text
    assert not re.search(r'^\s*File "', text, re.MULTILINE), text


def test_every_bad_file_has_an_expectation() -> None:
    assert sorted(CASES) == BAD_FILES
    refused = [name for name, case in CASES.items() if case.exit_code == 2]
    assert len(refused) >= 35


@pytest.mark.parametrize("name", BAD_FILES)
def test_cli_refuses_with_a_located_message(name: str, observed: dict[str, Observed]) -> None:
    case = CASES[name]
    seen = observed[name]
    result = seen.result
    assert result.returncode == case.exit_code, result.stderr
    assert result.stderr.strip(), "the message goes to stderr"
    assert_clean_failure_text(result)
    source = str(BAD / name)
    assert source in result.stderr
    if case.line is not None:
        assert f"{source}:{case.line}:" in result.stderr, result.stderr
    for pattern in case.expect:
        assert re.search(pattern, result.stderr), f"{pattern!r} not in:\n{result.stderr}"
    if case.exit_code == 2:
        assert result.stdout == "", "nothing but errors on an invalid score"
        assert re.search(r"\binvalid\b", result.stderr)
    assert seen.after == seen.before, "validate must not touch the score file"


@pytest.mark.parametrize("name", BAD_FILES)
def test_json_lists_errors_with_code_message_path_line(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    case = CASES[name]
    code, out, _err = run_in_process(["validate", "--json", BAD / name], capsys)
    assert code == case.exit_code
    document = json.loads(out)
    assert_validate_document(document, valid=case.exit_code == 0)
    issues = document["errors"] if case.exit_code == 2 else document["warnings"]
    codes = {i["code"] for i in issues}
    named = [p for p in case.expect if re.fullmatch(r"[A-Z]+|V\d{3}", p)]
    for wanted in named:
        assert wanted in codes, f"{wanted} not among {codes}"
    if case.line is not None:
        assert case.line in {i["line"] for i in issues}, issues


@pytest.mark.parametrize("name", BAD_FILES)
def test_library_reports_the_same_verdict(name: str) -> None:
    result = api.validate_score(BAD / name)
    assert result.valid is (CASES[name].exit_code == 0)
    if not result.valid:
        assert all(issue.severity == "error" and issue.message for issue in result.errors)
        if any(issue.code in {"FILE", "YAML", "SCHEMA", "PLAN"} for issue in result.errors):
            assert result.plan is None  # nothing is planned from a score that did not load


# --- inputs generated at test time ----------------------------------------------------------

VALID_BODY = 'name: generated\nsheet:\n  size: 1\n  total_items: 2\nprompt:\n  template: "hi"\n'


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@dataclass(frozen=True)
class Generated:
    """A bad input that cannot live in the repository, and what validate must say."""

    data: bytes
    expect: tuple[str, ...]
    line: int | None


def generated_inputs(marker: Path) -> dict[str, Generated]:
    """Bytes of each generated input; ``marker`` is a file that nothing may create."""
    body = VALID_BODY.encode()
    deep_block = "".join("  " * i + f"k{i}:\n" for i in range(1, 100)) + "  " * 100 + "v: 1\n"
    return {
        "huge.yaml": Generated(
            body + b"description: |\n" + (b"  " + b"x" * 1022 + b"\n") * 2048,
            ("FILE", "1 MiB"),
            None,
        ),
        "latin1.yaml": Generated(
            body + "  variables:\n    author: Andr\xe9\n".encode("latin-1"), ("UTF-8", "0xe9"), 8
        ),
        "utf16.yaml": Generated(VALID_BODY.encode("utf-16"), ("UTF-8", "UTF-16"), 1),
        "nul.yaml": Generated(body + b'description: "a\x00b"\n', ("YAML", r"U\+0000"), 7),
        "deep_flow.yaml": Generated(
            body + b"learning: " + b"[" * 5000 + b"]" * 5000 + b"\n", ("nested more than",), 7
        ),
        "deep_block.yaml": Generated(
            body + b"learning:\n" + deep_block.encode(), ("nested more than",), None
        ),
        "bigint.yaml": Generated(
            VALID_BODY.replace("total_items: 2", "total_items: " + "9" * 5000).encode(),
            ("YAML", "5000 digits"),
            4,
        ),
        "python_apply.yaml": Generated(
            body
            + f'description: !!python/object/apply:os.system ["touch {marker}"]\n'.encode()
            + b"learning:\n"
            + f'  x: !!python/object/apply:subprocess.check_call [["touch", "{marker}"]]\n'.encode(),
            ("YAML", "!!python/object/apply:os.system", "not allowed"),
            7,
        ),
        "python_new.yaml": Generated(
            body
            + f"description: !!python/object/new:subprocess.Popen [[touch, {marker}]]\n".encode(),
            ("YAML", "!!python/object/new:subprocess.Popen", "not allowed"),
            7,
        ),
        "huge_variables.yaml": Generated(
            body.replace(b'  template: "hi"\n', b'  template: "{{ v0 }}"\n  variables:\n')
            + b"".join(b"    v%d: %s\n" % (i, b"x" * 200) for i in range(12_000)),
            ("FILE", "1 MiB"),
            None,
        ),
        "skip_when_import.yaml": Generated(
            VALID_BODY.replace(
                "  total_items: 2\n",
                f"  total_items: 2\n  skip_when:\n    2: \"__import__('os').system('touch {marker}')\"\n",
            ).encode(),
            ("V305", r"sheet\.skip_when\.2"),
            6,
        ),
    }


GENERATED = sorted(generated_inputs(Path("marker")))


@dataclass(frozen=True)
class GeneratedRuns:
    folder: Path
    marker: Path
    inputs: dict[str, Generated]
    text: dict[str, CliResult]
    before: dict[str, tuple[str, int]]
    dry_runs: list[CliResult]


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory, cli_home: Path) -> GeneratedRuns:
    """Write every generated input, then run `mzt validate` on all of them concurrently.

    The inputs holding tags are also given to `mzt run --dry-run`, the other command
    that reads a score, so that the marker check covers both.
    """
    folder = tmp_path_factory.mktemp("generated")
    marker = folder / "pwned"
    inputs = generated_inputs(marker)
    for name, case in inputs.items():
        (folder / name).write_bytes(case.data)
    before = {name: fingerprint(folder / name) for name in inputs}
    tagged = ("python_apply.yaml", "python_new.yaml", "skip_when_import.yaml")
    commands: list[tuple[str | Path, ...]] = [("validate", folder / n) for n in inputs]
    commands += [("run", "--dry-run", folder / n) for n in tagged]
    results = run_many(commands, home=cli_home)
    text = dict(zip(inputs, results, strict=False))
    return GeneratedRuns(folder, marker, inputs, text, before, results[len(inputs) :])


@pytest.mark.parametrize("name", GENERATED)
def test_generated_input_is_refused(
    name: str, generated: GeneratedRuns, capsys: pytest.CaptureFixture[str]
) -> None:
    case, path, result = generated.inputs[name], generated.folder / name, generated.text[name]
    assert result.returncode == 2, result.stderr
    assert_clean_failure_text(result)
    assert str(path) in result.stderr
    if case.line is not None:
        assert f"{path}:{case.line}:" in result.stderr, result.stderr
    for pattern in case.expect:
        assert re.search(pattern, result.stderr), f"{pattern!r} not in:\n{result.stderr}"
    code, out, _err = run_in_process(["validate", "--json", path], capsys)
    assert code == 2
    document = json.loads(out)
    assert_validate_document(document, valid=False)
    if case.line is not None:
        assert case.line in {e["line"] for e in document["errors"]}
    assert fingerprint(path) == generated.before[name]


def test_generated_huge_file_really_is_over_two_mebibytes(generated: GeneratedRuns) -> None:
    assert (generated.folder / "huge.yaml").stat().st_size > 2 * 1024 * 1024


def test_tags_and_expressions_execute_nothing(generated: GeneratedRuns) -> None:
    for result in generated.dry_runs:
        assert result.returncode == 2, result.stderr
        assert_clean_failure_text(result)
    for name in ("python_apply.yaml", "python_new.yaml", "skip_when_import.yaml"):
        assert api.validate_score(generated.folder / name).errors  # in-process too
    assert not generated.marker.exists(), "something in a score was executed"


def test_validate_runs_no_command_of_the_score(tmp_path: Path) -> None:
    """Commands in validations and skip_when_command are only read, never run."""
    marker = tmp_path / "ran"
    body = VALID_BODY.replace(
        "  total_items: 2\n",
        f'  total_items: 2\n  skip_when_command:\n    2:\n      command: "touch {marker}-skip"\n',
    ) + (f'validations:\n  - type: command_succeeds\n    command: "touch {marker}-check"\n')
    path = write(tmp_path, "commands.yaml", body)
    runs = [("validate", path), ("validate", "-v", "--json", path), ("run", "-n", path)]
    for result in run_many(runs, home=tmp_path / "h"):
        assert result.returncode == 0, result.stderr
    assert list(tmp_path.rglob("ran*")) == [], "validate or a dry run executed a command"


def test_missing_and_folder_paths_are_usage_errors(tmp_path: Path) -> None:
    results = run_many(
        [("validate", tmp_path / "nope.yaml"), ("validate", tmp_path)], home=tmp_path / "h"
    )
    for result, words in zip(results, ("does not exist", "folder"), strict=True):
        assert result.returncode == 2
        assert words in result.stderr
        assert_clean_failure_text(result)


def test_undefined_variable_is_a_warning_in_every_mode(tmp_path: Path) -> None:
    """validate, validate -v and run --dry-run agree: the score is usable, with a warning."""
    path = BAD / "missing_variable_sheet_one.yaml"
    plain, verbose, dry = run_many(
        [("validate", path), ("validate", "-v", path), ("run", "--dry-run", path)],
        home=tmp_path / "h",
    )
    assert (plain.returncode, verbose.returncode, dry.returncode) == (0, 0, 0)
    assert "V101" in plain.stderr
    assert "V109" in verbose.stderr  # sheet 1's prompt cannot be previewed
    for result in (plain, verbose, dry):
        assert_clean_failure_text(result)


# --- hardening: absurd sizes, broken escapes, runaway templates, precise locations ---------


def _limit_memory() -> None:  # pragma: no cover - runs in the child process
    limit = 200 << 20  # ample for mzt on any sane score (it needs under 50 MiB)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def test_absurd_sheet_count_is_a_score_error(tmp_path: Path) -> None:
    path = write(
        tmp_path, "huge_count.yaml", VALID_BODY.replace("total_items: 2", "total_items: 1000000000")
    )
    result = run_mzt("validate", path, home=tmp_path / "h", timeout=20, preexec_fn=_limit_memory)
    assert result.returncode == 2, result.stderr
    assert_clean_failure_text(result)


def test_lone_surrogate_escape_is_refused(tmp_path: Path) -> None:
    body = VALID_BODY.replace(
        'template: "hi"', 'template: "hi {{ who }}"\n  variables:\n    who: "x\\ud800"'
    )
    path = write(tmp_path, "surrogate.yaml", body)
    results = run_many([("validate", path), ("validate", "-v", path)], home=tmp_path / "h")
    for result in results:
        assert_clean_failure_text(result)
        assert result.returncode == 2, result.stderr
        assert f"{path}:" in result.stderr


@pytest.mark.parametrize(
    "template",
    [
        "{% for i in range(n) %}x{% endfor %}",  # the sandbox's range limit (n = 10**9)
        "{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}",  # the call depth bound
    ],
    ids=["sandbox-range", "recursion"],
)
def test_unrenderable_template_is_a_preview_warning(tmp_path: Path, template: str) -> None:
    body = VALID_BODY.replace(
        'template: "hi"', f"template: '{template}'\n  variables:\n    n: 1000000000"
    )
    path = write(tmp_path, "render.yaml", body)
    result = run_mzt("validate", "-v", path, home=tmp_path / "h")
    assert_clean_failure_text(result)
    assert result.returncode == 0, result.stderr
    assert "V109" in result.stderr


# Bounds only a render can meet (the values come from variables): `validate -v` previews
# sheet 1's prompt, meets the bound at once and says which one, in a memory-capped child.
RENDER_BOUNDS = {
    "repetition": ("{{ 'x' * n }}", "the repetition would build a value over 10,000,000"),
    "tilde-join": (
        "{% set ns = namespace(s='x') %}{% for i in range(k) %}{% set ns.s = ns.s ~ ns.s %}"
        "{% endfor %}{{ ns.s }}",
        "joining would build a value over 10,000,000",
    ),
    "deep-recursion": (
        "{% macro f(d) %}{{ f(d + 1) }}{% endmacro %}{{ f(0) }}",
        "nest more than 60 deep",
    ),
    "loops": (
        "{% for i in range(k * 1000) %}{% for j in range(k * 1000) %}{% endfor %}{% endfor %}",
        "loops ran more than 1,000,000 times",
    ),
    "format-width": ("{{ '{:>{w}}'.format(1, w=n) }}", "width or precision over 4096"),
}


@pytest.mark.parametrize("name", sorted(RENDER_BOUNDS))
def test_render_bounds_are_named_in_the_preview(tmp_path: Path, name: str) -> None:
    template, expected = RENDER_BOUNDS[name]
    body = VALID_BODY.replace(
        'template: "hi"', f'template: "{template}"\n  variables:\n    n: 1000000000\n    k: 100'
    )
    path = write(tmp_path, "render.yaml", body)
    result = run_mzt(
        "validate", "-v", path, home=tmp_path / "h", timeout=30, preexec_fn=_limit_memory
    )
    assert_clean_failure_text(result)
    assert result.returncode == 0, result.stderr
    assert "V109" in result.stderr and expected in result.stderr, result.stderr


def test_instrument_conflict_points_at_backend_type() -> None:
    result = api.validate_score(BAD / "instrument_and_backend.yaml")
    assert [(e.path, e.line) for e in result.errors] == [("backend.type", 5)]


def test_unterminated_quote_points_at_its_opening_line() -> None:
    result = api.validate_score(BAD / "yaml_unterminated_quote.yaml")
    assert result.errors[0].line == 7 or "line 7" in result.errors[0].message


def test_timeout_overrides_for_missing_sheets_are_reported(tmp_path: Path) -> None:
    body = VALID_BODY + (
        "instrument_config:\n  timeout_overrides: {9: 100}\n"
        "backend:\n  timeout_overrides: {12: 100}\n  sheet_overrides: {15: {timeout_seconds: 100}}\n"
    )
    result = api.validate_score(write(tmp_path, "overrides.yaml", body))
    assert result.valid
    paths = [issue.path for issue in result.warnings]
    for block in (
        "instrument_config.timeout_overrides",
        "backend.timeout_overrides",
        "backend.sheet_overrides",
    ):
        assert any(p.startswith(block) for p in paths), (
            f"nothing says {block} names a missing sheet"
        )
