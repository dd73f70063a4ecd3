"""HTTP instruments: Anthropic's Messages API (`anthropic_api`), standard library only.

`call_messages_api` sends one prompt as one user message and returns what the
command-line path returns for a finished child: an `Outcome` (exit code 0 on success,
1 on an HTTP or connection error; stdout is the response body, stderr one error line)
and an `InstrumentResult` (the text blocks of the answer, tokens, cost), plus the
`ErrorInfo` the HTTP status already tells precisely (429/529 rate limit with the
``retry-after`` header as the wait, 401/403 authentication, 5xx server error,
connection and name-resolution failures, timeout).

The request runs on a daemon thread that the caller polls, so a cancel or the attempt
timeout ends the attempt at once: the connection is shut down and the thread left to
finish on its own. The API key is read from the environment variable the instrument
config names (``api_key_env``), else the profile's ``http.auth_env_var``, else
``ANTHROPIC_API_KEY``; it is sent only in the ``x-api-key`` header and redacted from
everything written or returned. The base URL is the profile's ``http.base_url``; for
the built-in profile ``ANTHROPIC_BASE_URL`` overrides it, as in Anthropic's own SDKs.
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from mzt.instruments.classify import ErrorInfo, classify_text, http_status_error
from mzt.instruments.http_errors import _connection_error, _describe, _error_message, _retry_after
from mzt.instruments.http_exchange import MAX_RESPONSE_BYTES, _Exchange, _proxies
from mzt.instruments.parsing import InstrumentResult, token_cost
from mzt.instruments.profile import InstrumentProfile
from mzt.support import records
from mzt.support.fsutil import open_nofollow
from mzt.support.process import DEFAULT_TAIL_BYTES, ExitReason, Outcome, StopRequest
from mzt.support.redact import MIN_SECRET_ENV_LENGTH, Redactor, secret_env_values

ANTHROPIC_VERSION = "2023-06-01"
DEFAULT_KEY_ENV = "ANTHROPIC_API_KEY"
BASE_URL_ENV = "ANTHROPIC_BASE_URL"
"""Overrides the built-in profile's base URL (a proxy, a gateway, a test server)."""
DEFAULT_MAX_TOKENS = 16384
"""``max_tokens`` when the config sets none (Marianne's default), capped by the model."""
_POLL_SECONDS = 0.05
_STOP_CHECK_SECONDS = 0.25  # the stop callback reads files: not on every tick
_USER_AGENT = "mzt (anthropic_api instrument)"


def supported(profile: InstrumentProfile) -> bool:
    """Whether mzt can call this HTTP profile (the Anthropic schema only, for now)."""
    return profile.http is not None and profile.http.schema_family == "anthropic"


@records.record(frozen=True, slots=True)
class HttpAttempt:
    """One finished call: what the attempt code needs, shaped like a child's outcome."""

    outcome: Outcome
    result: InstrumentResult
    error: ErrorInfo | None


def call_messages_api(
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
    """Send ``prompt`` to the Messages API and read the answer; never raises on I/O.

    ``model`` wins over ``config["model"]``, which wins over the profile's default.
    From ``config`` this reads ``api_key_env``, ``max_tokens`` and ``temperature``.
    ``builtin`` says the profile is the one mzt ships, which `BASE_URL_ENV` may
    redirect (a user's own profile names its URL on purpose).
    """
    started = time.monotonic()
    key_env = _text(config.get("api_key_env")) or _auth_env(profile) or DEFAULT_KEY_ENV
    key = environ.get(key_env, "")
    literals = [*secret_env_values(environ)]
    if len(key) >= MIN_SECRET_ENV_LENGTH:
        literals.append(key)
    redactor = Redactor(literals)
    request_or_error = _build_request(
        profile, prompt, model, config, environ, key, key_env, builtin
    )
    if isinstance(request_or_error, ErrorInfo):
        return _not_started(request_or_error, started)
    request, chosen = request_or_error
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
    return _finish(profile, chosen, exchange, started, redactor, stdout_log, stderr_log, tail_bytes)


def _build_request(
    profile: InstrumentProfile,
    prompt: str,
    model: str | None,
    config: Mapping[str, Any],
    environ: Mapping[str, str],
    key: str,
    key_env: str,
    builtin: bool,
) -> tuple[urllib.request.Request, str] | ErrorInfo:
    if not supported(profile) or profile.http is None:
        family = profile.http.schema_family if profile.http else "none"
        return ErrorInfo(
            "E301", "configuration", False, f"mzt cannot call {family!r} HTTP instruments yet"
        )
    if not key:
        return ErrorInfo(
            "E502", "auth", False, f"the API key variable {key_env} is not set in the environment"
        )
    chosen = model or _text(config.get("model")) or profile.default_model
    if not chosen:
        return ErrorInfo(
            "E301", "configuration", False, "no model: set instrument_config.model or a default"
        )
    base = profile.http.base_url
    if builtin and environ.get(BASE_URL_ENV):
        base = environ[BASE_URL_ENV]
    url = base.rstrip("/") + "/" + profile.http.endpoint.lstrip("/")
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        return ErrorInfo("E301", "configuration", False, f"not an http(s) URL: {url}")
    body: dict[str, Any] = {
        "model": chosen,
        "max_tokens": _max_tokens(profile, chosen, config.get("max_tokens")),
        "messages": [{"role": "user", "content": prompt}],
    }
    temperature = config.get("temperature")
    if isinstance(temperature, int | float) and not isinstance(temperature, bool):
        body["temperature"] = temperature
    # The scheme was checked above: only http and https reach urllib.
    request = urllib.request.Request(  # noqa: S310
        url,
        data=json.dumps(body, ensure_ascii=False).encode("utf-8"),
        method="POST",
        headers={
            "content-type": "application/json",
            "accept": "application/json",
            "anthropic-version": ANTHROPIC_VERSION,
            "x-api-key": key,
            "user-agent": _USER_AGENT,
        },
    )
    return request, chosen


def _max_tokens(profile: InstrumentProfile, model: str, configured: object) -> int:
    if isinstance(configured, int) and not isinstance(configured, bool) and configured > 0:
        return configured
    spec = profile.model_spec(model)
    if spec is not None and spec.max_output_tokens:
        return min(DEFAULT_MAX_TOKENS, spec.max_output_tokens)
    return DEFAULT_MAX_TOKENS


def _auth_env(profile: InstrumentProfile) -> str | None:
    return profile.http.auth_env_var if profile.http is not None else None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _finish(
    profile: InstrumentProfile,
    model: str,
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
    if 200 <= status <= 299 and not (isinstance(doc, dict) and doc.get("type") == "error"):
        return _answered(profile, model, doc, body, exchange, duration, stdout_log, tail_bytes)
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
    doc: Any,
    body: str,
    exchange: _Exchange,
    duration: float,
    stdout_log: Path | None,
    tail_bytes: int,
) -> HttpAttempt:
    content = doc.get("content") if isinstance(doc, dict) else None
    if not isinstance(content, list):
        error = ErrorInfo("E503", "transient", True, "the API answered without a message", 15)
        head = body.strip()[:200].replace("\n", " ")
        line = f"HTTP {exchange.status}: not a Messages API answer (it starts {head!r})"
        return _failed(error, line, body, duration, stdout_log, None, tail_bytes)
    texts = [
        block["text"]
        for block in content
        if isinstance(block, dict)
        and block.get("type") == "text"
        and isinstance(block.get("text"), str)
    ]
    usage = doc.get("usage") if isinstance(doc.get("usage"), dict) else {}
    input_tokens = _count(usage.get("input_tokens"))
    output_tokens = _count(usage.get("output_tokens"))
    warnings: list[str] = []
    if doc.get("stop_reason") == "max_tokens":
        warnings.append("the answer was cut off at max_tokens; raise instrument_config.max_tokens")
    if not texts:
        warnings.append("the answer holds no text block")
    if exchange.truncated:
        warnings.append(f"the response was longer than {MAX_RESPONSE_BYTES} bytes and was cut")
    cost, note = token_cost(profile, model, input_tokens, output_tokens)
    if note:
        warnings.append(note)
    _write(stdout_log, body)
    outcome = _outcome(0, "completed", duration, body, "", tail_bytes, exchange.truncated)
    result = InstrumentResult(
        success=True,
        result_text="\n".join(texts),
        error_text=None,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
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


def _count(value: object) -> int | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return int(value) if value >= 0 else None
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
