"""Turn how an attempt ended into an error code, a category and a retry verdict.

Precedence: the process could not start; a timeout or a stale child; death by signal;
what the output says (quota before rate limit before capacity, then authentication and
network problems); finally the bare exit status. Codes follow the E-code table of the
score format (E001 timeout … E999 unknown).
"""

from __future__ import annotations

import re
import signal
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mzt.process import Outcome

ErrorType = Literal["transient", "rate_limit", "permanent"]


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """A classified failure."""

    code: str
    category: str  # an ErrorCategory value
    retriable: bool
    message: str
    suggested_wait: float = 0.0

    @property
    def error_type(self) -> ErrorType:
        if self.category == "rate_limit":
            return "rate_limit"
        return "transient" if self.retriable else "permanent"

    @property
    def rate_limited(self) -> bool:
        return self.code in ("E101", "E102", "E103", "E104")


_FATAL_SIGNALS = {signal.SIGSEGV, signal.SIGBUS, signal.SIGABRT, signal.SIGFPE, signal.SIGILL}
_OOM = re.compile(r"out of memory|oom[- ]?kill|cannot allocate memory|memoryerror", re.I)
_QUOTA = re.compile(
    r"quota (?:exceeded|exhausted)|usage limit.{0,40}reset|(?:daily|hourly|monthly) "
    r"(?:token )?limit|used (?:all|up) (?:your|of your)? ?(?:tokens|credits)|no tokens left|"
    r"credit balance is too low|resets? (?:at|in) \d|resets?[ \t]+\d{1,2}(?::\d{2})?[ \t]*[ap]m",
    re.I,
)
DEFAULT_RATE_LIMIT = (
    r"rate.?limit",
    r"usage.?limit",
    r"too many requests",
    r"\b429\b",
    r"hit.{0,10}limit",
    r"limit.{0,10}resets?",
)
_CAPACITY = re.compile(
    r"capacity|overloaded|try again later|service unavailable|\b529\b|\b503\b", re.I
)
_AUTH = re.compile(
    r"unauthori[sz]ed|invalid api key|authentication (?:failed|error|required)|"
    r"\b401\b|not logged in|please (?:run )?/?login|credentials? (?:not found|missing|expired)|"
    r"api key (?:not|is not) (?:set|valid)|permission denied.{0,20}api",
    re.I,
)
_DNS = re.compile(r"getaddrinfo|name or service not known|could not resolve host|ENOTFOUND", re.I)
_SSL = re.compile(r"ssl|certificate verify failed|tls handshake", re.I)
_NETWORK = re.compile(
    r"connection (?:refused|reset|timed out|error)|network is unreachable|ECONNREFUSED|"
    r"ECONNRESET|ETIMEDOUT|socket hang up|fetch failed",
    re.I,
)
_UNITS = r"(ms|milliseconds?|s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?)\b"
_WAIT = (
    re.compile(
        r"(?:retry|try again)[- ]after:?[ \t]*(\d+(?:\.\d+)?)(?:[ \t]*" + _UNITS + ")?", re.I
    ),
    re.compile(r"(?:resets?|try again|wait)[ \t]+in[ \t]+(\d+(?:\.\d+)?)[ \t]*" + _UNITS, re.I),
)
_RESET_AT = re.compile(
    r"resets?(?:[ \t]+at)?[ \t]+(\d{1,2})(?::(\d{2}))?[ \t]*(am|pm)?(?:[ \t]*\(([\w/+-]+)\))?", re.I
)
_UNIT = {"ms": 0.001, "mi": 0.001, "s": 1, "m": 60, "h": 3600}


def classify(
    outcome: Outcome,
    *,
    output: str = "",
    rate_limit_patterns: Iterable[str] = (),
) -> ErrorInfo:
    """Classify a failed attempt (a non-zero exit, a timeout, a kill or a spawn error).

    ``output`` is the text to scan (stdout and stderr tails); ``rate_limit_patterns`` are
    extra regular expressions (from the score and the instrument profile).
    """
    if outcome.reason == "error":
        return ErrorInfo("E505", "configuration", False, outcome.error or "could not start")
    if outcome.reason == "timeout":
        return ErrorInfo("E001", "timeout", True, f"timed out after {outcome.duration:.0f} s", 60)
    if outcome.reason == "stale":
        return ErrorInfo("E006", "timeout", True, "stopped: no output for too long", 120)
    text = output or (outcome.stdout_tail + "\n" + outcome.stderr_tail)
    if outcome.signal is not None:
        return _signal(outcome.signal, text)
    found = classify_text(text, rate_limit_patterns)
    if found is not None:
        return found
    if outcome.exit_code not in (None, 0):
        return ErrorInfo("E009", "transient", True, f"exited with status {outcome.exit_code}", 10)
    return ErrorInfo("E999", "transient", True, "failed for an unknown reason", 30)


def classify_text(text: str, rate_limit_patterns: Iterable[str] = ()) -> ErrorInfo | None:
    """What the output says about the failure, if anything recognisable."""
    wait = extract_wait(text)
    if _QUOTA.search(text):
        return ErrorInfo("E104", "rate_limit", True, "usage quota exhausted", wait or 3600)
    patterns = [*DEFAULT_RATE_LIMIT, *rate_limit_patterns]
    if any(_search(p, text) for p in patterns):
        if _CAPACITY.search(text):
            return ErrorInfo(
                "E103", "rate_limit", True, "the service is over capacity", wait or 300
            )
        return ErrorInfo("E101", "rate_limit", True, "rate limited", wait or 3600)
    if _CAPACITY.search(text):
        return ErrorInfo("E103", "rate_limit", True, "the service is over capacity", wait or 300)
    if _AUTH.search(text):
        return ErrorInfo("E502", "auth", False, "authentication failed")
    if _DNS.search(text):
        return ErrorInfo("E902", "network", True, "the host name could not be resolved", 30)
    if _NETWORK.search(text):
        return ErrorInfo("E901", "network", True, "the network connection failed", 30)
    if _SSL.search(text) and re.search(r"error|fail", text, re.I):
        return ErrorInfo("E903", "network", True, "a TLS/SSL error occurred", 30)
    return None


def _signal(signum: int, text: str) -> ErrorInfo:
    name = _signal_name(signum)
    if signum in _FATAL_SIGNALS:
        return ErrorInfo("E003", "fatal", False, f"crashed ({name})")
    if signum == signal.SIGKILL and _OOM.search(text):
        return ErrorInfo("E005", "fatal", False, "killed, apparently out of memory")
    if signum == signal.SIGINT:
        return ErrorInfo("E004", "signal", False, "interrupted (SIGINT)")
    return ErrorInfo("E002", "signal", True, f"killed by {name}", 30)


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def _search(pattern: str, text: str) -> bool:
    try:
        return re.search(pattern, text, re.I) is not None
    except re.error:
        return False


def extract_wait(text: str, now: datetime | None = None) -> float | None:
    """Seconds to wait when the output says ("retry after 30s", "resets in 2 hours",
    "resets 3am (Europe/Oslo)"); None when it does not."""
    for pattern in _WAIT:
        match = pattern.search(text)
        if match:
            unit = (match.group(2) or "s").lower()
            key = "ms" if unit == "ms" or unit.startswith("milli") else unit[0]
            return float(match.group(1)) * _UNIT.get(key, 1)
    return _until_reset(text, now)


def _until_reset(text: str, now: datetime | None) -> float | None:
    """Seconds until a clock time such as "resets 3am (Europe/Oslo)" or "resets at 14:30"."""
    match = _RESET_AT.search(text)
    if match is None or (match.group(2) is None and match.group(3) is None):
        return None  # a bare number is not a clock time
    hour, minute = int(match.group(1)), int(match.group(2) or 0)
    meridiem = (match.group(3) or "").lower()
    if meridiem:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if meridiem == "pm" else 0)
    if hour > 23 or minute > 59:
        return None
    try:
        zone = ZoneInfo(match.group(4)) if match.group(4) else None
    except (ZoneInfoNotFoundError, ValueError):
        zone = None
    current = (now or datetime.now(UTC)).astimezone(zone)
    target = current.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if target <= current:
        target += timedelta(days=1)
    return (target - current).total_seconds()


def validation_error(failure_category: str | None, message: str) -> ErrorInfo:
    """The error of an attempt whose instrument succeeded but whose checks did not pass."""
    code = {
        "missing": "E201",
        "not_modified": "E201",
        "content": "E202",
        "command": "E203",
        "timeout": "E204",
    }.get(failure_category or "", "E209")
    return ErrorInfo(code, "validation", True, message, 5)
