"""Credential redaction for everything mzt stores or shows, plus terminal-safe rendering.

Redaction favours recall over precision: a false positive costs a few characters of output,
a false negative leaks a key into a checkpoint, a log or a terminal scroll-back.

Order of matching (one combined pattern, leftmost match wins, earlier kinds win ties):

1. the literal values of secret-looking environment variables (``*KEY*``, ``*TOKEN*``,
   ``*SECRET*``, ``*PASSWORD*``…, values of 8 characters or more) — the most reliable rule;
2. prefix-anchored shapes of well-known credentials (Anthropic ``sk-ant-…`` including OAuth
   tokens, OpenAI, AWS, Google, GitHub, Slack, Hugging Face, JWTs), ``Bearer`` and
   ``Authorization`` headers, ``scheme://user:pass@`` URLs and PEM private-key blocks (a block
   whose END line is missing, because the text was cut, is redacted to the end).

Each match becomes ``[REDACTED_<KIND>]``; for headers and URLs the harmless lead-in (header
name, URL scheme) is kept so the text still reads. :class:`StreamRedactor` gives the same
result on text that arrives in chunks (:mod:`mzt.support.redact_stream`), and
:func:`redact_tail` redacts before it cuts.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

SECRET_ENV_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|CREDENTIAL|PRIVATE")
# Variables that merely point at secrets (paths, sockets) are not secrets themselves.
NOT_SECRET_ENV_NAME = re.compile(r"(_PATH|_FILE|_DIR|_SOCK|_HOME)$")
MIN_SECRET_ENV_LENGTH = 8

_TOKEN_TAIL = r"[A-Za-z0-9_\-]"  # noqa: S105 - a character class, not a password
_NO_WORD_BEFORE = r"(?<![A-Za-z0-9_\-])"
# Header values: no quotes, separators or template/code punctuation ("{token}", "$TOKEN"
# are references to a secret, not the secret), and not merely the scheme word itself.
_HEADER_CHAR = r"[^\s\"',;{}()$<>]"
_HEADER_VALUE = r"(?!(?i:bearer|basic|token|digest)\b)" + _HEADER_CHAR + "{8,}"


@dataclass(frozen=True, slots=True)
class _Kind:
    name: str
    pattern: str  # may contain a (?P<keep>…) lead-in that stays visible
    continuation: str = ""  # what can still follow when a match reaches the end of a chunk


# Order matters: at one position the first kind that matches wins.
_KINDS: tuple[_Kind, ...] = (
    _Kind(
        "PRIVATE_KEY",
        r"-----BEGIN[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----(?s:.*?)"
        r"(?:-----END[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----|\Z)",
    ),
    _Kind("ANTHROPIC_KEY", _NO_WORD_BEFORE + r"sk-ant-" + _TOKEN_TAIL + "{8,}", _TOKEN_TAIL),
    _Kind(
        "OPENAI_KEY",
        _NO_WORD_BEFORE + r"sk-(?:proj|svcacct|admin)-" + _TOKEN_TAIL + "{8,}",
        _TOKEN_TAIL,
    ),
    # Legacy OpenAI keys: sk- plus a long alphanumeric run that contains a digit, so prose
    # such as "sk-learn" or kebab-case names never match.
    _Kind(
        "OPENAI_KEY", _NO_WORD_BEFORE + r"sk-(?=[A-Za-z0-9]*[0-9])[A-Za-z0-9]{20,}", "[A-Za-z0-9]"
    ),
    _Kind("AWS_ACCESS_KEY", r"(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16,}", "[A-Z0-9]"),
    _Kind(
        "AWS_SECRET_KEY",
        r"(?i:(?P<keep>aws_?secret_?(?:access_?)?key[\"']?\s*[:=]\s*[\"']?))[A-Za-z0-9/+=]{30,}",
        "[A-Za-z0-9/+=]",
    ),
    _Kind("GOOGLE_API_KEY", _NO_WORD_BEFORE + r"AIza[0-9A-Za-z_\-]{30,}", _TOKEN_TAIL),
    _Kind("GITHUB_TOKEN", r"(?<![A-Za-z0-9_])gh[pousr]_[A-Za-z0-9]{20,}", "[A-Za-z0-9]"),
    _Kind("GITHUB_TOKEN", r"(?<![A-Za-z0-9_])github_pat_[A-Za-z0-9_]{20,}", "[A-Za-z0-9_]"),
    _Kind("SLACK_TOKEN", _NO_WORD_BEFORE + r"xox[abeprs]-[A-Za-z0-9\-]{8,}", r"[A-Za-z0-9\-]"),
    _Kind("SLACK_TOKEN", _NO_WORD_BEFORE + r"xapp-[A-Za-z0-9\-]{8,}", r"[A-Za-z0-9\-]"),
    _Kind(
        "SLACK_WEBHOOK", r"(?P<keep>hooks\.slack\.com/services/)[A-Za-z0-9/_\-]{8,}", "[A-Za-z0-9/]"
    ),
    _Kind("HUGGINGFACE_TOKEN", r"(?<![A-Za-z0-9_])hf_[A-Za-z0-9]{20,}", "[A-Za-z0-9]"),
    _Kind(
        "JWT",
        r"(?<![A-Za-z0-9_\-])eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*",
        _TOKEN_TAIL,
    ),
    _Kind(
        "AUTH_HEADER",
        r"(?i:(?P<keep>\b(?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?)"
        r"(?:(?:bearer|basic|token|digest)\s+)?)" + _HEADER_VALUE,
        _HEADER_CHAR,
    ),
    _Kind(
        "API_KEY_HEADER",
        r"(?i:(?P<keep>\bx-(?:api-key|goog-api-key|auth-token)[\"']?\s*[:=]\s*[\"']?))"
        + _HEADER_VALUE,
        _HEADER_CHAR,
    ),
    # A bare "Bearer <token>": the token must look random (a digit, or very long), so prose
    # such as "bearer authentication" stays readable.
    _Kind(
        "BEARER_TOKEN",
        r"(?i:(?P<keep>\bbearer\s+))"
        r"(?:(?=[A-Za-z0-9._~+/=\-]*[0-9])[A-Za-z0-9._~+/=\-]{8,}|[A-Za-z0-9._~+/=\-]{20,})",
        r"[A-Za-z0-9._~+/=\-]",
    ),
    # Anchored at "://" (the scheme before it stays as it is): user, colon, password, "@".
    _Kind("URL_CREDENTIALS", r"(?P<keep>://)[^\s/@:\"'<>]*:[^\s/@\"'<>]+(?=@)"),
)

# Every kind's match *starts* with one of these substrings, so the combined pattern only
# needs trying where one occurs. ``str.find`` locates them at memory speed, which keeps
# redaction of ordinary output cheap (the regex alone would try every branch at every
# character). The second group is matched case-insensitively.
# fmt: off
_STARTS = (
    "-----BEGIN", "sk-", "AKIA", "ASIA", "ABIA", "ACCA", "AIza", "ghp_", "gho_", "ghu_",
    "ghs_", "ghr_", "github_pat_", "xox", "xapp-", "hooks.slack.com/services/", "hf_", "eyJ",
    "://",
)
_STARTS_ANY_CASE = (
    "aws_secret", "awssecret", "authorization", "proxy-authorization", "x-api-key",
    "x-goog-api-key", "x-auth-token", "bearer",
)
# fmt: on
# Lower-cases ASCII only, so positions in the folded text match the original's.
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


# For JSON-encoded text (see :meth:`Redactor.json_might_contain`), "sk-" and "://" are too
# common to count as hits by themselves; these say whether an occurrence could still start a
# match once the JSON escapes are undone. An escape (\\n, \\u00e9…) can put a letter right
# before "sk-", so the boundary is spelled out rather than a lookbehind.
_JSON_SK_BOUNDARY = re.compile(r"(?:[^A-Za-z0-9_\-]|\\[nrtbf]|\\u[0-9a-fA-F]{4})sk-")
_JSON_URL_USER = re.compile(r"[^\s/@\"'<>]*:")


def secret_env_values(environ: Mapping[str, str] | None = None) -> list[str]:
    """Values of environment variables whose names say they hold a secret."""
    env = os.environ if environ is None else environ
    values = {
        value
        for name, value in env.items()
        if len(value) >= MIN_SECRET_ENV_LENGTH
        and SECRET_ENV_NAME.search(name.upper())
        and not NOT_SECRET_ENV_NAME.search(name.upper())
    }
    return sorted(values, key=len, reverse=True)  # longest first, so overlaps redact fully


class Redactor:
    """Replaces credentials in text by ``[REDACTED_<KIND>]`` markers."""

    def __init__(self, literals: list[str] | tuple[str, ...] = ()) -> None:
        self.literals = tuple(sorted({v for v in literals if v}, key=len, reverse=True))
        parts: list[str] = []
        self._kind_of: dict[str, _Kind] = {}
        if self.literals:
            parts.append("(?P<k0>" + "|".join(re.escape(v) for v in self.literals) + ")")
            self._kind_of["k0"] = _Kind("ENV_SECRET", "")
        for index, kind in enumerate(_KINDS, start=1):
            group = f"k{index}"
            pattern = kind.pattern.replace("(?P<keep>", f"(?P<{group}keep>")
            parts.append(f"(?P<{group}>{pattern})")
            self._kind_of[group] = kind
        self._regex = re.compile("|".join(parts))
        self._continuations = {
            name: re.compile(f"(?:{kind.continuation})*") for name, kind in self._kind_of.items()
        }
        self.longest_literal = max((len(v) for v in self.literals), default=0)
        json_literals = {json.dumps(v, ensure_ascii=False)[1:-1] for v in self.literals}
        json_literals |= {json.dumps(v)[1:-1] for v in self.literals}
        self._json_literals = tuple(json_literals | set(self.literals))

    def json_might_contain(self, json_text: str) -> bool:
        """Cheap pre-check on JSON text: ``False`` means no string inside needs redacting.

        It errs towards ``True``; a large document can then redact only the parts that
        need it instead of walking every string.
        """
        plain = (s for s in _STARTS if s not in ("sk-", "://"))
        if any(t in json_text for t in plain) or any(v in json_text for v in self._json_literals):
            return True
        folded = json_text.translate(_ASCII_LOWER)
        if any(t in folded for t in _STARTS_ANY_CASE):
            return True
        found: set[int] = set()
        _find_all(json_text, "sk-", found)
        if json_text.startswith("sk-") or any(
            _JSON_SK_BOUNDARY.match(json_text, max(0, p - 6), p + 3)
            or _JSON_SK_BOUNDARY.match(json_text, max(0, p - 2), p + 3)
            or _JSON_SK_BOUNDARY.match(json_text, max(0, p - 1), p + 3)
            for p in found
        ):
            return True
        found.clear()
        _find_all(json_text, "://", found)
        return any(_JSON_URL_USER.match(json_text, p + 3) for p in found)

    def might_contain(self, text: str) -> bool:
        """Cheap pre-check: ``False`` means :meth:`redact` would return ``text`` unchanged."""
        if any(t in text for t in _STARTS) or any(v in text for v in self.literals):
            return True
        folded = text.translate(_ASCII_LOWER)
        return any(t in folded for t in _STARTS_ANY_CASE)

    def finditer(self, text: str) -> list[re.Match[str]]:
        """Every credential match in ``text``, left to right, never overlapping."""
        matches: list[re.Match[str]] = []
        end = 0
        for position in self._candidates(text):
            if position < end:
                continue
            match = self._regex.match(text, position)
            if match is not None:
                matches.append(match)
                end = match.end()
        return matches

    def _candidates(self, text: str) -> list[int]:
        """Sorted positions where a match may start."""
        found: set[int] = set()
        for needle in (*_STARTS, *self.literals):
            _find_all(text, needle, found)
        folded = None
        for needle in _STARTS_ANY_CASE:
            if folded is None:
                folded = text.translate(_ASCII_LOWER)
            _find_all(folded, needle, found)
        return sorted(found)

    def kind(self, match: re.Match[str]) -> str:
        """The ``KIND`` of a match from :meth:`finditer`."""
        return self._kind_of[self._group(match)].name

    def continuation(self, match: re.Match[str]) -> re.Pattern[str]:
        """What may still belong to ``match`` if more text follows it."""
        return self._continuations[self._group(match)]

    def replacement(self, match: re.Match[str]) -> str:
        """The text that replaces ``match``: kept lead-in plus the marker."""
        group = self._group(match)
        keep = match.group(f"{group}keep") if f"{group}keep" in self._regex.groupindex else None
        return f"{keep or ''}[REDACTED_{self._kind_of[group].name}]"

    def redact(self, text: str) -> str:
        """``text`` with every credential replaced."""
        if not text:
            return text
        matches = self.finditer(text)
        if not matches:
            return text
        pieces: list[str] = []
        position = 0
        for match in matches:
            pieces.append(text[position : match.start()])
            pieces.append(self.replacement(match))
            position = match.end()
        pieces.append(text[position:])
        return "".join(pieces)

    def redact_tree(self, value: Any) -> Any:
        """A copy of a JSON-like tree (dicts, lists, strings…) with every string redacted."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, dict):
            return {
                (self.redact(k) if isinstance(k, str) else k): self.redact_tree(v)
                for k, v in value.items()
            }
        if isinstance(value, list | tuple):
            return [self.redact_tree(v) for v in value]
        return value

    @staticmethod
    def _group(match: re.Match[str]) -> str:
        group = match.lastgroup
        assert group is not None  # every alternative is a named group
        return group.removesuffix("keep")


def _find_all(text: str, needle: str, found: set[int]) -> None:
    position = text.find(needle)
    while position >= 0:
        found.add(position)
        position = text.find(needle, position + 1)


_environ_seen: int | None = None
_cache: tuple[tuple[str, ...], Redactor] | None = None


def get_redactor() -> Redactor:
    """The redactor for the current environment (rebuilt when secret variables change)."""
    global _cache, _environ_seen
    # Scanning every variable name costs far more than noticing that nothing changed.
    fingerprint = _environ_fingerprint()
    if _cache is not None and fingerprint is not None and fingerprint == _environ_seen:
        return _cache[1]
    literals = tuple(secret_env_values())
    if _cache is None or _cache[0] != literals:
        _cache = (literals, Redactor(literals))
    _environ_seen = fingerprint
    return _cache[1]


def _environ_fingerprint() -> int | None:
    data = getattr(os.environ, "_data", None)
    return hash(tuple(data.items())) if isinstance(data, dict) else None


def redact(text: str) -> str:
    """Redact ``text`` with the current environment's redactor."""
    return get_redactor().redact(text)


def redact_optional(text: str | None) -> str | None:
    """:func:`redact` that passes ``None`` through."""
    return None if text is None else redact(text)


def utf8_tail(data: bytes, max_bytes: int) -> bytes:
    """The last ``max_bytes`` of ``data``, starting on a UTF-8 character boundary."""
    if len(data) <= max_bytes:
        return data
    tail = data[len(data) - max_bytes :] if max_bytes > 0 else b""
    start = 0
    # Skip continuation bytes (10xxxxxx) of a character the cut went through; at most 3.
    while start < min(len(tail), 4) and tail[start] & 0xC0 == 0x80:
        start += 1
    return tail[start:]


def redact_tail(
    text: str | None, max_bytes: int, redactor: Redactor | None = None
) -> tuple[str | None, bool]:
    """Redact ``text``, then keep its last ``max_bytes`` bytes (UTF-8 safe).

    Returns ``(tail, truncated)``. Redacting first means a key that straddles the cut is
    replaced whole instead of leaving its second half behind; redacting again after the cut
    catches a token whose boundary only the cut revealed.
    """
    if text is None:
        return None, False
    red = redactor or get_redactor()
    data = red.redact(text).encode("utf-8", errors="replace")
    truncated = len(data) > max_bytes
    for _ in range(3):
        if len(data) <= max_bytes:
            break
        data = red.redact(utf8_tail(data, max_bytes).decode("utf-8", errors="replace")).encode(
            "utf-8", errors="replace"
        )
    data = utf8_tail(data, max_bytes)
    return data.decode("utf-8", errors="replace"), truncated


# Escape sequences that re-program a terminal: CSI (colours, cursor moves), OSC (titles,
# hyperlinks, clipboard writes via OSC 52), DCS/SOS/PM/APC strings, and two-byte escapes.
_ESCAPE_SEQUENCE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b[\]PX^_][^\x07\x1b]*(?:\x07|\x1b\\|$)"
    r"|\x1b[@-Z\\-_ -/]"
)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def sanitize_terminal(text: str) -> str:
    """Make captured text safe to print: no escape sequence reaches the terminal.

    Whole escape sequences are removed; line endings become ``\\n``; any other control
    character (including a lone ESC, C1 controls and bidirectional overrides that can make
    text read differently from what it is) is shown as a visible ``\\xNN``/``\\uNNNN``.
    """
    text = _ESCAPE_SEQUENCE.sub("", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub(_visible, text)


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
