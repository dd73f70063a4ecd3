"""How an attempt ended → error code, category, retry verdict and suggested wait."""

from __future__ import annotations

import signal

import pytest

from mzt.classify import ErrorInfo, classify, classify_text, extract_wait, validation_error
from mzt.process import ExitReason, Outcome

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
