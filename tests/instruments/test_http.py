"""The `anthropic_api` HTTP instrument against a real local server on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from mzt.instruments import InstrumentProfile, Registry
from mzt.instruments.http import HttpAttempt, call_http_api, supported
from mzt.instruments.http_errors import _connection_error
from mzt.instruments.http_exchange import _proxies
from mzt.support.process import StopRequest
from tests.instruments.http_server import Reply, _Server, closed_port_url, serve, url_of

KEY = "sk-ant-api03-test-key-0123456789abcdef"
MODEL = "claude-sonnet-4-5-20250929"

# A Messages API answer as the API sends it (two text blocks around a thinking block).
ANSWER = {
    "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
    "type": "message",
    "role": "assistant",
    "model": MODEL,
    "content": [
        {"type": "text", "text": "Hello from the API."},
        {"type": "thinking", "thinking": "…", "signature": "abc"},
        {"type": "text", "text": "Second block."},
    ],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 1200,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": 300,
    },
}
RATE_LIMITED = {
    "type": "error",
    "error": {
        "type": "rate_limit_error",
        "message": "This request would exceed the rate limit for your organization of 50,000 "
        "input tokens per minute.",
    },
    "request_id": "req_011CSHoEeqs5C35K2UUqR7Fy",
}
OVERLOADED = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
BAD_KEY = {
    "type": "error",
    "error": {"type": "authentication_error", "message": "invalid x-api-key"},
}
SERVER_ERROR = {"type": "error", "error": {"type": "api_error", "message": "Internal server error"}}
NO_CREDIT = {
    "type": "error",
    "error": {
        "type": "invalid_request_error",
        "message": "Your credit balance is too low to access the Anthropic API. Please go to "
        "Plans & Billing to upgrade or purchase credits.",
    },
}


@pytest.fixture
def server() -> Iterator[_Server]:
    with serve(Reply(body=ANSWER)) as httpd:
        yield httpd


@pytest.fixture
def profile(registry: Registry) -> InstrumentProfile:
    instrument = registry.get("anthropic_api")
    assert instrument is not None
    return instrument.profile


def pointed(profile: InstrumentProfile, base_url: str) -> InstrumentProfile:
    assert profile.http is not None
    return profile.model_copy(
        update={"http": profile.http.model_copy(update={"base_url": base_url})}
    )


def call(
    profile: InstrumentProfile,
    *,
    base_url: str,
    tmp_path: Path,
    config: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
    timeout: float = 10,
    should_stop: Callable[[], StopRequest | None] = lambda: None,
    model: str | None = None,
    builtin: bool = False,
) -> HttpAttempt:
    return call_http_api(
        pointed(profile, base_url),
        "Say hello.",
        model=model,
        config=config or {},
        timeout=timeout,
        environ={"ANTHROPIC_API_KEY": KEY} if environ is None else environ,
        should_stop=should_stop,
        stdout_log=tmp_path / "attempt.stdout",
        stderr_log=tmp_path / "attempt.stderr",
        builtin=builtin,
    )


def everything(attempt: HttpAttempt, tmp_path: Path) -> str:
    """All text the attempt produced: what could leak a key."""
    logs = [p.read_text() for p in tmp_path.glob("attempt.*")]
    return "\n".join([repr(attempt), *logs])


# --- success ----------------------------------------------------------------------------------


def test_success_sends_the_documented_request_and_reads_the_answer(
    server: _Server, profile: InstrumentProfile, tmp_path: Path
) -> None:
    attempt = call(profile, base_url=url_of(server), tmp_path=tmp_path)

    assert attempt.error is None
    assert attempt.outcome.reason == "completed" and attempt.outcome.exit_code == 0
    assert attempt.outcome.succeeded
    result = attempt.result
    assert result.success and result.error_text is None
    assert result.result_text == "Hello from the API.\nSecond block."
    assert (result.input_tokens, result.output_tokens) == (1200, 300)
    assert result.cost_usd == pytest.approx(1.2 * 0.003 + 0.3 * 0.015)
    assert result.warnings == ()

    (seen,) = server.seen
    assert seen.path == "/v1/messages"
    assert seen.headers["x-api-key"] == KEY
    assert seen.headers["anthropic-version"] == "2023-06-01"
    assert seen.headers["content-type"] == "application/json"
    assert seen.body == {
        "model": MODEL,  # the profile's default model
        "max_tokens": 16384,
        "messages": [{"role": "user", "content": "Say hello."}],
    }
    # The body is the attempt's stdout, in its log, as `mzt logs` shows it.
    logged = json.loads((tmp_path / "attempt.stdout").read_text())
    assert logged == ANSWER
    assert json.loads(attempt.outcome.stdout_tail) == ANSWER
    assert not (tmp_path / "attempt.stderr").exists()
    assert KEY not in everything(attempt, tmp_path)


def test_model_max_tokens_and_temperature_come_from_the_config(
    server: _Server, profile: InstrumentProfile, tmp_path: Path
) -> None:
    config = {"model": "claude-haiku-4-5-20251001", "max_tokens": 512, "temperature": 0.2}
    attempt = call(profile, base_url=url_of(server), tmp_path=tmp_path, config=config)
    assert attempt.error is None
    assert server.seen[0].body["model"] == "claude-haiku-4-5-20251001"
    assert server.seen[0].body["max_tokens"] == 512
    assert server.seen[0].body["temperature"] == 0.2
    # Priced as the model that ran.
    assert attempt.result.cost_usd == pytest.approx(1.2 * 0.001 + 0.3 * 0.005)


def test_the_sheet_model_wins_over_the_config(
    server: _Server, profile: InstrumentProfile, tmp_path: Path
) -> None:
    call(
        profile,
        base_url=url_of(server),
        tmp_path=tmp_path,
        config={"model": "claude-haiku-4-5-20251001"},
        model="claude-opus-4-5-20251101",
    )
    assert server.seen[0].body["model"] == "claude-opus-4-5-20251101"


def test_key_variable_named_by_the_config(
    server: _Server, profile: InstrumentProfile, tmp_path: Path
) -> None:
    environ = {"FAKE_KEY": "sk-fake-0123456789", "ANTHROPIC_API_KEY": KEY}
    attempt = call(
        profile,
        base_url=url_of(server),
        tmp_path=tmp_path,
        config={"api_key_env": "FAKE_KEY"},
        environ=environ,
    )
    assert attempt.error is None
    assert server.seen[0].headers["x-api-key"] == "sk-fake-0123456789"


def test_cut_off_answer_is_a_success_with_a_warning(
    server: _Server, profile: InstrumentProfile, tmp_path: Path
) -> None:
    server.reply = Reply(body={**ANSWER, "stop_reason": "max_tokens"})
    attempt = call(profile, base_url=url_of(server), tmp_path=tmp_path)
    assert attempt.result.success
    assert any("max_tokens" in w for w in attempt.result.warnings)


def test_base_url_variable_redirects_the_built_in_profile_only(
    server: _Server, profile: InstrumentProfile, tmp_path: Path
) -> None:
    environ = {"ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": url_of(server) + "/"}
    # The profile points at a closed port; the variable points at the server.
    attempt = call(
        profile, base_url=closed_port_url(), tmp_path=tmp_path, environ=environ, builtin=True
    )
    assert attempt.error is None and len(server.seen) == 1
    # A user's own profile keeps the URL it names.
    attempt = call(profile, base_url=closed_port_url(), tmp_path=tmp_path, environ=environ)
    assert attempt.error is not None and attempt.error.code == "E901"
    assert len(server.seen) == 1


# --- HTTP errors ------------------------------------------------------------------------------


def test_429_is_a_rate_limit_waiting_for_retry_after(
    server: _Server, profile: InstrumentProfile, tmp_path: Path
) -> None:
    server.reply = Reply(429, RATE_LIMITED, {"retry-after": "30"})
    attempt = call(profile, base_url=url_of(server), tmp_path=tmp_path)
    error = attempt.error
    assert error is not None
    assert (error.code, error.category, error.retriable) == ("E101", "rate_limit", True)
    assert error.rate_limited and error.suggested_wait == 30
    assert attempt.outcome.reason == "completed" and attempt.outcome.exit_code == 1
    assert not attempt.result.success
    assert attempt.result.error_text is not None
    assert attempt.result.error_text.startswith("HTTP 429")
    assert "rate_limit_error" in attempt.result.error_text
    assert "retry-after: 30" in attempt.outcome.stderr_tail
    assert json.loads((tmp_path / "attempt.stdout").read_text()) == RATE_LIMITED
    assert "HTTP 429" in (tmp_path / "attempt.stderr").read_text()


def test_429_retry_after_as_an_http_date(
    server: _Server, profile: InstrumentProfile, tmp_path: Path
) -> None:
    when = datetime.now(UTC) + timedelta(seconds=120)
    server.reply = Reply(429, RATE_LIMITED, {"retry-after": format_datetime(when, usegmt=True)})
    error = call(profile, base_url=url_of(server), tmp_path=tmp_path).error
    assert error is not None and error.code == "E101"
    assert 100 <= error.suggested_wait <= 121


def test_429_without_retry_after_waits_the_default(
    server: _Server, profile: InstrumentProfile, tmp_path: Path
) -> None:
    server.reply = Reply(429, RATE_LIMITED)
    error = call(profile, base_url=url_of(server), tmp_path=tmp_path).error
    assert error is not None and (error.code, error.suggested_wait) == ("E101", 3600)


def test_529_is_over_capacity(server: _Server, profile: InstrumentProfile, tmp_path: Path) -> None:
    server.reply = Reply(529, OVERLOADED)
    error = call(profile, base_url=url_of(server), tmp_path=tmp_path).error
    assert error is not None
    assert (error.code, error.category, error.rate_limited) == ("E103", "rate_limit", True)


def test_401_is_an_auth_failure(
    server: _Server, profile: InstrumentProfile, tmp_path: Path
) -> None:
    server.reply = Reply(401, BAD_KEY)
    attempt = call(profile, base_url=url_of(server), tmp_path=tmp_path)
    error = attempt.error
    assert error is not None
    assert (error.code, error.category, error.retriable) == ("E502", "auth", False)
    assert attempt.outcome.exit_code == 1
    assert "authentication_error: invalid x-api-key" in attempt.outcome.stderr_tail


def test_403_is_an_auth_failure(
    server: _Server, profile: InstrumentProfile, tmp_path: Path
) -> None:
    body = {"type": "error", "error": {"type": "permission_error", "message": "no access"}}
    server.reply = Reply(403, body)
    error = call(profile, base_url=url_of(server), tmp_path=tmp_path).error
    assert error is not None and (error.code, error.retriable) == ("E502", False)


def test_500_is_a_retriable_server_error(
    server: _Server, profile: InstrumentProfile, tmp_path: Path
) -> None:
    server.reply = Reply(500, SERVER_ERROR)
    error = call(profile, base_url=url_of(server), tmp_path=tmp_path).error
    assert error is not None
    assert (error.code, error.category, error.retriable) == ("E503", "transient", True)
    assert not error.rate_limited


def test_400_with_no_credit_is_a_quota(
    server: _Server, profile: InstrumentProfile, tmp_path: Path
) -> None:
    server.reply = Reply(400, NO_CREDIT)
    error = call(profile, base_url=url_of(server), tmp_path=tmp_path).error
    assert error is not None and error.code == "E104"


def test_404_model_is_a_configuration_error(
    server: _Server, profile: InstrumentProfile, tmp_path: Path
) -> None:
    body = {"type": "error", "error": {"type": "not_found_error", "message": "model: claude-x"}}
    server.reply = Reply(404, body)
    error = call(profile, base_url=url_of(server), tmp_path=tmp_path).error
    assert error is not None and (error.code, error.retriable) == ("E301", False)


def test_malformed_json_is_a_bad_response(
    server: _Server, profile: InstrumentProfile, tmp_path: Path
) -> None:
    server.reply = Reply(200, b'{"id": "msg_01", "content": [')
    attempt = call(profile, base_url=url_of(server), tmp_path=tmp_path)
    error = attempt.error
    assert error is not None
    assert (error.code, error.retriable) == ("E503", True)
    assert not attempt.result.success
    assert attempt.outcome.exit_code == 1
    assert "not a Messages API answer" in attempt.outcome.stderr_tail
    # The raw body is kept where `mzt logs` finds it.
    assert (tmp_path / "attempt.stdout").read_text() == '{"id": "msg_01", "content": ['


def test_an_echoed_key_is_redacted_everywhere(
    server: _Server, profile: InstrumentProfile, tmp_path: Path
) -> None:
    body = {"type": "error", "error": {"type": "authentication_error", "message": f"bad {KEY}"}}
    server.reply = Reply(401, body)
    attempt = call(profile, base_url=url_of(server), tmp_path=tmp_path)
    text = everything(attempt, tmp_path)
    assert KEY not in text
    assert "[REDACTED" in attempt.outcome.stdout_tail


def test_a_key_from_a_plainly_named_variable_is_redacted(
    server: _Server, profile: InstrumentProfile, tmp_path: Path
) -> None:
    # A variable whose name does not look secret: only the config says it holds the key.
    secret = "zz-plain-looking-value-42"
    server.reply = Reply(401, {"type": "error", "error": {"type": "x", "message": secret}})
    attempt = call(
        profile,
        base_url=url_of(server),
        tmp_path=tmp_path,
        config={"api_key_env": "CLAUDE_ACCESS"},
        environ={"CLAUDE_ACCESS": secret},
    )
    assert secret not in everything(attempt, tmp_path)


# --- failures before or around the request ----------------------------------------------------


def test_missing_key_fails_without_a_request(
    server: _Server, profile: InstrumentProfile, tmp_path: Path
) -> None:
    attempt = call(profile, base_url=url_of(server), tmp_path=tmp_path, environ={})
    error = attempt.error
    assert error is not None
    assert (error.code, error.category, error.retriable) == ("E502", "auth", False)
    assert "ANTHROPIC_API_KEY" in error.message
    assert attempt.outcome.reason == "error"
    assert server.seen == []


def test_connection_refused_on_a_closed_port(profile: InstrumentProfile, tmp_path: Path) -> None:
    started = time.monotonic()
    attempt = call(profile, base_url=closed_port_url(), tmp_path=tmp_path)
    assert time.monotonic() - started < 5
    error = attempt.error
    assert error is not None
    assert (error.code, error.category, error.retriable) == ("E901", "network", True)
    assert attempt.outcome.exit_code == 1
    assert "Connection refused" in attempt.outcome.stderr_tail or "refused" in (
        attempt.result.error_text or ""
    )
    assert "refused" in (tmp_path / "attempt.stderr").read_text().lower()


def test_stop_request_abandons_a_slow_server_within_a_second(
    server: _Server, profile: InstrumentProfile, tmp_path: Path
) -> None:
    server.reply = Reply(delay=30)
    asked: list[float] = []

    def should_stop() -> StopRequest | None:
        if len(server.seen) and not asked:
            asked.append(time.monotonic())
        return StopRequest("cancelled") if asked else None

    attempt = call(profile, base_url=url_of(server), tmp_path=tmp_path, should_stop=should_stop)
    ended = time.monotonic()
    assert asked and ended - asked[0] < 1.0
    assert attempt.outcome.reason == "cancelled"
    assert attempt.outcome.exit_code is None
    assert not attempt.result.success


def test_slow_server_times_out(server: _Server, profile: InstrumentProfile, tmp_path: Path) -> None:
    server.reply = Reply(delay=30)
    started = time.monotonic()
    attempt = call(profile, base_url=url_of(server), tmp_path=tmp_path, timeout=0.5)
    assert time.monotonic() - started < 10  # the server would answer after 30 s
    error = attempt.error
    assert error is not None
    assert (error.code, error.category, error.retriable) == ("E504", "timeout", True)
    assert attempt.outcome.reason == "timeout" and attempt.outcome.exit_code is None
    assert "did not answer" in (tmp_path / "attempt.stderr").read_text()


def test_already_stopped_sends_nothing(
    server: _Server, profile: InstrumentProfile, tmp_path: Path
) -> None:
    attempt = call(
        profile,
        base_url=url_of(server),
        tmp_path=tmp_path,
        should_stop=lambda: StopRequest("interrupted"),
    )
    assert attempt.outcome.reason == "interrupted"
    assert server.seen == []


def test_a_non_http_url_is_a_configuration_error(
    profile: InstrumentProfile, tmp_path: Path
) -> None:
    error = call(profile, base_url="file:///etc", tmp_path=tmp_path).error
    assert error is not None and (error.code, error.retriable) == ("E301", False)


def test_the_gemini_family_is_described_but_not_called(
    profile: InstrumentProfile, tmp_path: Path
) -> None:
    assert profile.http is not None
    gemini = profile.model_copy(
        update={"http": profile.http.model_copy(update={"schema_family": "gemini"})}
    )
    assert supported(profile) and not supported(gemini)
    attempt = call_http_api(
        gemini, "hi", model=None, config={}, timeout=5, environ={"ANTHROPIC_API_KEY": KEY}
    )
    assert attempt.error is not None and attempt.error.code == "E301"
    assert "'gemini'" in attempt.error.message


@pytest.mark.parametrize(
    ("failure", "code"),
    [
        (urllib.error.URLError(socket.gaierror(-2, "Name or service not known")), "E902"),
        (urllib.error.URLError(ConnectionRefusedError(111, "Connection refused")), "E901"),
        (ConnectionResetError(104, "Connection reset by peer"), "E901"),
        (urllib.error.URLError(TimeoutError("timed out")), "E504"),
        (TimeoutError("The read operation timed out"), "E504"),
        (urllib.error.URLError("unknown url type: ftp"), "E301"),
    ],
)
def test_connection_errors(failure: BaseException, code: str) -> None:
    assert _connection_error(failure).code == code


def test_proxies_come_from_the_attempt_environment() -> None:
    environ = {"HTTPS_PROXY": "http://proxy:3128", "http_proxy": "http://lower:3128"}
    assert _proxies(environ, "api.anthropic.com") == {
        "https": "http://proxy:3128",
        "http": "http://lower:3128",
    }
    bypassed = {**environ, "NO_PROXY": "127.0.0.1,localhost"}
    assert _proxies(bypassed, "127.0.0.1:8080") == {}
    assert _proxies({}, "api.anthropic.com") == {}
