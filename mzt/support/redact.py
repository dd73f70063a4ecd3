"""Credential redaction for everything mzt stores or shows.

Redaction favours recall over precision: a false positive costs a few characters of output,
a false negative leaks a key into a checkpoint, a log or a terminal scroll-back.

What is redacted (leftmost match wins, earlier rules win ties):

1. the literal values of secret-looking environment variables (``*KEY*``, ``*TOKEN*``,
   ``*SECRET*``, ``*PASSWORD*``…, values of 8 characters or more) — the most reliable rule;
2. the rules of :mod:`mzt.support.redact_rules`: prefix-anchored shapes of well-known
   credentials (Anthropic, OpenAI, AWS, Google, GitHub, Slack, Hugging Face, JWTs),
   ``Authorization``/``Bearer``/``Basic`` headers, ``scheme://user:pass@`` URLs, PEM
   private-key blocks (a block cut before its END line is redacted to the end), and
   generic ``password = …``/``client_secret: …`` pairs whose value looks random.

Each match becomes ``[REDACTED_<KIND>]``; the harmless lead-in (header or key name, URL
scheme) is kept so the text still reads. The work is done on bytes: one pass of RE2 finds
where a rule may match (without RE2, a search for each rule's first letters does), and
Python's ``re`` checks each such place exactly, so clean output costs one scan.
:mod:`mzt.support.redact_stream` gives the same result on output that arrives in chunks,
and :func:`redact_tail` redacts before it cuts.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from mzt.support.lazyre import LazyPattern
from mzt.support.redact_rules import RULES, Rule, basic_credentials, plausible_secret

try:  # RE2 scans for every rule at once; without it each rule's first letters are searched
    import re2 as _re2  # type: ignore[import-untyped]
except ImportError:  # pragma: no cover - exercised by forcing the fallback in the tests
    _re2 = None

SECRET_ENV_NAME = LazyPattern(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|CREDENTIAL|PRIVATE")
# Variables that merely point at secrets (paths, sockets) are not secrets themselves.
NOT_SECRET_ENV_NAME = LazyPattern(r"(_PATH|_FILE|_DIR|_SOCK|_HOME)$")
MIN_SECRET_ENV_LENGTH = 8
HAVE_RE2 = _re2 is not None

_ENV_RULE = Rule("ENV_SECRET", "", "", ())
_CHECKS: dict[str, Callable[[re.Match[bytes]], bool]] = {
    "BASIC_AUTH": lambda m: basic_credentials(m["value"]),
    "GENERIC_SECRET": lambda m: plausible_secret(m["key"], m["value"]),
}


class Hit(NamedTuple):
    """One credential found: where it is, which rule, and the lead-in that stays."""

    start: int
    end: int
    rule: Rule
    keep: bytes

    def replacement(self) -> bytes:
        return self.keep + b"[REDACTED_" + self.rule.name.encode() + b"]"


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


def _escape(value: bytes) -> bytes:
    """A literal that both Python's ``re`` and RE2 read the same way."""
    return b"".join(b"\\x%02x" % c for c in value)


def _encode(text: str) -> bytes:
    return text.encode("utf-8", errors="surrogatepass")


class Redactor:
    """Replaces credentials in text (or bytes) by ``[REDACTED_<KIND>]`` markers.

    ``use_re2`` False (or RE2 missing) scans for each rule's first letters instead; the
    result is the same, only slower on large output.
    """

    def __init__(self, literals: list[str] | tuple[str, ...] = (), *, use_re2: bool = True) -> None:
        self.literals = tuple(sorted({v for v in literals if v}, key=len, reverse=True))
        self._literal_bytes = tuple(_encode(v) for v in self.literals)
        self.longest_literal = max((len(v) for v in self._literal_bytes), default=0)
        main: list[bytes] = []
        self._rule_of: dict[str, Rule] = {}
        if self._literal_bytes:
            main.append(b"(?P<k0>" + b"|".join(map(_escape, self._literal_bytes)) + b")")
            self._rule_of["k0"] = _ENV_RULE
        self._checked_rules: list[Rule] = []
        for index, rule in enumerate(RULES, start=1):
            if rule.checked:
                self._checked_rules.append(rule)
                continue
            group = f"k{index}"
            pattern = rule.pattern.replace("(?P<keep>", f"(?P<{group}keep>")
            main.append(f"(?P<{group}>{pattern})".encode())
            self._rule_of[group] = rule
        self._main_source = b"|".join(main)
        self._needles = tuple(sorted({n.encode() for rule in RULES for n in rule.needles}))
        loose = [b"(?:" + rule.loose.encode() + b")" for rule in RULES]
        json_literals = {json.dumps(v, ensure_ascii=False)[1:-1] for v in self.literals}
        json_literals |= {json.dumps(v)[1:-1] for v in self.literals}
        self._json_literals = tuple(_encode(v) for v in json_literals | set(self.literals))
        self._loose_source = b"|".join(loose)
        self._re2: Any = None
        self._json_re2: Any = None
        if use_re2 and _re2 is not None:
            options = _re2.Options()
            options.encoding = _re2.Options.Encoding.LATIN1  # bytes, whatever their encoding
            options.never_capture = True
            options.max_mem = 64 << 20
            literal_part = [_escape(v) for v in self._literal_bytes]
            self._re2 = _re2.compile(b"|".join(loose + literal_part), options)
            json_part = [_escape(v) for v in self._json_literals]
            self._json_re2 = _re2.compile(b"|".join(loose + json_part), options)

    # Compiled on first use: with RE2 only text that holds a candidate needs them, and
    # compiling all three costs a short-lived process 15–20 ms (a Slurm attempt, a view).
    @functools.cached_property
    def _regex(self) -> re.Pattern[bytes]:
        return re.compile(self._main_source)

    @functools.cached_property
    def _checked(self) -> list[tuple[Rule, re.Pattern[bytes]]]:
        return [(rule, re.compile(rule.pattern.encode())) for rule in self._checked_rules]

    @functools.cached_property
    def _loose_sre(self) -> re.Pattern[bytes]:
        return re.compile(self._loose_source)

    # --- finding ----------------------------------------------------------------------------

    def hits(self, data: bytes) -> list[Hit]:
        """Every credential in ``data``, left to right, never overlapping."""
        if self._re2 is not None:
            return self._hits_re2(data)
        found: list[Hit] = []
        end = 0
        for position in self._candidates(data, self._needles, self._literal_bytes):
            if position < end:
                continue
            hit = self._match_at(data, position)
            if hit is not None:
                found.append(hit)
                end = hit.end
        return found

    def _hits_re2(self, data: bytes) -> list[Hit]:
        found: list[Hit] = []
        search = self._re2.search
        position = 0
        while True:
            candidate = search(data, position)
            if candidate is None:
                return found
            start = candidate.start()
            hit = self._match_at(data, start)
            if hit is None:
                position = start + 1
            else:
                found.append(hit)
                position = max(hit.end, start + 1)

    @staticmethod
    def _candidates(
        data: bytes, needles: tuple[bytes, ...], literals: tuple[bytes, ...]
    ) -> list[int]:
        """Sorted positions where a match may start (rules' needles are lower-case)."""
        found: set[int] = set()
        lowered = data.lower()  # ASCII only, so positions stay those of ``data``
        for needle in needles:
            _find_all(lowered, needle, found)
        for literal in literals:
            _find_all(data, literal, found)
        return sorted(found)

    def _match_at(self, data: bytes, position: int) -> Hit | None:
        hit = self._main_at(data, position)
        if hit is not None:
            return hit
        for rule, pattern in self._checked:
            match = pattern.match(data, position)
            if match is not None and _CHECKS[rule.name](match):
                # "token: sk-ant-…" is named for the key it holds, not for its lead-in.
                known = self._main_at(data, match.start("value"))
                if known is not None:
                    return known
                return Hit(match.start(), match.end(), rule, match["keep"] or b"")
        return None

    def _main_at(self, data: bytes, position: int) -> Hit | None:
        match = self._regex.match(data, position)
        if match is None:
            return None
        group = match.lastgroup
        assert group is not None  # every alternative is a named group
        group = group.removesuffix("keep")
        keep = match.group(f"{group}keep") if f"{group}keep" in self._regex.groupindex else None
        return Hit(match.start(), match.end(), self._rule_of[group], keep or b"")

    def json_might_contain(self, json_text: str | bytes) -> bool:
        """Cheap pre-check on JSON text: ``False`` means no string inside needs redacting.

        It errs towards ``True``; a large document can then redact only the parts that
        need it instead of walking every string.
        """
        data = _encode(json_text) if isinstance(json_text, str) else json_text
        if self._json_re2 is not None:
            return self._json_re2.search(data) is not None
        if any(v in data for v in self._json_literals):
            return True
        match = self._loose_sre.match
        return any(match(data, p) for p in self._candidates(data, self._needles, ()))

    def might_contain(self, text: str) -> bool:
        """``False`` means :meth:`redact` would return ``text`` unchanged."""
        return bool(self.hits(_encode(text)))

    # --- replacing --------------------------------------------------------------------------

    def redact_bytes(self, data: bytes) -> bytes:
        """``data`` with every credential replaced (``data`` itself when there is none)."""
        found = self.hits(data) if data else []
        return apply_hits(data, found) if found else data

    def redact(self, text: str) -> str:
        """``text`` with every credential replaced."""
        if not text:
            return text
        data = _encode(text)
        found = self.hits(data)
        if not found:
            return text
        return apply_hits(data, found).decode("utf-8", errors="surrogatepass")

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


def apply_hits(data: bytes, found: list[Hit]) -> bytes:
    """``data`` with each of ``found`` (from :meth:`Redactor.hits` on it) replaced."""
    pieces: list[bytes] = []
    position = 0
    for hit in found:
        pieces.append(data[position : hit.start])
        pieces.append(hit.replacement())
        position = hit.end
    pieces.append(data[position:])
    return b"".join(pieces)


def _find_all(text: bytes, needle: bytes, found: set[int]) -> None:
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
