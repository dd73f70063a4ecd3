from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from mzt.instruments import Instrument, InstrumentProfile, InstrumentResult, Registry
from mzt.instruments.jsonpath import find_all, find_first
from tests.instruments import samples


def run(
    registry: Registry, name: str, exit_code: int | None, stdout: str, stderr: str = "", **kw: Any
) -> InstrumentResult:
    instrument = registry.get(name)
    assert instrument is not None
    return instrument.interpret(exit_code=exit_code, stdout=stdout, stderr=stderr, **kw)


def custom(
    output: dict[str, Any], models: list[dict[str, Any]] | None = None, **errors: Any
) -> Instrument:
    profile = InstrumentProfile.model_validate(
        {
            "name": "custom",
            "display_name": "Custom",
            "kind": "cli",
            "models": models or [],
            "cli": {"command": {"executable": "x"}, "output": output, "errors": errors},
        }
    )
    return Instrument(profile, Path("/p.yaml"))


# --- Claude Code ------------------------------------------------------------------------------


def test_claude_success(registry: Registry) -> None:
    r = run(registry, "claude-code", 0, samples.CLAUDE_OK, model="claude-sonnet-4-5-20250929")
    assert r.success and r.error_text is None and r.warnings == ()
    assert r.result_text == "Created `hello.py` and ran it: it prints *Hello, world!*"
    assert (r.input_tokens, r.output_tokens) == (1200, 350)
    assert r.cost_usd == pytest.approx(1.2 * 0.003 + 0.35 * 0.015)


def test_claude_unlisted_model_is_priced_with_a_note(registry: Registry) -> None:
    r = run(registry, "claude-code", 0, samples.CLAUDE_OK, model="claude-future-9")
    assert r.cost_usd == pytest.approx(1.2 * 0.003 + 0.35 * 0.015)  # the first entry's prices
    assert r.warnings == (
        "no price is listed for model 'claude-future-9'; the cost uses "
        "'claude-sonnet-4-5-20250929' prices",
    )


def test_claude_failures(registry: Registry) -> None:
    auth = run(registry, "claude-code", 1, samples.CLAUDE_AUTH_FAILED)
    assert not auth.success
    # no error.message in the document: the error text is the raw output's tail
    assert auth.error_text is not None and "Invalid API key" in auth.error_text
    assert auth.result_text == samples.CLAUDE_AUTH_FAILED  # nothing extracted on failure
    err = run(registry, "claude-code", 1, samples.CLAUDE_ERROR_OBJECT)
    assert err.error_text == "API Error: 529 Overloaded"
    assert (err.input_tokens, err.output_tokens) == (800, 12)


def test_claude_limit_text_is_kept_with_a_warning(registry: Registry) -> None:
    limit = run(registry, "claude-code", 1, samples.CLAUDE_LIMIT)
    assert not limit.success
    assert limit.error_text == "You've hit your limit · resets 3am (Europe/Oslo)"
    assert limit.result_text == samples.CLAUDE_LIMIT
    assert limit.warnings == (
        'the output is not JSON (it starts "You\'ve hit your limit · resets 3am (Europe/Oslo)"); '
        "the raw output is kept as the result",
    )
    assert limit.cost_usd is None and limit.input_tokens is None
    # exit code 0 with a limit message: a success as far as parsing goes, raw text kept
    zero = run(registry, "claude-code", 0, samples.CLAUDE_RATE_LIMIT_EXIT_0)
    assert zero.success and zero.result_text == samples.CLAUDE_RATE_LIMIT_EXIT_0
    assert len(zero.warnings) == 1 and zero.error_text is None


def test_claude_banner_before_the_document_is_skipped(registry: Registry) -> None:
    r = run(registry, "claude-code", 0, samples.CLAUDE_WITH_BANNER)
    assert r.result_text.startswith("Created `hello.py`") and r.output_tokens == 350
    assert r.warnings == ("ignored other output before the JSON document",)


def test_pretty_document_between_other_output_is_found(registry: Registry) -> None:
    stdout = "Loaded cached credentials.\n[warn] slow disk\n" + samples.GEMINI_OK + "Bye.\n"
    r = run(registry, "gemini-cli", 0, stdout)
    assert r.result_text.startswith("The failing test expected UTC") and r.input_tokens == 10100
    assert r.warnings == ("ignored other output before and after the JSON document",)
    # an array is taken only when no object parses
    arrays = custom({"format": "json", "result_path": "[1]"})
    r = arrays.interpret(exit_code=0, stdout='note\n["a", "b"]\ntrailer', stderr="")
    assert (r.result_text, r.warnings) == (
        "b",
        ("ignored other output before and after the JSON document",),
    )


@pytest.mark.parametrize(
    "noise",
    [
        "",
        "   \n",
        "\x00\x01garbage",
        "{truncated",
        "[1, 2",
        "null",
        "42",
        '"text"',
        "Segmentation fault (core dumped)\n",
    ],
)
def test_noise_from_a_json_instrument_never_raises(registry: Registry, noise: str) -> None:
    for code in (0, 1, None):
        r = run(registry, "claude-code", code, noise, "boom" if code else "")
        assert r.result_text == noise
        assert r.success is (code == 0)
        assert (r.error_text is None) is (code == 0)


@pytest.mark.parametrize(
    "flood",
    [
        "\n".join(f"[INFO] step {i}" for i in range(100_000)),
        "\n".join('{"a' for _ in range(100_000)),
        "[1,\n" * 100_000,  # nested deeper than the parser can go
        "[" * 100_000 + "]" * 100_000,
        '{"result": "' + "x" * 5_000_000,  # a document cut short
    ],
)
def test_large_or_deep_noise_is_handled_quickly(registry: Registry, flood: str) -> None:
    started = time.monotonic()
    for name in ("claude-code", "codex-cli"):
        r = run(registry, name, 0, flood)
        assert r.success and r.result_text == flood and r.warnings
    # A bound for runaway (quadratic, backtracking) parsing, which takes minutes here; it
    # says nothing about speed, so it is generous enough for a loaded machine.
    assert time.monotonic() - started < 30


# --- Gemini CLI -------------------------------------------------------------------------------


def test_gemini_tokens_are_summed_over_models(registry: Registry) -> None:
    r = run(registry, "gemini-cli", 0, samples.GEMINI_OK, "YOLO mode is enabled.\n")
    assert r.success and r.result_text.startswith("The failing test expected UTC")
    assert (r.input_tokens, r.output_tokens) == (10100, 340)
    # priced with the default model, gemini-3.1-pro-preview
    assert r.cost_usd == pytest.approx(10.1 * 0.002 + 0.34 * 0.012)


def test_gemini_quota_error(registry: Registry) -> None:
    r = run(registry, "gemini-cli", 1, samples.GEMINI_QUOTA, samples.GEMINI_QUOTA_STDERR)
    assert not r.success
    assert r.error_text == (
        "[API Error: You have exhausted your capacity on this model. "
        "Your quota will reset after 2h13m.]"
    )
    assert r.input_tokens is None and r.cost_usd is None


# --- Codex CLI --------------------------------------------------------------------------------


def test_codex_agent_message_is_the_result(registry: Registry) -> None:
    r = run(registry, "codex-cli", 0, samples.CODEX_OK, samples.CODEX_STDERR)
    assert r.success and r.warnings == ()
    assert (
        r.result_text
        == "The repository holds a README and a `src` folder; nothing needed changing."
    )
    assert (r.input_tokens, r.output_tokens) == (24763, 122)
    assert r.cost_usd == pytest.approx(24.763 * 0.00125 + 0.122 * 0.01)  # first model (no default)


def test_codex_failures(registry: Registry) -> None:
    r = run(registry, "codex-cli", 1, samples.CODEX_RATE_LIMITED)
    assert r.error_text == "exceeded retry limit, last status: 429 Too Many Requests"
    usage = run(registry, "codex-cli", 1, "", samples.CODEX_USAGE_LIMIT_STDERR)
    assert usage.error_text == samples.CODEX_USAGE_LIMIT_STDERR.strip()
    assert usage.result_text == "" and usage.warnings == ()


def test_codex_without_an_agent_message(registry: Registry) -> None:
    lines = [line for line in samples.CODEX_OK.splitlines() if "agent_message" not in line]
    r = run(registry, "codex-cli", 0, "\n".join(lines) + "\n")
    assert r.success and r.result_text == "\n".join(lines) + "\n"
    assert r.warnings == (
        "no completion event ('item.completed') with a result was found; the raw output is kept "
        "as the result",
    )
    assert r.output_tokens == 122  # tokens are read even without a result


# --- OpenCode and Cline -----------------------------------------------------------------------


def test_opencode_text_event(registry: Registry) -> None:
    r = run(registry, "opencode", 0, samples.OPENCODE_OK)
    assert r.result_text == "There is one file, README.md."
    assert (r.input_tokens, r.output_tokens, r.cost_usd) == (11873, 41, 0.0)


def test_opencode_error(registry: Registry) -> None:
    r = run(registry, "opencode", 1, samples.OPENCODE_RATE_LIMITED)
    assert r.error_text == "Rate limit exceeded: free-models-per-day"


def test_cline_completion_result(registry: Registry) -> None:
    r = run(registry, "cline-cli", 0, samples.CLINE_OK)
    assert r.result_text == "Created hello.txt containing a greeting."
    assert r.input_tokens is None and r.cost_usd is None
    bad = run(registry, "cline-cli", 1, samples.CLINE_ERROR)
    assert bad.error_text is not None and "429 Too Many Requests" in bad.error_text


def test_jsonl_noise_lines_are_ignored_with_a_warning(registry: Registry) -> None:
    noisy = "Loading config...\n" + samples.OPENCODE_OK + "[1, 2]\n\n"
    r = run(registry, "opencode", 0, noisy)
    assert r.result_text == "There is one file, README.md."
    assert r.warnings == ("ignored 2 lines of the output that held no JSON event",)


def test_first_matching_event_and_first_token_count_win() -> None:
    agent = custom(
        {
            "format": "jsonl",
            "completion_event_type": "done",
            "completion_event_filter": {"meta.kind": "final"},
            "result_path": "text",
            "input_tokens_path": "usage.in",
        }
    )
    stream = "\n".join(
        json.dumps(e)
        for e in [
            {"type": "done", "meta": {"kind": "draft"}, "text": "draft", "usage": {"in": None}},
            {"type": "done", "meta": {"kind": "final"}},  # matches but has no text
            {"type": "done", "meta": {"kind": "final"}, "text": "answer", "usage": {"in": 5}},
            {"type": "done", "meta": {"kind": "final"}, "text": "later", "usage": {"in": 9}},
        ]
    )
    r = agent.interpret(exit_code=0, stdout=stream, stderr="")
    assert (r.result_text, r.input_tokens) == ("answer", 5)


# --- goose and the text instruments ----------------------------------------------------------


def test_goose_response(registry: Registry) -> None:
    r = run(registry, "goose", 0, samples.GOOSE_OK)
    assert r.result_text == "Renamed `util.py` to `helpers.py` and updated 3 imports."


@pytest.mark.parametrize(
    ("name", "stdout"),
    [("aider", samples.AIDER_OK), ("crush", samples.CRUSH_OK), ("llm", samples.LLM_OK)],
)
def test_text_instruments_return_stdout(registry: Registry, name: str, stdout: str) -> None:
    r = run(registry, name, 0, stdout, "some progress on stderr\n")
    assert (r.success, r.result_text, r.error_text, r.warnings) == (True, stdout, None, ())
    assert r.input_tokens is None and r.cost_usd is None


def test_text_instrument_failures(registry: Registry) -> None:
    r = run(registry, "llm", 1, "", samples.LLM_NO_KEY_STDERR)
    assert r.error_text == samples.LLM_NO_KEY_STDERR.strip()
    r = run(registry, "aider", 1, "", samples.AIDER_NO_KEY_STDERR)
    assert r.error_text is not None and r.error_text.startswith(
        "Missing these environment variables"
    )
    long_err = "x" * 10_000 + "the reason"
    assert run(registry, "crush", 2, "", long_err).error_text == long_err[-2000:]


def test_cli_outcomes(registry: Registry) -> None:
    assert run(registry, "cli", 0, "out\n").result_text == "out\n"
    failed = run(registry, "cli", 1, "partial\n")
    assert (failed.success, failed.error_text) == (False, "partial")
    silent = run(registry, "cli", 3, "")
    assert silent.error_text == "the instrument exited with code 3 and printed nothing"
    killed = run(registry, "cli", None, "", "")
    assert not killed.success
    assert (
        killed.error_text
        == "the instrument ended without an exit code (stopped or killed) and printed nothing"
    )


# --- success codes, tokens, prices ----------------------------------------------------------


def test_success_exit_codes_come_from_the_profile() -> None:
    agent = custom({"format": "text"}, success_exit_codes=[0, 2])
    assert agent.interpret(exit_code=2, stdout="ok", stderr="").success
    assert not agent.interpret(exit_code=1, stdout="ok", stderr="").success


def test_result_values_that_are_not_strings() -> None:
    agent = custom({"format": "json", "result_path": "r"})
    assert (
        agent.interpret(exit_code=0, stdout='{"r": {"a": [1, "é"]}}', stderr="").result_text
        == '{"a": [1, "é"]}'
    )
    assert agent.interpret(exit_code=0, stdout='{"r": 3.5}', stderr="").result_text == "3.5"
    missing = agent.interpret(exit_code=0, stdout='{"other": 1}', stderr="")
    assert missing.result_text == '{"other": 1}'
    assert missing.warnings == ("the JSON output has no 'r'; the raw output is kept as the result",)
    empty = agent.interpret(exit_code=0, stdout="", stderr="")
    assert empty.warnings == ("the instrument printed nothing where a JSON document was expected",)


def test_token_values_must_be_counts() -> None:
    agent = custom(
        {
            "format": "json",
            "input_tokens_path": "a",
            "output_tokens_path": "b.*",
            "aggregate_tokens": True,
        },
        models=[
            {"name": "m", "context_window": 1, "cost_per_1k_input": 1.0, "cost_per_1k_output": 2.0}
        ],
    )
    r = agent.interpret(
        exit_code=0, stdout='{"a": true, "b": {"x": 1.9, "y": "7", "z": -1, "w": 3}}', stderr=""
    )
    assert (r.input_tokens, r.output_tokens) == (None, 4)  # bool, string and negative ignored
    assert r.cost_usd == pytest.approx(0.004 * 2.0)  # a missing count costs nothing
    big = agent.interpret(exit_code=0, stdout='{"a": 1e999, "b": {"x": NaN}}', stderr="")
    assert (big.input_tokens, big.output_tokens, big.cost_usd) == (None, None, None)


# --- dot paths --------------------------------------------------------------------------------

DATA = {
    "a": {"b": 1, "n": None},
    "list": [{"x": 1}, {"x": None}, {"x": 3}],
    "models": {"m1": {"t": 5}, "m2": {"t": 7}, "m3": {}},
    "nested": [[10, 11], [20]],
    "keys": {"0": "zero"},
}


@pytest.mark.parametrize(
    ("path", "first", "every"),
    [
        ("a.b", 1, [1]),
        ("a.n", None, []),  # null counts as missing
        ("a.zz", None, []),
        ("a.b.c", None, []),  # through a scalar
        ("list[0].x", 1, [1]),
        ("list[-1].x", 3, [3]),
        ("list[9].x", None, []),
        ("list.2.x", 3, [3]),  # a number as a step indexes a list
        ("list.*.x", 1, [1, 3]),
        ("list.*", {"x": 1}, [{"x": 1}, {"x": None}, {"x": 3}]),
        ("models.*.t", 5, [5, 7]),
        ("models.*", {"t": 5}, [{"t": 5}, {"t": 7}, {}]),
        ("nested[0][1]", 11, [11]),
        ("nested.*.*", 10, [10, 11, 20]),
        ("keys.0", "zero", ["zero"]),  # on a mapping, a number is a key
        ("a[0]", None, []),  # indexing a mapping finds nothing
    ],
)
def test_dot_path_lookup(path: str, first: object, every: list[object]) -> None:
    assert find_first(DATA, path) == first
    assert find_all(DATA, path) == every


def test_dot_path_on_a_top_level_list() -> None:
    assert find_first([{"a": 1}, {"a": 2}], "[1].a") == 2
    assert find_all([{"a": 1}, {"a": 2}], "*.a") == [1, 2]
