"""Reading an instrument's output: result text, error text, tokens and cost.

Follows the profile's ``cli.output`` section. Parsing never raises on what a child
printed: output that does not have the promised shape is kept as raw text and the
result carries a warning saying so. Classifying failures (rate limit, auth, …) is
not done here; the pattern lists for that live in the profile's ``errors`` section.
"""

from __future__ import annotations

import json
import math
from typing import Any

from mzt.instruments.jsonpath import find_all, find_first
from mzt.instruments.profile import CliOutput, InstrumentProfile, ModelSpec
from mzt.support import records
from mzt.support.lazyre import LazyPattern

_NOT_JSON = object()
_OPENS_JSON = LazyPattern(r'\{\s*["}]|\[\s*(?:["{\[\]\d-]|true|false|null)')
_MAX_ATTEMPTS = 16
# Deeply nested input ends in RecursionError rather than a decoding error.
_BAD_JSON = (ValueError, RecursionError)
ERROR_TAIL_CHARS = 2000
"""Longest error text taken from raw output (its end, where CLIs print the reason)."""


@records.record(frozen=True, slots=True)
class InstrumentResult:
    """What one attempt produced, read through the instrument's profile."""

    success: bool
    result_text: str  # the extracted result on success; the raw stdout otherwise
    error_text: str | None  # set exactly when the attempt failed
    input_tokens: int | None
    output_tokens: int | None
    cost_usd: float | None
    warnings: tuple[str, ...] = ()


@records.record(slots=True)
class _Reading:
    result: str | None = None
    error: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None


def interpret_output(
    profile: InstrumentProfile,
    *,
    exit_code: int | None,
    stdout: str,
    stderr: str,
    model: str | None = None,
) -> InstrumentResult:
    """Turn a finished child's exit code and output into an `InstrumentResult`.

    Success is an exit code listed in ``success_exit_codes`` (no exit code at all, as
    after a timeout kill, is a failure). The result is extracted only on success and
    the error only on failure; ``model`` (else the profile's default, else its first
    model) prices the tokens.
    """
    if profile.cli is None:
        raise ValueError(f"instrument {profile.name!r} is not a command-line instrument")
    output = profile.cli.output
    success = exit_code is not None and exit_code in profile.cli.errors.success_exit_codes
    warnings: list[str] = []
    if output.format == "json":
        reading = _read_json(output, stdout, success, warnings)
    elif output.format == "jsonl":
        reading = _read_jsonl(output, stdout, success, warnings)
    else:
        reading = _Reading(result=stdout)
    error_text = None
    if not success:
        error_text = reading.error or _error_from_raw(exit_code, stdout, stderr)
    cost, note = token_cost(profile, model, reading.input_tokens, reading.output_tokens)
    if note:
        warnings.append(note)
    return InstrumentResult(
        success=success,
        result_text=reading.result if success and reading.result is not None else stdout,
        error_text=error_text,
        input_tokens=reading.input_tokens,
        output_tokens=reading.output_tokens,
        cost_usd=cost,
        warnings=tuple(warnings),
    )


def _read_json(output: CliOutput, stdout: str, success: bool, warnings: list[str]) -> _Reading:
    reading = _Reading()
    if not stdout.strip():
        if success and output.result_path:
            warnings.append("the instrument printed nothing where a JSON document was expected")
        return reading
    data = _load_document(stdout, warnings)
    if data is _NOT_JSON:
        return reading
    if success and output.result_path:
        reading.result = _text(find_first(data, output.result_path))
        if reading.result is None:
            warnings.append(
                f"the JSON output has no {output.result_path!r}; the raw output is kept as "
                "the result"
            )
    if not success and output.error_path:
        reading.error = _text(find_first(data, output.error_path))
    reading.input_tokens = _tokens(data, output.input_tokens_path, output.aggregate_tokens)
    reading.output_tokens = _tokens(data, output.output_tokens_path, output.aggregate_tokens)
    return reading


def _load_document(stdout: str, warnings: list[str]) -> Any:
    try:
        return json.loads(stdout)
    except _BAD_JSON:
        pass
    # CLIs sometimes print a banner before the document or a remark after it: take the
    # first object (else array) that starts a line and parses, ignoring what surrounds it.
    decoder = json.JSONDecoder()
    found: tuple[Any, int, int] | None = None
    offset = 0
    attempts = 0
    for line in stdout.splitlines(keepends=True):
        body = line.lstrip(" \t")
        # Each failed attempt costs time in proportion to the output's length, so only
        # lines that open a plausible value are tried, and only a few of them.
        start = offset + len(line) - len(body)
        if attempts < _MAX_ATTEMPTS and _OPENS_JSON.match(stdout, start):
            attempts += 1
            try:
                data, end = decoder.raw_decode(stdout, start)
            except _BAD_JSON:
                pass
            else:
                if found is None or isinstance(data, dict):
                    found = (data, start, end)
                if isinstance(data, dict):
                    break
        offset += len(line)
    if found is not None:
        data, start, end = found
        around = [
            where
            for where, text in (("before", stdout[:start]), ("after", stdout[end:]))
            if text.strip()
        ]
        warnings.append(f"ignored other output {' and '.join(around)} the JSON document")
        return data
    head = stdout.strip()[:120].replace("\n", " ")
    warnings.append(
        f"the output is not JSON (it starts {head!r}); the raw output is kept as the result"
    )
    return _NOT_JSON


def _read_jsonl(output: CliOutput, stdout: str, success: bool, warnings: list[str]) -> _Reading:
    reading = _Reading()
    events: list[dict[str, Any]] = []
    skipped = 0
    for line in stdout.splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            event = json.loads(line)
        except _BAD_JSON:
            skipped += 1
            continue
        if isinstance(event, dict):
            events.append(event)
        else:
            skipped += 1
    if skipped:
        warnings.append(f"ignored {_lines(skipped)} of the output that held no JSON event")
    if success and (output.result_path or output.completion_event_type):
        for event in events:
            if not _is_completion(output, event):
                continue
            if output.result_path is None:
                reading.result = json.dumps(event, ensure_ascii=False)
            else:
                reading.result = _text(find_first(event, output.result_path))
            if reading.result is not None:
                break
        if reading.result is None:
            what = output.completion_event_type or output.result_path
            warnings.append(
                f"no completion event ({what!r}) with a result was found; the raw output is "
                "kept as the result"
            )
    if not success and output.error_path:
        reading.error = next(
            (t for e in events if (t := _text(find_first(e, output.error_path))) is not None),
            None,
        )
    # The first event that reports a count wins (CLIs repeat or grow counts as they go).
    for event in events:
        if reading.input_tokens is None:
            reading.input_tokens = _tokens(event, output.input_tokens_path, output.aggregate_tokens)
        if reading.output_tokens is None:
            reading.output_tokens = _tokens(
                event, output.output_tokens_path, output.aggregate_tokens
            )
    return reading


def _is_completion(output: CliOutput, event: dict[str, Any]) -> bool:
    wanted = output.completion_event_type
    if wanted is not None and event.get("type") != wanted:
        return False
    return all(
        find_first(event, key) == value
        for key, value in (output.completion_event_filter or {}).items()
    )


def _lines(count: int) -> str:
    return "1 line" if count == 1 else f"{count} lines"


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list):
        try:
            return json.dumps(value, ensure_ascii=False)
        except _BAD_JSON:
            return None  # nested too deeply to write back out
    return str(value)


def _tokens(data: Any, path: str | None, aggregate: bool) -> int | None:
    if not path:
        return None
    counts = [
        int(v)
        for v in (find_all(data, path) if aggregate else [find_first(data, path)])
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) and v >= 0
    ]
    if not counts:
        return None
    return sum(counts) if aggregate else counts[0]


def _error_from_raw(exit_code: int | None, stdout: str, stderr: str) -> str:
    for text in (stderr.strip(), stdout.strip()):
        if text:
            return text[-ERROR_TAIL_CHARS:]
    if exit_code is None:
        return "the instrument ended without an exit code (stopped or killed) and printed nothing"
    return f"the instrument exited with code {exit_code} and printed nothing"


def price_for(profile: InstrumentProfile, model: str | None) -> tuple[ModelSpec | None, str | None]:
    """The model entry that prices ``model``, and a note when another entry stands in."""
    if not profile.models:
        return None, None
    spec = profile.model_spec(model)
    if spec is not None:
        return spec, None
    spec = profile.model_spec(profile.default_model) or profile.models[0]
    if model and model != spec.name:
        return spec, f"no price is listed for model {model!r}; the cost uses {spec.name!r} prices"
    return spec, None


def token_cost(
    profile: InstrumentProfile,
    model: str | None,
    input_tokens: int | None,
    output_tokens: int | None,
) -> tuple[float | None, str | None]:
    """Dollars for these tokens at the model's prices (None without prices), and a note."""
    if input_tokens is None and output_tokens is None:
        return None, None
    spec, note = price_for(profile, model)
    if spec is None:
        return None, None
    cost = (input_tokens or 0) / 1000 * spec.cost_per_1k_input
    cost += (output_tokens or 0) / 1000 * spec.cost_per_1k_output
    return cost, note
