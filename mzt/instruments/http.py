"""HTTP instruments: one transport for every API family mzt speaks, standard library only.

`call_http_api` sends one prompt as one user message and returns what the command-line
path returns for a finished child: an `Outcome` (exit code 0 on success, 1 on an HTTP or
connection error; stdout is the response body, stderr one error line) and an
`InstrumentResult` (the answer's text, tokens, cost), plus the `ErrorInfo` the HTTP
status already tells precisely (429/529 rate limit with the ``retry-after`` header as the
wait, 401/403 authentication, 5xx server error, connection and name-resolution
failures, timeout). What the request holds and where the answer's text is depends on
the profile's ``http.schema_family`` (`mzt.instruments.http_schemas`); the rest is
the same for all.

The request runs on a daemon thread that the caller polls, so a cancel or the attempt
timeout ends the attempt at once: the connection is shut down and the thread left to
finish on its own. The API key is read from the environment variable the instrument
config names (``api_key_env``), else the profile's ``http.auth_env_var`` (Anthropic:
else ``ANTHROPIC_API_KEY``); it is sent only in its header and redacted from everything
written or returned.
"""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from mzt.instruments import http_schemas as schemas
from mzt.instruments.classify import ErrorInfo, classify_text, http_status_error
from mzt.instruments.http_errors import (
    _connection_error,
    _describe,
    _error_document,
    _error_message,
    _retry_after,
)
from mzt.instruments.http_exchange import MAX_RESPONSE_BYTES, _Exchange, _proxies
from mzt.instruments.parsing import InstrumentResult, token_cost
from mzt.instruments.profile import InstrumentProfile
from mzt.support import records
from mzt.support.fsutil import open_nofollow
from mzt.support.process import DEFAULT_TAIL_BYTES, ExitReason, Outcome, StopRequest
from mzt.support.redact import MIN_SECRET_ENV_LENGTH, Redactor, secret_env_values

_POLL_SECONDS = 0.05
_STOP_CHECK_SECONDS = 0.25  # the stop callback reads files: not on every tick


def supported(profile: InstrumentProfile) -> bool:
    """Whether mzt can call this HTTP profile (Anthropic, OpenAI-style and Ollama APIs)."""
    return schemas.family(profile) is not None


@records.record(frozen=True, slots=True)
class HttpAttempt:
    """One finished call: what the attempt code needs, shaped like a child's outcome."""

    outcome: Outcome
    result: InstrumentResult
    error: ErrorInfo | None


def call_http_api(
    profile: InstrumentProfile,
    prompt: str,
    *,
    model: str | None,
    config: Mapping[str, Any],
    timeout: float,
    environ: Mapping[str, str],
    should_stop: Callable[[], StopRequest | None] = lambda: None,
    stdout_log: Path | None = None,
    stderr_log: Path | None = None,
    tail_bytes: int = DEFAULT_TAIL_BYTES,
    builtin: bool = False,
) -> HttpAttempt:
    """Send ``prompt`` to the profile's API and read the answer; never raises on I/O.

    ``model`` wins over ``config["model"]``, which wins over the profile's default.
    From ``config`` this reads ``api_key_env``, ``base_url``, ``max_tokens`` and
    ``temperature`` (Ollama also ``num_ctx`` and ``keep_alive``). ``builtin`` says the
    profile is the one mzt ships, which the family's base-URL variable may redirect (a
    user's own profile names its URL on purpose).
    """
    started = time.monotonic()
    key_env, required = schemas.key_variable(profile, config)
    key = environ.get(key_env, "") if key_env else ""
    literals = [*secret_env_values(environ)]
    if len(key) >= MIN_SECRET_ENV_LENGTH:
        literals.append(key)
    redactor = Redactor(literals)
    request_or_error = _build_request(
        profile, prompt, model, config, environ, key, key_env, required, builtin
    )
    if isinstance(request_or_error, ErrorInfo):
        return _not_started(request_or_error, started)
    request, chosen, priced = request_or_error
    stop = should_stop()
    if stop is not None:
        return _stopped(stop, started)

    # The socket timeout is a backstop for an abandoned thread: the deadline below is
    # what ends the attempt, so it must come first.
    exchange = _Exchange(request, timeout + 5, _proxies(environ, request.host))
    threading.Thread(target=exchange.run, name="mzt-http", daemon=True).start()
    deadline = started + timeout
    next_check = started + _STOP_CHECK_SECONDS
    while not exchange.done.wait(_POLL_SECONDS):
        now = time.monotonic()
        if now >= next_check:
            next_check = now + _STOP_CHECK_SECONDS
            stop = should_stop()
            if stop is not None:
                exchange.abandon()
                return _stopped(stop, started)
        if now >= deadline:
            exchange.abandon()
            return _timed_out(timeout, started, redactor, stderr_log, tail_bytes)
    return _finish(
        profile, chosen, priced, exchange, started, redactor, stdout_log, stderr_log, tail_bytes
    )


def _build_request(
    profile: InstrumentProfile,
    prompt: str,
    model: str | None,
    config: Mapping[str, Any],
    environ: Mapping[str, str],
    key: str,
    key_env: str | None,
    required: bool,
    builtin: bool,
) -> tuple[urllib.request.Request, str, bool] | ErrorInfo:
    """The request, its model, and whether the profile's prices are this server's."""
    if not supported(profile) or profile.http is None:
        family = profile.http.schema_family if profile.http else "none"
        return ErrorInfo(
            "E301", "configuration", False, f"mzt cannot call {family!r} HTTP instruments yet"
        )
    if required and not key:
        return ErrorInfo(
            "E502", "auth", False, f"the API key variable {key_env} is not set in the environment"
        )
    chosen = model or _text(config.get("model")) or profile.default_model
    if not chosen:
        return ErrorInfo(
            "E301", "configuration", False, "no model: set instrument_config.model or a default"
        )
    base = schemas.base_url(profile, config, environ, builtin)
    built = schemas.build(profile, prompt, chosen, config, key, base)
    if isinstance(built, ErrorInfo):
        return built
    # `schemas.build` checked the scheme: only http and https reach urllib.
    request = urllib.request.Request(  # noqa: S310
        built.url,
        data=json.dumps(built.body, ensure_ascii=False).encode("utf-8"),
        method="POST",
        headers=dict(built.headers),
    )
    # A model the profile does not list, on a server the profile does not name (a local
    # llama.cpp or vLLM behind `openai_api`), is not priced as the profile's default:
    # the score's cost_limits rates price its tokens instead. Any Ollama server runs
    # its models locally, at the profile's (free) prices.
    priced = (
        profile.model_spec(chosen) is not None
        or base == profile.http.base_url.rstrip("/")
        or profile.http.schema_family == "ollama"
    )
    return request, chosen, priced


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _finish(
    profile: InstrumentProfile,
    model: str,
    priced: bool,
    exchange: _Exchange,
    started: float,
    redactor: Redactor,
    stdout_log: Path | None,
    stderr_log: Path | None,
    tail_bytes: int,
) -> HttpAttempt:
    duration = time.monotonic() - started
    if exchange.failure is not None or exchange.status is None:
        error = _connection_error(exchange.failure)
        if error.code == "E504":
            return _timed_out(duration, started, redactor, stderr_log, tail_bytes)
        line = redactor.redact(f"{error.message}: {_describe(exchange.failure)}")
        return _failed(error, line, "", duration, stdout_log, stderr_log, tail_bytes)
    body = redactor.redact(exchange.body.decode("utf-8", errors="replace"))
    status = exchange.status
    doc = _json(body)
    if 200 <= status <= 299 and not _error_document(doc):
        return _answered(
            profile, model, priced, doc, body, exchange, duration, stdout_log, tail_bytes
        )
    message = _error_message(doc) or body.strip()[:500]
    # classify_text covers an error document with a 2xx status, or a 1xx/3xx.
    answer_error = (
        http_status_error(status, message, _retry_after(exchange.headers))
        or classify_text(message)
        or ErrorInfo("E503", "transient", True, f"unexpected answer (HTTP {status})", 15)
    )
    line = f"HTTP {status} {exchange.reason}".rstrip() + (f": {message}" if message else "")
    if "retry-after" in exchange.headers:
        line += f" (retry-after: {exchange.headers['retry-after']})"
    return _failed(
        answer_error, redactor.redact(line), body, duration, stdout_log, stderr_log, tail_bytes
    )


def _answered(
    profile: InstrumentProfile,
    model: str,
    priced: bool,
    doc: Any,
    body: str,
    exchange: _Exchange,
    duration: float,
    stdout_log: Path | None,
    tail_bytes: int,
) -> HttpAttempt:
    assert profile.http is not None
    kind = profile.http.schema_family
    reply = schemas.read(kind, doc)
    if reply is None:
        error = ErrorInfo("E503", "transient", True, "the API answered without a message", 15)
        head = body.strip()[:200].replace("\n", " ")
        line = f"HTTP {exchange.status}: not {schemas.ANSWER_NAMES[kind]} (it starts {head!r})"
        return _failed(error, line, body, duration, stdout_log, None, tail_bytes)
    warnings: list[str] = []
    if reply.cut_off:
        warnings.append("the answer was cut off at max_tokens; raise instrument_config.max_tokens")
    if not reply.texts:
        warnings.append("the answer holds no text")
    if exchange.truncated:
        warnings.append(f"the response was longer than {MAX_RESPONSE_BYTES} bytes and was cut")
    cost, note = (
        token_cost(profile, model, reply.input_tokens, reply.output_tokens)
        if priced
        else (None, None)
    )
    if note:
        warnings.append(note)
    _write(stdout_log, body)
    outcome = _outcome(0, "completed", duration, body, "", tail_bytes, exchange.truncated)
    result = InstrumentResult(
        success=True,
        result_text="\n".join(reply.texts),
        error_text=None,
        input_tokens=reply.input_tokens,
        output_tokens=reply.output_tokens,
        cost_usd=cost,
        warnings=tuple(warnings),
    )
    return HttpAttempt(outcome, result, None)


def _failed(
    error: ErrorInfo,
    line: str,
    body: str,
    duration: float,
    stdout_log: Path | None,
    stderr_log: Path | None,
    tail_bytes: int,
) -> HttpAttempt:
    _write(stdout_log, body)
    _write(stderr_log, line + "\n")
    outcome = _outcome(1, "completed", duration, body, line, tail_bytes, False)
    result = InstrumentResult(False, body, line, None, None, None)
    return HttpAttempt(outcome, result, error)


def _json(body: str) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None


def _outcome(
    exit_code: int | None,
    reason: ExitReason,
    duration: float,
    stdout: str,
    stderr: str,
    tail_bytes: int,
    truncated: bool,
) -> Outcome:
    out, err = stdout.encode("utf-8"), stderr.encode("utf-8")
    return Outcome(
        exit_code=exit_code,
        signal=None,
        reason=reason,
        duration=duration,
        stdout_tail=_tail(out, tail_bytes),
        stderr_tail=_tail(err, tail_bytes),
        stdout_bytes=len(out),
        stderr_bytes=len(err),
        truncated=truncated or len(out) > tail_bytes or len(err) > tail_bytes,
    )


def _tail(data: bytes, limit: int) -> str:
    return data[-limit:].decode("utf-8", errors="ignore") if limit > 0 else ""


def _write(path: Path | None, text: str) -> None:
    """Write a log the way the child path does: created only when there is something."""
    if path is None or not text:
        return
    fd = open_nofollow(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    with os.fdopen(fd, "wb") as fh:
        fh.write(text.encode("utf-8"))


def _not_started(error: ErrorInfo, started: float) -> HttpAttempt:
    duration = time.monotonic() - started
    # Like a child that could not be spawned: nothing was sent, the reason is the error.
    outcome = Outcome(
        None, None, "error", duration, "", error.message, 0, 0, False, error=error.message
    )
    result = InstrumentResult(False, "", error.message, None, None, None)
    return HttpAttempt(outcome, result, error)


def _stopped(stop: StopRequest, started: float) -> HttpAttempt:
    duration = time.monotonic() - started
    message = f"the request was abandoned ({stop.reason})"
    outcome = Outcome(None, None, stop.reason, duration, "", "", 0, 0, False)
    return HttpAttempt(outcome, InstrumentResult(False, "", message, None, None, None), None)


def _timed_out(
    timeout: float,
    started: float,
    redactor: Redactor,
    stderr_log: Path | None,
    tail_bytes: int,
) -> HttpAttempt:
    duration = time.monotonic() - started
    error = ErrorInfo("E504", "timeout", True, f"the API did not answer in {timeout:.0f} s", 60)
    line = redactor.redact(error.message)
    _write(stderr_log, line + "\n")
    outcome = _outcome(None, "timeout", duration, "", line, tail_bytes, False)
    return HttpAttempt(outcome, InstrumentResult(False, "", line, None, None, None), error)
