"""How an attempt ended → error code, category, retry verdict and suggested wait."""

from __future__ import annotations

import signal

import pytest

from mzt.instruments.classify import (
    ErrorInfo,
    classify,
    classify_structured,
    classify_text,
    http_status_error,
    validation_error,
)
from mzt.instruments.limits import detect_limit, parse_structured
from mzt.instruments.waits import extract_wait
from mzt.support.process import ExitReason, Outcome

CLAUDE_USAGE_LIMIT = "You've hit your limit · resets 3am (Europe/Oslo)"
ANTHROPIC_429 = (
    'API Error: 429 {"type":"error","error":{"type":"rate_limit_error","message":"This '
    "request would exceed the rate limit for your organization of 50,000 input tokens per "
    'minute. For details, refer to: https://docs.claude.com/en/api/rate-limits."}}'
)
ANTHROPIC_529 = (
    'API Error: 529 {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'
)
CREDIT_TOO_LOW = (
    "Credit balance is too low to access the Anthropic API. Please go to Plans & Billing to "
    "upgrade or purchase credits."
)
INVALID_KEY = "Invalid API key · Please run /login"
ENOTFOUND = (
    "Error: getaddrinfo ENOTFOUND api.anthropic.com\n"
    "    at GetAddrInfoReqWrap.onlookup [as oncomplete] (node:dns:120:26)"
)


def outcome(
    *,
    reason: ExitReason = "completed",
    exit_code: int | None = 1,
    sig: int | None = None,
    stdout: str = "",
    stderr: str = "",
    duration: float = 12.0,
    error: str | None = None,
) -> Outcome:
    return Outcome(
        exit_code=exit_code,
        signal=sig,
        reason=reason,
        duration=duration,
        stdout_tail=stdout,
        stderr_tail=stderr,
        stdout_bytes=len(stdout),
        stderr_bytes=len(stderr),
        truncated=False,
        error=error,
    )


def killed(sig: int, text: str = "") -> Outcome:
    return outcome(exit_code=None, sig=sig, stderr=text)


def found(text: str) -> ErrorInfo:
    info = classify_text(text)
    assert info is not None, text
    return info


# --- how the process ended --------------------------------------------------------------------


def test_spawn_error_is_e505_and_not_retriable() -> None:
    info = classify(
        outcome(
            reason="error", exit_code=None, error="Executable not found: claude (PATH=/usr/bin)"
        )
    )
    assert info == ErrorInfo(
        "E505", "configuration", False, "Executable not found: claude (PATH=/usr/bin)"
    )
    assert info.error_type == "permanent"
    assert not info.rate_limited


def test_spawn_error_without_detail_has_a_message() -> None:
    assert classify(outcome(reason="error", exit_code=None)).message == "could not start"


def test_spawn_error_wins_over_rate_limit_text() -> None:
    info = classify(outcome(reason="error", exit_code=None, error="x"), output=ANTHROPIC_429)
    assert info.code == "E505"


def test_timeout_is_e001_retriable_with_60_seconds() -> None:
    info = classify(outcome(reason="timeout", exit_code=None, sig=signal.SIGKILL, duration=1800.4))
    assert (info.code, info.category, info.retriable, info.suggested_wait) == (
        "E001",
        "timeout",
        True,
        60,
    )
    assert info.message == "timed out after 1800 s"
    assert info.error_type == "transient"


def test_timeout_wins_over_rate_limit_text() -> None:
    info = classify(outcome(reason="timeout", exit_code=None), output=CLAUDE_USAGE_LIMIT)
    assert info.code == "E001"


def test_stale_is_e006_retriable_with_120_seconds() -> None:
    info = classify(outcome(reason="stale", exit_code=None, sig=signal.SIGTERM))
    assert (info.code, info.category, info.retriable, info.suggested_wait) == (
        "E006",
        "timeout",
        True,
        120,
    )


@pytest.mark.parametrize(
    "sig",
    [signal.SIGSEGV, signal.SIGBUS, signal.SIGABRT, signal.SIGFPE, signal.SIGILL],
    ids=lambda s: s.name,
)
def test_fatal_signals_are_e003_crashes(sig: signal.Signals) -> None:
    info = classify(killed(sig))
    assert (info.code, info.category, info.retriable) == ("E003", "fatal", False)
    assert info.message == f"crashed ({sig.name})"
    assert info.error_type == "permanent"


def test_fatal_signal_wins_over_oom_words() -> None:
    info = classify(killed(signal.SIGABRT, "FATAL ERROR: JavaScript heap out of memory"))
    assert info.code == "E003"


def test_sigkill_is_e002_retriable() -> None:
    info = classify(killed(signal.SIGKILL, "working on step 3"))
    assert (info.code, info.category, info.retriable, info.suggested_wait) == (
        "E002",
        "signal",
        True,
        30,
    )
    assert info.message == "killed by SIGKILL"


@pytest.mark.parametrize(
    "text",
    [
        "Out of memory: Killed process 4242 (node) total-vm:9000000kB",
        "oom-kill:constraint=CONSTRAINT_MEMCG,task=claude",
        "OSError: [Errno 12] Cannot allocate memory",
        "MemoryError",
    ],
)
def test_sigkill_with_oom_words_is_e005(text: str) -> None:
    info = classify(killed(signal.SIGKILL, text))
    assert (info.code, info.category, info.retriable) == ("E005", "fatal", False)


def test_oom_words_are_read_from_the_given_output() -> None:
    info = classify(killed(signal.SIGKILL), output="Out of memory: Killed process 1 (agent)")
    assert info.code == "E005"


def test_sigint_is_e004_not_retriable() -> None:
    info = classify(killed(signal.SIGINT))
    assert (info.code, info.category, info.retriable) == ("E004", "signal", False)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE], ids=str)
def test_other_signals_are_e002_retriable(sig: signal.Signals) -> None:
    info = classify(killed(sig))
    assert (info.code, info.retriable, info.suggested_wait) == ("E002", True, 30)
    assert info.message == f"killed by {sig.name}"


def test_unknown_signal_number_is_e002() -> None:
    info = classify(killed(99))
    assert (info.code, info.retriable) == ("E002", True)
    assert info.message == "killed by signal 99"


def test_a_signal_kill_is_never_a_rate_limit() -> None:
    info = classify(killed(signal.SIGTERM, ANTHROPIC_429))
    assert info.code == "E002"
    assert not info.rate_limited


def test_plain_non_zero_exit_is_e009() -> None:
    info = classify(outcome(exit_code=2, stderr="Error: something unexpected happened"))
    assert info == ErrorInfo("E009", "transient", True, "exited with status 2", 10)


def test_an_exit_the_profile_calls_permanent_is_not_retried() -> None:
    failed = outcome(exit_code=128, stderr="progress\nfatal: bad revision 'v1.4.0..HEAD'\n")
    info = classify(failed, permanent_exit_codes=(2, 126, 127, 128))
    assert (info.code, info.retriable, info.error_type) == ("E009", False, "permanent")
    assert info.message.startswith("exited with status 128: fatal: bad revision 'v1.4.0..HEAD'")
    assert "not retried" in info.message
    # Other statuses stay retriable, and rate-limit text still wins over the status.
    assert classify(outcome(exit_code=1), permanent_exit_codes=(128,)).retriable
    limited = classify(outcome(exit_code=128, stderr=ANTHROPIC_429), permanent_exit_codes=(128,))
    assert limited.rate_limited


def test_a_deterministic_command_s_own_failure_is_permanent_for_its_attempt() -> None:
    failed = outcome(exit_code=1, stderr="ls: cannot access 'x': No such file or directory\n")
    info = classify(failed, permanent_exit_codes=(2, 126, 127, 128), deterministic=True)
    assert (info.code, info.error_type, info.suggested_wait) == ("E009", "permanent", 0.0)
    assert info.retriable and info.deterministic  # the retry budget still applies
    assert info.message == "exited with status 1: ls: cannot access 'x': No such file or directory"
    # What the output says still wins: a network failure is waited out as usual.
    offline = outcome(exit_code=6, stderr="curl: (6) Could not resolve host: example.org")
    assert classify(offline, deterministic=True).code == "E902"
    assert classify(outcome(exit_code=1, stderr=ANTHROPIC_429), deterministic=True).rate_limited
    # Without the profile's word, a bare status is a transient failure.
    assert classify(outcome(exit_code=1)).error_type == "transient"


def test_exit_zero_without_recognisable_text_is_e999() -> None:
    info = classify(outcome(exit_code=0, stdout='{"type":"result","is_error":true}'))
    assert (info.code, info.retriable, info.suggested_wait) == ("E999", True, 30)


# --- what the output says ---------------------------------------------------------------------


def test_claude_usage_limit_is_rate_limited() -> None:
    info = classify(outcome(exit_code=1, stdout=CLAUDE_USAGE_LIMIT))
    assert info.rate_limited
    assert info.category == "rate_limit"
    assert info.error_type == "rate_limit"
    assert info.code in ("E101", "E104")
    assert 0 < info.suggested_wait <= 24 * 3600  # until 3am in Oslo, whenever that is


def test_claude_usage_limit_is_a_quota() -> None:
    assert classify(outcome(exit_code=1, stdout=CLAUDE_USAGE_LIMIT)).code == "E104"


@pytest.mark.parametrize(
    "text",
    [
        CREDIT_TOO_LOW,
        "Error: quota exceeded for model claude-sonnet-4-5",
        "Claude usage limit reached. Your limit will reset at 5pm (Europe/Oslo).",
        "You have reached your daily token limit.",
        "You've used all your credits for this month.",
        "Rate limit: monthly limit hit, resets in 2 hours",
    ],
)
def test_quota_messages_are_e104(text: str) -> None:
    info = classify(outcome(stderr=text))
    assert (info.code, info.category, info.retriable) == ("E104", "rate_limit", True)
    assert info.rate_limited


def test_quota_wins_over_rate_limit_and_capacity() -> None:
    text = "429 Too Many Requests: rate limit, quota exceeded; servers overloaded"
    assert found(text).code == "E104"


def test_quota_wait_comes_from_the_text_else_an_hour() -> None:
    assert found("quota exceeded; resets in 2 hours").suggested_wait == 7200
    assert found(CREDIT_TOO_LOW).suggested_wait == 3600


@pytest.mark.parametrize(
    "text",
    [
        ANTHROPIC_429,
        "HTTP/1.1 429 Too Many Requests",
        "Error: Rate limit reached for requests",
        "API Error: Rate limit exceeded",
        "ratelimit: please slow down",
    ],
)
def test_rate_limit_messages_are_e101(text: str) -> None:
    info = classify(outcome(stderr=text))
    assert (info.code, info.category, info.retriable) == ("E101", "rate_limit", True)
    assert info.suggested_wait == 3600
    assert info.rate_limited


def test_rate_limit_wait_comes_from_the_text() -> None:
    body = "HTTP/1.1 429 Too Many Requests\nretry-after: 120\ncontent-type: application/json"
    info = classify(outcome(stderr=body))
    assert (info.code, info.suggested_wait) == ("E101", 120)
    assert found("rate limited, retry after 30s").suggested_wait == 30


@pytest.mark.parametrize(
    "text",
    [
        ANTHROPIC_529,
        '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}',
        "503 Service Unavailable",
        "The model is at capacity. Try again later.",
    ],
)
def test_capacity_messages_are_e103(text: str) -> None:
    info = classify(outcome(stderr=text))
    assert (info.code, info.category, info.retriable, info.suggested_wait) == (
        "E103",
        "rate_limit",
        True,
        300,
    )
    assert info.rate_limited


def test_rate_limit_with_capacity_words_is_e103() -> None:
    assert found("429 Too Many Requests: the service is overloaded").code == "E103"


def test_capacity_wait_comes_from_the_text() -> None:
    info = found("overloaded_error: try again in 2 minutes")
    assert (info.code, info.suggested_wait) == ("E103", 120)
    assert found("overloaded_error").suggested_wait == 300


def test_extra_patterns_from_the_score() -> None:
    text = "Slow down, cowboy! Too many prompts this hour."
    assert classify(outcome(stderr=text)).code == "E009"
    info = classify(outcome(stderr=text), rate_limit_patterns=[r"slow down,\s+cowboy"])
    assert (info.code, info.rate_limited) == ("E101", True)


def test_extra_patterns_are_case_insensitive() -> None:
    info = classify(outcome(stderr="THROTTLED BY UPSTREAM"), rate_limit_patterns=["throttled"])
    assert info.code == "E101"


def test_extra_pattern_with_capacity_words_is_e103() -> None:
    info = classify(outcome(stderr="throttled: overloaded"), rate_limit_patterns=["throttled"])
    assert info.code == "E103"


def test_invalid_extra_pattern_is_ignored() -> None:
    info = classify(outcome(exit_code=3, stderr="plain failure"), rate_limit_patterns=["(["])
    assert info.code == "E009"


@pytest.mark.parametrize(
    "text",
    [
        INVALID_KEY,
        "Error: 401 Unauthorized",
        'API Error: 401 {"type":"error","error":{"type":"authentication_error","message":"OAuth token has expired."}}',
        "Not logged in · Please run /login",
        "authentication failed: check ANTHROPIC_API_KEY",
    ],
)
def test_auth_failures_are_e502_not_retriable(text: str) -> None:
    info = classify(outcome(stdout=text))
    assert (info.code, info.category, info.retriable) == ("E502", "auth", False)
    assert info.error_type == "permanent"
    assert not info.rate_limited


def test_auth_failure_found_in_the_tails() -> None:
    info = classify(outcome(stdout='{"type":"result"}', stderr=INVALID_KEY))
    assert info.code == "E502"


def test_given_output_replaces_the_tails() -> None:
    info = classify(outcome(stderr=INVALID_KEY), output="Error: something else entirely")
    assert info.code == "E009"


@pytest.mark.parametrize(
    "text",
    [
        ENOTFOUND,
        "curl: (6) Could not resolve host: api.openai.com",
        "socket.gaierror: [Errno -2] Name or service not known",
    ],
)
def test_dns_failures_are_e902(text: str) -> None:
    info = classify(outcome(stderr=text))
    assert (info.code, info.category, info.retriable, info.suggested_wait) == (
        "E902",
        "network",
        True,
        30,
    )


@pytest.mark.parametrize(
    "text",
    [
        "Error: connect ECONNREFUSED 127.0.0.1:11434",
        "Error: read ECONNRESET",
        "TypeError: fetch failed",
        "curl: (7) Failed to connect: Connection refused",
        "OSError: [Errno 101] Network is unreachable",
    ],
)
def test_network_failures_are_e901(text: str) -> None:
    info = classify(outcome(stderr=text))
    assert (info.code, info.category, info.retriable, info.suggested_wait) == (
        "E901",
        "network",
        True,
        30,
    )


@pytest.mark.parametrize(
    "text",
    [
        "ssl.SSLCertVerificationError: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify "
        "failed: unable to get local issuer certificate",
        "Error: TLS handshake error with api.anthropic.com",
    ],
)
def test_ssl_failures_are_e903(text: str) -> None:
    info = classify(outcome(stderr=text))
    assert (info.code, info.category, info.retriable) == ("E903", "network", True)


def test_ssl_word_alone_is_not_an_ssl_error() -> None:
    assert classify(outcome(exit_code=1, stderr="linked against OpenSSL 3.0.13")).code == "E009"


def test_dns_wins_over_network() -> None:
    assert found(ENOTFOUND + "\nconnection error").code == "E902"


def test_auth_wins_over_network() -> None:
    assert found("connection reset; 401 Unauthorized").code == "E502"


def test_rate_limit_wins_over_auth() -> None:
    assert found("429 Too Many Requests (after 401 Unauthorized on the first try)").code == "E101"


def test_unrecognised_text_gives_none() -> None:
    assert classify_text("Traceback (most recent call last): KeyError: 'x'") is None
    assert classify_text("") is None


# --- wait extraction --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("Please retry after 30s", 30),
        ("retry after 45 seconds", 45),
        ("Retry-After: 120", 120),
        ("retry-after: 90\ncontent-type: application/json", 90),
        ("try again after 2 minutes", 120),
        ("limit resets in 2 hours", 7200),
        ("Your quota resets in 1.5 hours", 5400),
        ("try again in 5 minutes", 300),
        ("Please try again in 20s.", 20),
        ("wait in 10 min", 600),
        ("retry after 3 hours", 10800),
    ],
)
def test_extract_wait(text: str, seconds: float) -> None:
    assert extract_wait(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "text",
    ["", "rate limited", "resets 5", "please try again later"],
)
def test_extract_wait_without_a_duration(text: str) -> None:
    assert extract_wait(text) is None


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("resets at 3pm", 5 * 3600),  # local to the clock given: 10:00 UTC
        ("resets at 14:30", 4.5 * 3600),
        (CLAUDE_USAGE_LIMIT, 16 * 3600),  # 3am in Oslo is 02:00 UTC, tomorrow
        ("resets at 9am", 23 * 3600),  # already past today: tomorrow
    ],
)
def test_extract_wait_until_a_clock_time(
    text: str, seconds: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time
    from datetime import UTC, datetime

    monkeypatch.setenv("TZ", "UTC")  # a clock time without a zone is local time
    time.tzset()
    try:
        now = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
        assert extract_wait(text, now) == pytest.approx(seconds)
    finally:
        monkeypatch.undo()
        time.tzset()


def test_extract_wait_milliseconds_are_not_minutes() -> None:
    text = (
        "Rate limit reached for gpt-4o on tokens per min (TPM): Limit 30000, Used 29800, "
        "Requested 900. Please try again in 800ms."
    )
    wait = extract_wait(text)
    assert wait is None or wait < 60


# --- validation failures ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("category", "code"),
    [
        ("missing", "E201"),
        ("not_modified", "E201"),
        ("content", "E202"),
        ("command", "E203"),
        ("timeout", "E204"),
        (None, "E209"),
        ("", "E209"),
        ("something_new", "E209"),
    ],
)
def test_validation_error_codes(category: str | None, code: str) -> None:
    info = validation_error(category, "out.md does not exist")
    assert info == ErrorInfo(code, "validation", True, "out.md does not exist", 5)
    assert info.error_type == "transient"
    assert not info.rate_limited


# --- ErrorInfo --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "limited"),
    [
        ("E101", True),
        ("E102", True),
        ("E103", True),
        ("E104", True),
        ("E105", False),
        ("E009", False),
    ],
)
def test_rate_limited_codes(code: str, limited: bool) -> None:
    assert ErrorInfo(code, "rate_limit", True, "m").rate_limited is limited


def test_error_type() -> None:
    assert ErrorInfo("E101", "rate_limit", True, "m").error_type == "rate_limit"
    assert ErrorInfo("E901", "network", True, "m").error_type == "transient"
    assert ErrorInfo("E502", "auth", False, "m").error_type == "permanent"


# --- recorded samples: what each CLI prints when it fails -------------------------------------

# Claude Code 2.1 with --output-format json, no credentials (recorded: HOME empty, exit 1).
CLAUDE_NOT_LOGGED_IN = (
    '{"type":"result","subtype":"success","is_error":true,"api_error_status":null,'
    '"duration_ms":197,"duration_api_ms":0,"num_turns":1,'
    '"result":"Not logged in · Please run /login","stop_reason":"stop_sequence",'
    '"session_id":"22e846a2-920d-47cc-a230-1f2a12cafe3c","total_cost_usd":0,'
    '"usage":{"input_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,'
    '"output_tokens":0,"server_tool_use":{"web_search_requests":0,"web_fetch_requests":0},'
    '"service_tier":"standard"},"modelUsage":{},"permission_denials":[],'
    '"terminal_reason":"completed","uuid":"ea96f5a1-24ff-435c-b054-753cac23314e"}\n'
)

# The same with ANTHROPIC_API_KEY set and every connection refused (recorded: the CLI
# retried for about three minutes, then printed this and exited 1).
CLAUDE_NO_NETWORK = (
    '{"type":"result","subtype":"success","is_error":true,"api_error_status":null,'
    '"duration_ms":181725,"duration_api_ms":0,"num_turns":1,'
    '"result":"API Error: Unable to connect to API (ConnectionRefused)",'
    '"stop_reason":"stop_sequence","session_id":"d0d9febf-cfa2-4346-b3ab-107b6c40bd58",'
    '"total_cost_usd":0,"usage":{"input_tokens":0,"output_tokens":0},"modelUsage":{},'
    '"permission_denials":[],"terminal_reason":"completed"}\n'
)


def claude_result(**fields: object) -> str:
    """A Claude Code JSON result document with the given fields over a failed default."""
    import json

    doc: dict[str, object] = {
        "type": "result",
        "subtype": "success",
        "is_error": True,
        "duration_ms": 412,
        "duration_api_ms": 0,
        "num_turns": 1,
        "session_id": "5c1f0f7e-0a57-4c43-9a8e-3d2b1f1b8a10",
        "total_cost_usd": 0,
        "usage": {"input_tokens": 0, "output_tokens": 0},
        **fields,
    }
    return json.dumps(doc, ensure_ascii=False)


CLAUDE_LIMIT_JSON = claude_result(result=CLAUDE_USAGE_LIMIT)
CLAUDE_MAX_TURNS = claude_result(subtype="error_max_turns", num_turns=11, total_cost_usd=0.41)
CLAUDE_DURING_EXECUTION = claude_result(
    subtype="error_during_execution", num_turns=3, errors=[ANTHROPIC_529]
)
CLAUDE_TOKEN_EXPIRED = claude_result(
    api_error_status=401,
    result="API Error: OAuth token has expired. Please obtain a new token or refresh your "
    "existing token.",
)
CLAUDE_SERVER_ERROR = claude_result(api_error_status=500, result="API Error: Internal error")
CLAUDE_ANSWER_ABOUT_LIMITS = claude_result(
    is_error=False,
    num_turns=4,
    result="Added a rate limiter: clients over the limit get HTTP 429 and a Retry-After header.",
)
CLAUDE_OLD_LIMIT = "Claude AI usage limit reached|1763780400"
CLAUDE_AS_ROOT = (
    "--dangerously-skip-permissions cannot be used with root/sudo privileges for security reasons"
)

# Gemini CLI with -o json prints its fatal errors on stderr, pretty-printed, sometimes after
# other lines; the exit code is the error's.
GEMINI_TURN_LIMIT = """Loaded cached credentials.
{
  "error": {
    "type": "FatalTurnLimitedError",
    "message": "Reached max session turns for this session. Increase the number of turns by specifying maxSessionTurns in settings.json.",
    "code": 53
  }
}
"""
GEMINI_NO_INPUT = """{
  "error": {
    "type": "FatalInputError",
    "message": "No input provided via stdin. Input can be provided by piping data into gemini or using the --prompt option.",
    "code": 42
  }
}
"""
GEMINI_AUTH = """{
  "error": {
    "type": "FatalAuthenticationError",
    "message": "Failed to login. Message: Request had invalid authentication credentials.",
    "code": 41
  }
}
"""
GEMINI_429 = """Loaded cached credentials.
{
  "error": {
    "type": "Error",
    "message": "[API Error: {\\"error\\":{\\"code\\":429,\\"message\\":\\"Resource has been exhausted (e.g. check quota).\\",\\"status\\":\\"RESOURCE_EXHAUSTED\\"}}]",
    "code": 1
  }
}
"""
GEMINI_DAILY_QUOTA = (
    "Quota exceeded for quota metric 'Gemini 2.5 Pro Requests' and limit 'Gemini 2.5 Pro "
    "Requests per day per user per tier' of service 'generativelanguage.googleapis.com'"
)
GEMINI_TEXT_TURNS = (
    "Reached max session turns for this session. Increase the number of turns by specifying "
    "maxSessionTurns in settings.json."
)
# Codex exec prints errors on stderr.
CODEX_USAGE_LIMIT = (
    "[2026-11-22T10:00:00] ERROR: You've hit your usage limit. Upgrade to Pro "
    "(https://openai.com/chatgpt/pricing) or try again at 3:45 PM."
)
CODEX_429 = "stream error: exceeded retry limit, last status: 429 Too Many Requests"
# API error bodies (printed by thin CLIs such as `llm`, or relayed by agents).
OPENAI_NO_QUOTA = (
    '{"error":{"message":"You exceeded your current quota, please check your plan and billing '
    'details.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}'
)
GOOGLE_OVERLOADED = (
    '{"error":{"code":503,"message":"The model is overloaded. Please try again later.",'
    '"status":"UNAVAILABLE"}}'
)


def parsed_from(stdout: str = "", stderr: str = "") -> dict[str, object]:
    doc = parse_structured(stdout, stderr)
    assert doc is not None
    return doc


def structured(stdout: str = "", stderr: str = "", exit_code: int | None = 1) -> ErrorInfo:
    """classify() as the attempt code calls it: parsed document, then the tails."""
    return classify(
        outcome(exit_code=exit_code, stdout=stdout, stderr=stderr),
        parsed=parse_structured(stdout, stderr),
    )


# --- structured fields first ------------------------------------------------------------------


def test_claude_not_logged_in_is_auth() -> None:
    info = structured(CLAUDE_NOT_LOGGED_IN)
    assert (info.code, info.category, info.retriable) == ("E502", "auth", False)
    assert "Not logged in" in info.message


def test_claude_without_network_is_a_network_error() -> None:
    info = structured(CLAUDE_NO_NETWORK)
    assert (info.code, info.category, info.retriable) == ("E901", "network", True)
    assert "Unable to connect to API" in info.message
    assert limit(CLAUDE_NO_NETWORK, exit_code=1) is None


def test_claude_limit_in_the_result_is_a_quota() -> None:
    info = structured(CLAUDE_LIMIT_JSON)
    assert (info.code, info.category) == ("E104", "rate_limit")
    assert 0 < info.suggested_wait <= 24 * 3600


def test_claude_max_turns_is_a_retriable_turn_limit() -> None:
    info = structured(CLAUDE_MAX_TURNS)
    assert (info.code, info.category, info.retriable) == ("E007", "transient", True)
    assert "11 turns" in info.message
    assert not info.rate_limited


def test_claude_error_during_execution_reads_its_errors() -> None:
    assert structured(CLAUDE_DURING_EXECUTION).code == "E103"


def test_claude_api_error_status_when_the_text_says_nothing_known() -> None:
    assert structured(CLAUDE_TOKEN_EXPIRED).code == "E502"
    info = structured(CLAUDE_SERVER_ERROR)
    assert (info.code, info.retriable) == ("E503", True)


def test_claude_success_document_says_nothing() -> None:
    doc = parsed_from(CLAUDE_ANSWER_ABOUT_LIMITS)
    assert classify_structured(doc, exit_code=1) is None
    # A failed exit with a successful document falls back to the exit status.
    info = classify(outcome(exit_code=1), output="", parsed=doc)
    assert info.code == "E009"


def test_structured_fields_win_over_the_text() -> None:
    # The tails mention a rate limit, the document says the login is missing.
    info = classify(
        outcome(exit_code=1, stdout=CLAUDE_NOT_LOGGED_IN),
        output="earlier: rate limit warning",
        parsed=parsed_from(CLAUDE_NOT_LOGGED_IN),
    )
    assert info.code == "E502"


def test_signals_and_timeouts_win_over_the_document() -> None:
    doc = parsed_from(CLAUDE_LIMIT_JSON)
    assert classify(killed(signal.SIGTERM), parsed=doc).code == "E002"
    assert classify(outcome(reason="timeout", exit_code=None), parsed=doc).code == "E001"


def test_gemini_turn_limit_exit_53_is_retriable() -> None:
    info = structured(stderr=GEMINI_TURN_LIMIT, exit_code=53)
    assert (info.code, info.retriable) == ("E007", True)


def test_gemini_input_error_exit_42_is_configuration() -> None:
    info = structured(stderr=GEMINI_NO_INPUT, exit_code=42)
    assert (info.code, info.category, info.retriable) == ("E301", "configuration", False)
    assert "No input provided" in info.message


def test_gemini_auth_exit_41() -> None:
    info = structured(stderr=GEMINI_AUTH, exit_code=41)
    assert (info.code, info.retriable) == ("E502", False)


def test_gemini_exit_code_alone_is_trusted_with_its_document_only() -> None:
    # Same code in the document and the exit status, no Fatal… type: still Gemini's meaning.
    doc = {"error": {"type": "Error", "message": "bad flag", "code": 42}}
    assert classify_structured(doc, exit_code=42) == structured(
        stderr='{"error": {"type": "Error", "message": "bad flag", "code": 42}}', exit_code=42
    )
    assert classify_structured(doc, exit_code=42).code == "E301"  # type: ignore[union-attr]
    # A bash script that exits 42 is not Gemini.
    assert classify(outcome(exit_code=42, stderr="custom failure")).code == "E009"


def test_gemini_api_429_inside_its_error_document() -> None:
    info = structured(stderr=GEMINI_429, exit_code=1)
    assert (info.code, info.rate_limited) == ("E101", True)


def test_gemini_quota_and_text_mode_turn_limit() -> None:
    assert classify(outcome(exit_code=1, stderr=GEMINI_DAILY_QUOTA)).code == "E104"
    assert classify(outcome(exit_code=53, stderr=GEMINI_TEXT_TURNS)).code == "E007"


def test_codex_usage_limit_is_a_quota_until_the_given_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import time
    from datetime import UTC, datetime

    assert classify(outcome(exit_code=1, stderr=CODEX_USAGE_LIMIT)).code == "E104"
    assert classify(outcome(exit_code=1, stderr=CODEX_429)).code == "E101"
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    try:
        now = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
        assert extract_wait(CODEX_USAGE_LIMIT, now) == pytest.approx(5.75 * 3600)
    finally:
        monkeypatch.undo()
        time.tzset()


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (ANTHROPIC_429.removeprefix("API Error: 429 "), "E101"),
        (ANTHROPIC_529.removeprefix("API Error: 529 "), "E103"),
        ('{"type":"error","error":{"type":"authentication_error","message":"x"}}', "E502"),
        ('{"type":"error","error":{"type":"api_error","message":"Internal"}}', "E503"),
        ('{"type":"error","error":{"type":"not_found_error","message":"model: x"}}', "E301"),
        (OPENAI_NO_QUOTA, "E104"),
        (GOOGLE_OVERLOADED, "E103"),
        ('{"error":{"code":401,"message":"x","status":"UNAUTHENTICATED"}}', "E502"),
        ('{"error":"Request timed out: connect ETIMEDOUT"}', "E901"),
    ],
)
def test_api_error_bodies(body: str, code: str) -> None:
    info = classify_structured(parsed_from(body), exit_code=1)
    assert info is not None and info.code == code


def test_documents_without_error_fields_say_nothing() -> None:
    assert classify_structured({"response": "hi", "stats": {}}, exit_code=1) is None
    assert classify_structured({"error": None}, exit_code=1) is None


def test_claude_refusing_root_is_a_configuration_error() -> None:
    info = classify(outcome(exit_code=1, stderr=CLAUDE_AS_ROOT))
    assert (info.code, info.category, info.retriable) == ("E301", "configuration", False)


# --- finding the document ---------------------------------------------------------------------


def test_parse_structured_finds_each_cli_document() -> None:
    assert parsed_from(CLAUDE_NOT_LOGGED_IN)["result"] == "Not logged in · Please run /login"
    # stream-json: the result event is the last line.
    stream = '{"type":"system","subtype":"init"}\n{"type":"assistant"}\n' + CLAUDE_MAX_TURNS
    assert parsed_from(stream)["subtype"] == "error_max_turns"
    # Gemini: pretty-printed on stderr after a notice.
    assert parsed_from("", GEMINI_TURN_LIMIT)["error"]["code"] == 53  # type: ignore[index]
    # stdout wins over stderr.
    assert parsed_from(CLAUDE_LIMIT_JSON, GEMINI_AUTH)["type"] == "result"


@pytest.mark.parametrize(
    ("stdout", "stderr"),
    [("", ""), ("plain text answer", "warning: x"), ("[1, 2, 3]", ""), ('{"broken": ', "")],
)
def test_parse_structured_without_a_document(stdout: str, stderr: str) -> None:
    assert parse_structured(stdout, stderr) is None


# --- limits printed by an attempt that exited 0 -----------------------------------------------


def limit(stdout: str = "", stderr: str = "", **kw: object) -> ErrorInfo | None:
    exit_code = kw.pop("exit_code", 0)
    patterns = kw.pop("patterns", DEFAULT_SCORE_PATTERNS)
    return detect_limit(stdout, stderr, exit_code=exit_code, patterns=patterns)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("stdout", "code"),
    [
        (CLAUDE_USAGE_LIMIT + "\n", "E104"),
        (CLAUDE_LIMIT_JSON, "E104"),
        (CLAUDE_OLD_LIMIT, "E104"),
        ("You've hit your session limit · resets 5pm", "E104"),
        (ANTHROPIC_429, "E101"),
        (ANTHROPIC_529, "E103"),
        ("HTTP/1.1 429 Too Many Requests\nretry-after: 30\n", "E101"),
        (ANTHROPIC_429.removeprefix("API Error: 429 "), "E101"),
        (GOOGLE_OVERLOADED.replace('"code":503', '"code":429'), "E103"),
        ("■ You've reached your usage limit.", "E101"),
    ],
)
def test_exit_zero_limit_notices(stdout: str, code: str) -> None:
    info = limit(stdout)
    assert info is not None and info.rate_limited and info.code == code


def test_exit_zero_limit_on_stderr() -> None:
    info = limit("", "Error: 429 Too Many Requests")
    assert info is not None and info.code == "E101"
    info = limit("", CODEX_USAGE_LIMIT)  # after Codex's timestamp
    assert info is not None and info.code == "E104"


def test_exit_zero_old_claude_limit_waits_until_the_epoch() -> None:
    from datetime import UTC, datetime

    now = datetime.fromtimestamp(1763780400 - 5400, UTC)
    assert extract_wait(CLAUDE_OLD_LIMIT, now) == pytest.approx(5400)
    assert extract_wait(CLAUDE_OLD_LIMIT, datetime.fromtimestamp(1763780400 + 10, UTC)) == 1


@pytest.mark.parametrize(
    "stdout",
    [
        # Short answers that talk about limits.
        "I added rate limiting: clients over the quota get 429 Too Many Requests.",
        "Rate limit middleware added; capacity is now 100 requests per minute.",
        "Done. The usage limit reached message is now translated.",
        "429 responses are retried with backoff.",
        CLAUDE_ANSWER_ABOUT_LIMITS,
        claude_result(is_error=False, result=CLAUDE_USAGE_LIMIT),  # a success, by its flag
        # A long answer whose text contains a notice.
        ("Analysis of the outage follows.\n" * 80) + CLAUDE_USAGE_LIMIT,
        claude_result(result=("You've hit your limit · resets 3am. " * 80)),
        '{"response": "The API said RESOURCE_EXHAUSTED yesterday.", "stats": {}}',
        "",
    ],
)
def test_exit_zero_answers_are_never_limits(stdout: str) -> None:
    assert limit(stdout) is None


def test_exit_zero_broad_patterns_never_count_on_their_own() -> None:
    assert limit("Rate limiting added.", patterns=[r"rate.?limit"]) is None
    assert limit("quota: 5 per user", patterns=["quota"]) is None


def test_exit_zero_own_pattern_counts_at_the_start_of_a_short_output() -> None:
    pattern = r"slow down, cowboy"
    info = limit("Slow down, cowboy! Come back in 20 minutes.", patterns=[pattern])
    assert info is not None and info.code == "E101"
    assert limit("I told it: slow down, cowboy.", patterns=[pattern]) is None
    assert limit("Slow down, cowboy! " + "x" * 3000, patterns=[pattern]) is None


def test_failed_attempts_use_the_full_classifier() -> None:
    info = limit(CLAUDE_USAGE_LIMIT, exit_code=1)
    assert info is not None and info.code == "E104"
    info = limit("", GEMINI_429, exit_code=1)
    assert info is not None and info.code == "E101"
    info = limit("Rate limiting is hard.", exit_code=2)  # a failed exit: broad words count
    assert info is not None and info.code == "E101"
    assert limit(CLAUDE_NOT_LOGGED_IN, exit_code=1) is None  # auth is not a limit
    assert limit("", GEMINI_TURN_LIMIT, exit_code=53) is None


def test_no_exit_code_is_never_a_limit() -> None:
    assert limit(CLAUDE_USAGE_LIMIT, exit_code=None) is None


DEFAULT_SCORE_PATTERNS = (
    r"rate.?limit",
    r"usage.?limit",
    r"quota",
    r"too many requests",
    r"429",
    r"capacity",
    r"try again later",
)


# --- HTTP statuses ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "retriable"),
    [
        (429, "E101", True),
        (529, "E103", True),
        (401, "E502", False),
        (403, "E502", False),
        (408, "E504", True),
        (500, "E503", True),
        (502, "E503", True),
        (400, "E301", False),
        (404, "E301", False),
    ],
)
def test_http_status_error(status: int, code: str, retriable: bool) -> None:
    info = http_status_error(status)
    assert info is not None and (info.code, info.retriable) == (code, retriable)


def test_http_status_error_waits() -> None:
    assert http_status_error(429, "", retry_after=12).suggested_wait == 12  # type: ignore[union-attr]
    assert http_status_error(429, "try again in 2 minutes").suggested_wait == 120  # type: ignore[union-attr]
    assert http_status_error(429, CREDIT_TOO_LOW).code == "E104"  # type: ignore[union-attr]
    assert http_status_error(400, CREDIT_TOO_LOW).code == "E104"  # type: ignore[union-attr]
    assert http_status_error(200) is None
