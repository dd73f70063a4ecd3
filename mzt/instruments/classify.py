"""Turn how an attempt ended into an error code, a category and a retry verdict.

Precedence: the process could not start; a timeout or a stale child; death by signal;
what the CLI's JSON result or error document says (`classify_structured`: Claude Code's
``is_error``/``subtype``/``api_error_status``, Gemini CLI's fatal error types and exit
codes, API error bodies); what the output text says (quota before rate limit before
capacity, then authentication, network and configuration problems); finally the bare
exit status. Codes follow the E-code table of the score format (E001 timeout … E999
unknown), plus E007 for an agent that ran out of turns, which that table lacks.
"""

from __future__ import annotations

import re
import signal
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any, Literal

from mzt.instruments.waits import extract_wait
from mzt.support import records
from mzt.support.lazyre import LazyPattern
from mzt.support.process import Outcome

ErrorType = Literal["transient", "rate_limit", "permanent"]


@records.record(frozen=True, slots=True)
class ErrorInfo:
    """A classified failure."""

    code: str
    category: str  # an ErrorCategory value
    retriable: bool
    message: str
    suggested_wait: float = 0.0
    # The command failed on its own terms (a script's non-zero exit): waiting cannot
    # change that, so a retry the budget allows starts at once, with no back-off.
    deterministic: bool = False

    @property
    def error_type(self) -> ErrorType:
        if self.category == "rate_limit":
            return "rate_limit"
        return "transient" if self.retriable and not self.deterministic else "permanent"

    @property
    def rate_limited(self) -> bool:
        return self.code in ("E101", "E102", "E103", "E104")


_FATAL_SIGNALS = {signal.SIGSEGV, signal.SIGBUS, signal.SIGABRT, signal.SIGFPE, signal.SIGILL}
_OOM = LazyPattern(r"out of memory|oom[- ]?kill|cannot allocate memory|memoryerror", re.I)
_QUOTA = LazyPattern(
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
_CAPACITY = LazyPattern(
    r"capacity|overloaded|try again later|service unavailable|\b529\b|\b503\b", re.I
)
_AUTH = LazyPattern(
    r"unauthori[sz]ed|invalid api key|authentication (?:failed|error|required)|"
    r"\b401\b|not logged in|please (?:run )?/?login|credentials? (?:not found|missing|expired)|"
    r"api key (?:not|is not) (?:set|valid)|permission denied.{0,20}api",
    re.I,
)
_DNS = LazyPattern(r"getaddrinfo|name or service not known|could not resolve host|ENOTFOUND", re.I)
_SSL = LazyPattern(r"ssl|certificate verify failed|tls handshake", re.I)
_NETWORK = LazyPattern(
    # Claude Code without network: "API Error: Unable to connect to API (ConnectionRefused)".
    r"connection ?(?:refused|reset|timed ?out|error)|unable to connect|network is unreachable|"
    r"ECONNREFUSED|"
    r"ECONNRESET|ETIMEDOUT|socket hang up|fetch failed",
    re.I,
)
_TURNS = LazyPattern(
    r"reached max(?:imum)? (?:session )?turns|max(?:imum)? turns (?:reached|exceeded)|"
    r"turn limit (?:reached|exceeded)",
    re.I,
)
# Claude Code refuses its permission-skipping flag as root outside a declared sandbox:
# retrying cannot help, the setup has to change.
_CONFIG = LazyPattern(r"cannot be used with root/sudo privileges", re.I)


def classify(
    outcome: Outcome,
    *,
    output: str = "",
    rate_limit_patterns: Iterable[str] = (),
    parsed: Mapping[str, Any] | None = None,
    permanent_exit_codes: Collection[int] = (),
    deterministic: bool = False,
) -> ErrorInfo:
    """Classify a failed attempt (a non-zero exit, a timeout, a kill or a spawn error).

    ``output`` is the text to scan (stdout and stderr tails); ``rate_limit_patterns`` are
    extra regular expressions (from the score and the instrument profile); ``parsed`` is
    the instrument's JSON result or error document, when it printed one (see
    `parse_structured`), and is read before any text; ``permanent_exit_codes`` are the
    profile's exit codes that retrying cannot change. ``deterministic`` says the
    instrument's exit status is its command's own verdict (a bash script): any other
    non-zero exit whose output names no rate limit, network or similar cause is then
    permanent for the attempt, not a passing trouble worth waiting out.
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
    if outcome.exit_code is not None and outcome.exit_code in permanent_exit_codes:
        why = _PERMANENT_EXITS.get(outcome.exit_code, "the same command would fail again")
        said = _last_line(outcome.stderr_tail)
        message = f"exited with status {outcome.exit_code}" + (f": {said}" if said else "")
        return ErrorInfo("E009", "fatal", False, f"{message} — {why}, so it is not retried")
    if outcome.exit_code not in (None, 0) and deterministic:
        said = _last_line(outcome.stderr_tail)
        message = f"exited with status {outcome.exit_code}" + (f": {said}" if said else "")
        return ErrorInfo("E009", "fatal", True, message, deterministic=True)
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


# What the statuses a profile may list as permanent usually mean, for the message.
_PERMANENT_EXITS = {
    2: "a usage or syntax error",
    126: "a command could not be executed",
    127: "a command was not found",
    128: "a fatal error, as git reports one",
}


def _last_line(text: str, limit: int = 300) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:limit] if lines else ""


def _explained(info: ErrorInfo, text: str) -> ErrorInfo:
    """``info`` with the CLI's own words added: the document is an error report, so its
    first line says what happened better than the generic message."""
    line = _first_line(text)
    return _with_message(info, f"{info.message}: {line}") if line else info


def _with_message(info: ErrorInfo, message: str) -> ErrorInfo:
    return records.replace(info, message=message)


def _with_wait(info: ErrorInfo, wait: float) -> ErrorInfo:
    return records.replace(info, suggested_wait=wait)


def _first_line(text: str, limit: int = 300) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


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
