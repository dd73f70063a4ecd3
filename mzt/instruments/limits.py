"""What an attempt's output says about itself: its JSON document and any limit notice.

`detect_limit` answers the one question asked of an attempt that *succeeded*: did the
CLI in fact print a usage or rate-limit notice and exit 0 (Claude Code does)? Waits are
reported as the output gives them; clamping them is the runner's business.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from mzt.instruments.classify import (
    DEFAULT_RATE_LIMIT,
    ErrorInfo,
    classify_structured,
    classify_text,
)
from mzt.instruments.waits import extract_wait
from mzt.support.lazyre import LazyPattern

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
_CLI_NOTICE = LazyPattern(
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
