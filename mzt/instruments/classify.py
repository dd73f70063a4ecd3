"""Turn how an attempt ended into an error code, a category and a retry verdict.

Precedence: the process could not start; a timeout or a stale child; death by signal;
what the CLI's JSON result or error document says (`classify_structured`: Claude Code's
``is_error``/``subtype``/``api_error_status``, Gemini CLI's fatal error types and exit
codes, API error bodies); what the output text says (quota before rate limit before
capacity, then authentication, network and configuration problems); finally the bare
exit status. Codes follow the E-code table of the score format (E001 timeout … E999
unknown), plus E007 for an agent that ran out of turns, which that table lacks.

`detect_limit` answers the one question asked of an attempt that *succeeded*: did the
CLI in fact print a usage or rate-limit notice and exit 0 (Claude Code does)? Waits are
reported as the output gives them; clamping them is the runner's business.
"""

from __future__ import annotations

import json
import re
import signal
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mzt.support.process import Outcome

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
    r"credit balance is too low|resets? (?:at|in) \d|resets?[ \t]+\d{1,2}(?::\d{2})?[ \t]*[ap]m|"
    # Older Claude Code: "Claude AI usage limit reached|<epoch of the reset>".
    r"usage limit reached\|\d{9,11}|"
    # Codex: "You've hit your usage limit. … try again at 3:45 PM."; OpenAI API bodies.
    r"hit your usage limit|exceeded your (?:current )?quota|insufficient_quota",
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
    # Claude Code without network: "API Error: Unable to connect to API (ConnectionRefused)".
    r"connection ?(?:refused|reset|timed ?out|error)|unable to connect|network is unreachable|"
    r"ECONNREFUSED|"
    r"ECONNRESET|ETIMEDOUT|socket hang up|fetch failed",
    re.I,
)
_TURNS = re.compile(
    r"reached max(?:imum)? (?:session )?turns|max(?:imum)? turns (?:reached|exceeded)|"
    r"turn limit (?:reached|exceeded)",
    re.I,
)
# Claude Code refuses its permission-skipping flag as root outside a declared sandbox:
# retrying cannot help, the setup has to change.
_CONFIG = re.compile(r"cannot be used with root/sudo privileges", re.I)
_UNITS = r"(ms|milliseconds?|s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?)\b"
_WAIT = (
    re.compile(
        r"(?:retry|try again)[- ]after:?[ \t]*(\d+(?:\.\d+)?)(?:[ \t]*" + _UNITS + ")?", re.I
    ),
    re.compile(r"(?:resets?|try again|wait)[ \t]+in[ \t]+(\d+(?:\.\d+)?)[ \t]*" + _UNITS, re.I),
)
_RESET_AT = re.compile(
    r"(?:resets?(?:[ \t]+at)?|try again at)[ \t]+(\d{1,2})(?::(\d{2}))?[ \t]*(am|pm)?"
    r"(?:[ \t]*\(([\w/+-]+)\))?",
    re.I,
)
_RESET_EPOCH = re.compile(r"limit reached\|(\d{9,11})\b", re.I)
_UNIT = {"ms": 0.001, "mi": 0.001, "s": 1, "m": 60, "h": 3600}


def classify(
    outcome: Outcome,
    *,
    output: str = "",
    rate_limit_patterns: Iterable[str] = (),
    parsed: Mapping[str, Any] | None = None,
) -> ErrorInfo:
    """Classify a failed attempt (a non-zero exit, a timeout, a kill or a spawn error).

    ``output`` is the text to scan (stdout and stderr tails); ``rate_limit_patterns`` are
    extra regular expressions (from the score and the instrument profile); ``parsed`` is
    the instrument's JSON result or error document, when it printed one (see
    `parse_structured`), and is read before any text.
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
    patterns = tuple(rate_limit_patterns)
    if parsed is not None:
        found = classify_structured(
            parsed, exit_code=outcome.exit_code, rate_limit_patterns=patterns
        )
        if found is not None:
            return found
    found = classify_text(text, patterns)
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
    if _TURNS.search(text):
        return TURN_LIMIT
    if _CONFIG.search(text):
        return ErrorInfo(
            "E301",
            "configuration",
            False,
            "the instrument refuses to skip permission prompts as root: run as another user "
            "or declare a sandbox (Claude Code reads IS_SANDBOX=1)",
        )
    return None


TURN_LIMIT = ErrorInfo("E007", "transient", True, "the agent reached its turn limit", 10)
"""An agent stopped because it used all the turns it was allowed (Claude Code's
``error_max_turns``, Gemini CLI's exit code 53): another attempt continues the work."""

# Gemini CLI's fatal errors: their class names (the ``type`` of its JSON error document)
# and the exit codes they end the process with.
_GEMINI_TYPES = {
    "FatalAuthenticationError": 41,
    "FatalInputError": 42,
    "FatalSandboxError": 44,
    "FatalConfigError": 52,
    "FatalTurnLimitedError": 53,
    "FatalCancellationError": 130,
}
_GEMINI_EXITS = {
    41: ErrorInfo("E502", "auth", False, "authentication failed"),
    42: ErrorInfo("E301", "configuration", False, "the instrument rejected its input or arguments"),
    44: ErrorInfo("E301", "configuration", False, "the instrument's sandbox could not start"),
    52: ErrorInfo("E301", "configuration", False, "the instrument's configuration is invalid"),
    53: TURN_LIMIT,
    130: ErrorInfo("E004", "signal", False, "the instrument was cancelled"),
}
# API error types (Anthropic's ``error.type``, Google's ``error.status``).
_ERROR_TYPES = {
    "rate_limit_error": ErrorInfo("E101", "rate_limit", True, "rate limited", 3600),
    "rate_limit_exceeded": ErrorInfo("E101", "rate_limit", True, "rate limited", 3600),
    "resource_exhausted": ErrorInfo("E101", "rate_limit", True, "rate limited", 3600),
    "overloaded_error": ErrorInfo("E103", "rate_limit", True, "the service is over capacity", 300),
    "unavailable": ErrorInfo("E103", "rate_limit", True, "the service is over capacity", 300),
    "authentication_error": ErrorInfo("E502", "auth", False, "authentication failed"),
    "permission_error": ErrorInfo("E502", "auth", False, "authentication failed"),
    "unauthenticated": ErrorInfo("E502", "auth", False, "authentication failed"),
    "permission_denied": ErrorInfo("E502", "auth", False, "authentication failed"),
    "api_error": ErrorInfo("E503", "transient", True, "the API failed (server error)", 15),
    "deadline_exceeded": ErrorInfo("E504", "timeout", True, "the API timed out", 60),
    "not_found_error": ErrorInfo(
        "E301", "configuration", False, "the API does not know what was asked (model name?)"
    ),
}


def classify_structured(
    parsed: Mapping[str, Any],
    *,
    exit_code: int | None = None,
    rate_limit_patterns: Iterable[str] = (),
) -> ErrorInfo | None:
    """What a CLI's JSON document says about a failure; None when it says nothing.

    Understands Claude Code's result (``is_error``, ``subtype``, ``api_error_status``,
    ``result``), Gemini CLI's error document (``error.type`` such as
    ``FatalTurnLimitedError``, ``error.code`` equal to the exit code) and API error
    bodies (Anthropic ``{"type":"error","error":{"type":…}}``, OpenAI, Google). Gemini's
    exit codes are trusted only with its error document: other programs (a bash
    instrument's script) use 42 or 53 for their own reasons.
    """
    if not isinstance(parsed, Mapping):
        return None
    patterns = tuple(rate_limit_patterns)
    if parsed.get("type") == "result" or "is_error" in parsed:
        return _claude_result(parsed, patterns)
    error = parsed.get("error")
    if isinstance(error, Mapping):
        return _error_document(error, exit_code, patterns)
    if isinstance(error, str) and error.strip():
        return classify_text(error, patterns)
    return None


def _claude_result(doc: Mapping[str, Any], patterns: Sequence[str]) -> ErrorInfo | None:
    subtype = doc.get("subtype")
    failed = doc.get("is_error") is True or (
        isinstance(subtype, str) and subtype.startswith("error")
    )
    if not failed:
        return None
    parts = [doc.get("result")]
    errors = doc.get("errors")
    if isinstance(errors, list):
        parts += errors
    if isinstance(doc.get("error"), Mapping):
        parts.append(doc["error"].get("message"))
    text = "\n".join(p for p in parts if isinstance(p, str) and p.strip())
    found = classify_text(text, patterns) if text else None
    if found is not None:
        return _explained(found, text)
    status = doc.get("api_error_status")
    if isinstance(status, int) and not isinstance(status, bool):
        found = http_status_error(status, text)
        if found is not None:
            return found
    if subtype == "error_max_turns":
        turns = doc.get("num_turns")
        if isinstance(turns, int) and not isinstance(turns, bool):
            return _with_message(TURN_LIMIT, f"the agent reached its turn limit ({turns} turns)")
        return TURN_LIMIT
    return None


def _error_document(
    error: Mapping[str, Any], exit_code: int | None, patterns: Sequence[str]
) -> ErrorInfo | None:
    kind, message, code, status = (error.get(k) for k in ("type", "message", "code", "status"))
    gemini = _GEMINI_TYPES.get(kind) if isinstance(kind, str) else None
    if gemini is None and isinstance(code, int) and code == exit_code:
        gemini = code if code in _GEMINI_EXITS else None
    if gemini is not None:
        info = _GEMINI_EXITS[gemini]
        if isinstance(message, str) and message.strip() and info.code != "E007":
            return _with_message(info, f"{info.message}: {_first_line(message)}")
        return info
    text = " ".join(str(v) for v in (kind, message, status, code) if v is not None)
    found = classify_text(text, patterns) if text else None
    if found is not None:
        return _explained(found, message if isinstance(message, str) else text)
    for name in (kind, status, code):
        if isinstance(name, str) and name.lower() in _ERROR_TYPES:
            return _ERROR_TYPES[name.lower()]
    if isinstance(code, int) and not isinstance(code, bool) and 400 <= code <= 599:
        return http_status_error(code, text)
    return None


def http_status_error(
    status: int, text: str = "", retry_after: float | None = None
) -> ErrorInfo | None:
    """The error an HTTP status stands for; None for a status that is not an error.

    ``text`` (the error message) may make a 429 a quota (E104) and give its wait;
    ``retry_after`` (seconds, from the header) wins over the text's wait.
    """
    wait = retry_after if retry_after is not None else extract_wait(text)
    if status in (429, 529) or 500 <= status <= 599:
        found = classify_text(text) if text else None
        if found is not None and found.rate_limited:
            return _with_wait(found, wait) if wait is not None else found
    if status == 429:
        return ErrorInfo("E101", "rate_limit", True, "rate limited (HTTP 429)", wait or 3600)
    if status == 529:
        return ErrorInfo(
            "E103", "rate_limit", True, "the service is over capacity (HTTP 529)", wait or 300
        )
    if status in (401, 403):
        return ErrorInfo("E502", "auth", False, f"authentication failed (HTTP {status})")
    if status in (408, 504):
        return ErrorInfo("E504", "timeout", True, f"the API timed out (HTTP {status})", 60)
    if 500 <= status <= 599:
        return ErrorInfo("E503", "transient", True, f"the API failed (HTTP {status})", wait or 15)
    if 400 <= status <= 499:
        if text:
            found = classify_text(text)
            if found is not None and found.code in ("E104", "E502"):
                return found  # "credit balance is too low" comes as a 400
        return ErrorInfo(
            "E301", "configuration", False, f"the API refused the request (HTTP {status})"
        )
    return None


def _explained(info: ErrorInfo, text: str) -> ErrorInfo:
    """``info`` with the CLI's own words added: the document is an error report, so its
    first line says what happened better than the generic message."""
    line = _first_line(text)
    return _with_message(info, f"{info.message}: {line}") if line else info


def _with_message(info: ErrorInfo, message: str) -> ErrorInfo:
    return ErrorInfo(info.code, info.category, info.retriable, message, info.suggested_wait)


def _with_wait(info: ErrorInfo, wait: float) -> ErrorInfo:
    return ErrorInfo(info.code, info.category, info.retriable, info.message, wait)


def _first_line(text: str, limit: int = 300) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


_MAX_STRUCTURED = 4 * 1024 * 1024  # longer output is not searched for a document
_MAX_DECODES = 8


def parse_structured(stdout: str, stderr: str = "") -> dict[str, Any] | None:
    """The JSON document an instrument printed about how it ended, if any.

    Claude Code prints its result object on stdout (with ``--output-format
    stream-json`` as the last line); Gemini CLI prints its error object, pretty-printed,
    on stderr, possibly after other lines. Stdout is tried first. Never raises.
    """
    for text in (stdout, stderr):
        doc = _document(text)
        if doc is not None:
            return doc
    return None


def _document(text: str) -> dict[str, Any] | None:
    text = text.strip()
    if not text or len(text) > _MAX_STRUCTURED:
        return None
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        pass
    else:
        return doc if isinstance(doc, dict) else None
    # The last object that starts a line: the result event of a JSONL stream, or the
    # error document after a CLI's warnings.
    decoder = json.JSONDecoder()
    starts = [m.start() for m in re.finditer(r"^[ \t]*\{", text, re.M)]
    for start in reversed(starts[-_MAX_DECODES:]):
        try:
            doc, _ = decoder.raw_decode(text, text.index("{", start))
        except (ValueError, RecursionError):
            continue
        if isinstance(doc, dict):
            return doc
    return None


LIMIT_OUTPUT_MAX = 2048
"""Longest output (bytes) that can be a limit notice when the instrument exited 0."""

# Notices the agent CLIs print when they are limited, each at the start of a line
# (after an optional "[timestamp]", bullet and "Error:"): the shapes are the CLIs', not
# an answer's.
_CLI_NOTICE = re.compile(
    r"^[ \t]*(?:\[[^\]\n]{1,40}\][ \t]*)?(?:[^\w\s]{1,3}[ \t]*)?(?:error:?[ \t]*)?(?:"
    r"you(?:'|’)ve (?:hit|reached) your (?:\w+ )?limit"
    r"|(?:claude(?: ai)? )?usage limit (?:reached|exceeded)"
    r"|api error:[ \t]*(?:429|529|rate limit|overloaded)"
    r"|(?:http/[\d.]+[ \t]+)?429[ \t]+too many requests"
    r"|(?:rate|usage) limit (?:reached|exceeded)"
    r"|quota exceeded"
    r"|resource_exhausted"
    r")",
    re.I | re.M,
)
# The broad defaults match ordinary answers ("added rate limiting", "429 is retried"):
# at exit 0 they never count on their own.
_BROAD_PATTERNS = frozenset(
    {*DEFAULT_RATE_LIMIT, "quota", "429", "capacity", "try again later", "overloaded"}
)


def detect_limit(
    stdout: str,
    stderr: str,
    *,
    exit_code: int | None,
    patterns: Sequence[str] = (),
) -> ErrorInfo | None:
    """The limit an attempt ran into, if its output says it was rate or usage limited.

    For a failed attempt (non-zero exit) this is `classify_structured` then
    `classify_text` over both streams, keeping only a rate-limit answer. An attempt that
    exited 0 counts as limited only when its output is a CLI's limit notice, never an
    answer that mentions limits: a Claude Code JSON result with ``is_error`` whose
    result text reports a limit, an API error body, or a stream of at most
    `LIMIT_OUTPUT_MAX` bytes with a line that starts like a CLI's notice ("You've hit
    your limit", "Claude AI usage limit reached|…", "API Error: 429", "429 Too Many
    Requests"). A pattern of ``patterns`` counts there only if it is not one of the
    broad defaults and matches at the very start of the short output. No exit code
    (killed, timed out) is never a limit.
    """
    if exit_code is None:
        return None
    patterns = tuple(patterns)
    if exit_code != 0:
        doc = parse_structured(stdout, stderr)
        found = (
            classify_structured(doc, exit_code=exit_code, rate_limit_patterns=patterns)
            if doc
            else None
        )
        if found is None:
            found = classify_text(stdout + "\n" + stderr, patterns)
        return found if found is not None and found.rate_limited else None
    for text in (stdout, stderr):
        found = _limit_notice(text, patterns)
        if found is not None:
            return found
    return None


def _limit_notice(text: str, patterns: Sequence[str]) -> ErrorInfo | None:
    body = text.strip()
    if not body:
        return None
    if body.startswith("{") and len(body) <= _MAX_STRUCTURED:
        doc = _document(body)
        if doc is not None:
            return _limit_document(doc, patterns)
    if len(body.encode("utf-8", errors="replace")) > LIMIT_OUTPUT_MAX:
        return None
    own = [p for p in patterns if p not in _BROAD_PATTERNS]
    if _CLI_NOTICE.search(body) or any(_match_start(p, body) for p in own):
        found = classify_text(body, patterns)
        if found is not None and found.rate_limited:
            return found
        return ErrorInfo("E101", "rate_limit", True, "rate limited", extract_wait(body) or 3600)
    return None


def _limit_document(doc: Mapping[str, Any], patterns: Sequence[str]) -> ErrorInfo | None:
    """A JSON document printed with exit 0: limited only if it is itself an error report."""
    if doc.get("type") == "result" or "is_error" in doc:
        if doc.get("is_error") is not True:
            return None  # a successful result, whatever its answer says
        result = doc.get("result")
        if isinstance(result, str) and len(result.encode("utf-8")) > LIMIT_OUTPUT_MAX:
            return None
    elif not isinstance(doc.get("error"), Mapping | str):
        return None
    found = classify_structured(doc, exit_code=0, rate_limit_patterns=patterns)
    return found if found is not None and found.rate_limited else None


def _match_start(pattern: str, text: str) -> bool:
    try:
        return re.match(pattern, text, re.I) is not None
    except re.error:
        return False


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
    "resets 3am (Europe/Oslo)", "try again at 3:45 PM", "usage limit reached|<epoch>");
    None when it does not. A reset time already past gives one second."""
    for pattern in _WAIT:
        match = pattern.search(text)
        if match:
            unit = (match.group(2) or "s").lower()
            key = "ms" if unit == "ms" or unit.startswith("milli") else unit[0]
            return float(match.group(1)) * _UNIT.get(key, 1)
    epoch = _RESET_EPOCH.search(text)
    if epoch:
        current = (now or datetime.now(UTC)).timestamp()
        return max(1.0, float(epoch.group(1)) - current)
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
