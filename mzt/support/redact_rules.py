"""What counts as a credential: the rules :mod:`mzt.support.redact` applies, as data.

Every rule has three spellings of one shape, so a fast scan and an exact check agree:

* ``pattern``: the exact shape (Python ``re``, bytes), with an optional ``(?P<keep>…)``
  lead-in that stays visible and, for checked rules, a ``(?P<value>…)`` that
  :func:`plausible_secret` or :func:`basic_credentials` must accept;
* ``loose``: a looser shape with no look-around, so RE2 can find every place where the
  exact one may match in one pass (it matches wherever ``pattern`` does, from the same
  first byte, and in JSON-escaped text too);
* ``needles``: lower-case literals, one of which begins every match: without RE2 they are
  what is searched for.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections import Counter

from mzt.support import records
from mzt.support.lazyre import LazyPattern

_TOKEN_TAIL = r"[A-Za-z0-9_\-]"  # noqa: S105 - a character class, not a password
_NO_WORD_BEFORE = r"(?<![A-Za-z0-9_\-])"
# Header values: no quotes, separators or template/code punctuation ("{token}", "$TOKEN"
# are references to a secret, not the secret), and not merely the scheme word itself.
_HEADER_CHAR = r"[^\s\"',;{}()$<>]"
_HEADER_VALUE = r"(?!(?i:bearer|basic|token|digest)\b)" + _HEADER_CHAR + "{8,}"
# A quote as written, or escaped inside a JSON string ("{\"password\": …}").
_QUOTE = r"(?:\\{0,3}[\"'])?"
# Key names of generic ``key = value`` secrets; the name may go on after an underscore,
# dot or dash ("token_secret"), not straight on ("tokenizer", "secrets:").
_SECRET_WORDS = (
    r"passw(?:or)?d|passphrase|secret|token|api[_\-]?key|access[_\-]?key"  # noqa: S105
    r"|private[_\-]?key|credentials?"
)
_GENERIC_VALUE_CHAR = r"[^\s\"'`,;:(){}\[\]<>$%|\\]"


@records.record(frozen=True, slots=True)
class Rule:
    name: str
    pattern: str
    loose: str
    needles: tuple[str, ...]
    continuation: str = ""  # what can still follow when a match reaches the end of a chunk
    checked: bool = False  # its ``value`` group must pass a check (see ``CHECKS``)


# Order matters: at one position the first rule that matches wins; checked rules go last.
RULES: tuple[Rule, ...] = (
    Rule(
        "PRIVATE_KEY",
        r"-----BEGIN[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----(?s:.*?)"
        r"(?:-----END[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----|\Z)",
        r"-----BEGIN[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----",
        ("-----begin",),
    ),
    Rule(
        "ANTHROPIC_KEY",
        _NO_WORD_BEFORE + r"sk-ant-" + _TOKEN_TAIL + "{8,}",
        r"sk-ant-" + _TOKEN_TAIL + "{8}",
        ("sk-",),
        _TOKEN_TAIL,
    ),
    Rule(
        "OPENAI_KEY",
        _NO_WORD_BEFORE + r"sk-(?:proj|svcacct|admin)-" + _TOKEN_TAIL + "{8,}",
        r"sk-(?:proj|svcacct|admin)-" + _TOKEN_TAIL + "{8}",
        ("sk-",),
        _TOKEN_TAIL,
    ),
    # Legacy OpenAI keys: sk- plus a long alphanumeric run that contains a digit, so prose
    # such as "sk-learn" or kebab-case names never match.
    Rule(
        "OPENAI_KEY",
        _NO_WORD_BEFORE + r"sk-(?=[A-Za-z0-9]*[0-9])[A-Za-z0-9]{20,}",
        r"sk-[A-Za-z0-9]{20}",
        ("sk-",),
        "[A-Za-z0-9]",
    ),
    Rule(
        "AWS_ACCESS_KEY",
        r"(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16,}",
        r"(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}",
        ("akia", "asia", "abia", "acca"),
        "[A-Z0-9]",
    ),
    Rule(
        "AWS_SECRET_KEY",
        r"(?i:(?P<keep>aws_?secret_?(?:access_?)?key" + _QUOTE + r"\s*[:=]\s*" + _QUOTE + "))"
        r"[A-Za-z0-9/+=]{30,}",
        r"(?i:aws_?secret_?(?:access_?)?key" + _QUOTE + r"\s*[:=]\s*" + _QUOTE + ")"
        r"[A-Za-z0-9/+=]{30}",
        ("aws_secret", "awssecret"),
        "[A-Za-z0-9/+=]",
    ),
    Rule(
        "GOOGLE_API_KEY",
        _NO_WORD_BEFORE + r"AIza[0-9A-Za-z_\-]{30,}",
        r"AIza[0-9A-Za-z_\-]{30}",
        ("aiza",),
        _TOKEN_TAIL,
    ),
    Rule(
        "GITHUB_TOKEN",
        r"(?<![A-Za-z0-9_])gh[pousr]_[A-Za-z0-9]{20,}",
        r"gh[pousr]_[A-Za-z0-9]{20}",
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
        "[A-Za-z0-9]",
    ),
    Rule(
        "GITHUB_TOKEN",
        r"(?<![A-Za-z0-9_])github_pat_[A-Za-z0-9_]{20,}",
        r"github_pat_[A-Za-z0-9_]{20}",
        ("github_pat_",),
        "[A-Za-z0-9_]",
    ),
    Rule(
        "SLACK_TOKEN",
        _NO_WORD_BEFORE + r"xox[abeprs]-[A-Za-z0-9\-]{8,}",
        r"xox[abeprs]-[A-Za-z0-9\-]{8}",
        ("xox",),
        r"[A-Za-z0-9\-]",
    ),
    Rule(
        "SLACK_TOKEN",
        _NO_WORD_BEFORE + r"xapp-[A-Za-z0-9\-]{8,}",
        r"xapp-[A-Za-z0-9\-]{8}",
        ("xapp-",),
        r"[A-Za-z0-9\-]",
    ),
    Rule(
        "SLACK_WEBHOOK",
        r"(?P<keep>hooks\.slack\.com/services/)[A-Za-z0-9/_\-]{8,}",
        r"hooks\.slack\.com/services/",
        ("hooks.slack.com/services/",),
        "[A-Za-z0-9/]",
    ),
    Rule(
        "HUGGINGFACE_TOKEN",
        r"(?<![A-Za-z0-9_])hf_[A-Za-z0-9]{20,}",
        r"hf_[A-Za-z0-9]{20}",
        ("hf_",),
        "[A-Za-z0-9]",
    ),
    Rule(
        "JWT",
        r"(?<![A-Za-z0-9_\-])eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*",
        r"eyJ[A-Za-z0-9_\-]{8,}\.eyJ",
        ("eyj",),
        _TOKEN_TAIL,
    ),
    Rule(
        "AUTH_HEADER",
        r"(?i:(?P<keep>\b(?:proxy-)?authorization" + _QUOTE + r"\s*[:=]\s*" + _QUOTE + ")"
        r"(?:(?:bearer|basic|token|digest)\s+)?)" + _HEADER_VALUE,
        r"(?i:(?:proxy-)?authorization" + _QUOTE + r"\s*[:=]\s*" + _QUOTE
        + r"(?:(?:bearer|basic|token|digest)\s+)?)" + _HEADER_CHAR + "{8}",
        ("authorization", "proxy-authorization"),
        _HEADER_CHAR,
    ),
    Rule(
        "API_KEY_HEADER",
        r"(?i:(?P<keep>\bx-(?:api-key|goog-api-key|auth-token)" + _QUOTE + r"\s*[:=]\s*"
        + _QUOTE + "))" + _HEADER_VALUE,
        r"(?i:x-(?:api-key|goog-api-key|auth-token)" + _QUOTE + r"\s*[:=]\s*" + _QUOTE + ")"
        + _HEADER_CHAR + "{8}",
        ("x-api-key", "x-goog-api-key", "x-auth-token"),
        _HEADER_CHAR,
    ),
    # A bare "Bearer <token>": the token must look random (a digit, or very long), so prose
    # such as "bearer authentication" stays readable.
    Rule(
        "BEARER_TOKEN",
        r"(?i:(?P<keep>\bbearer\s+))"
        r"(?:(?=[A-Za-z0-9._~+/=\-]*[0-9])[A-Za-z0-9._~+/=\-]{8,}|[A-Za-z0-9._~+/=\-]{20,})",
        r"(?i:bearer\s+)"
        r"(?:[A-Za-z0-9._~+/=\-]*[0-9][A-Za-z0-9._~+/=\-]*|[A-Za-z0-9._~+/=\-]{20})",
        ("bearer",),
        r"[A-Za-z0-9._~+/=\-]",
    ),
    # Anchored at "://" (the scheme before it stays as it is): user, colon, password, "@".
    Rule(
        "URL_CREDENTIALS",
        r"(?P<keep>://)[^\s/@:\"'<>]*:[^\s/@\"'<>]+(?=@)",
        r"://[^\s/@:\"'<>]*:[^\s/@\"'<>]+@",
        ("://",),
    ),
    # A bare "Basic <base64>" (a header without its name): only when it decodes to
    # "user:password", so "basic authentication" and "Basic usage" stay as they are.
    Rule(
        "BASIC_AUTH",
        r"(?i:(?P<keep>\bbasic\s+))(?P<value>[A-Za-z0-9+/]{8,}={0,2})(?![A-Za-z0-9+/=])",
        r"(?i:basic\s+)[A-Za-z0-9+/]{8}",
        ("basic",),
        "[A-Za-z0-9+/=]",
        checked=True,
    ),
    # Generic "password = …", "client_secret: …", "API_KEY=…" (in the manner of gitleaks'
    # generic rule): a secret-sounding key name, a separator, and a value that looks random.
    Rule(
        "GENERIC_SECRET",
        r"(?i:(?P<keep>(?P<key>(?:" + _SECRET_WORDS + r")(?:[_.\-][A-Za-z0-9_.\-]*)?)"
        + _QUOTE + r"[ \t]*(?::=|=>|[:=]{1,2})[ \t]*" + _QUOTE + "))"
        "(?P<value>" + _GENERIC_VALUE_CHAR + "{8,})",
        r"(?i:(?:" + _SECRET_WORDS + r")(?:[_.\-][A-Za-z0-9_.\-]*)?" + _QUOTE
        + r"[ \t]*(?::=|=>|[:=]{1,2})[ \t]*" + _QUOTE + ")" + _GENERIC_VALUE_CHAR + "{8}",
        (
            "passw", "passphrase", "secret", "token", "api_key", "api-key", "apikey",
            "access_key", "access-key", "accesskey", "private_key", "private-key",
            "privatekey", "credential",
        ),
        _GENERIC_VALUE_CHAR,
        checked=True,
    ),
)  # fmt: skip

# Key names that hold something about a secret, not the secret ("token_count: 1234",
# "secret_name: my-secret", "private_key_path: ~/.ssh/id_ed25519").
_NOT_SECRET_SUFFIXES = frozenset(
    b"count counts name names path file dir url uri id ids type field length len size limit "
    b"endpoint expiry expires ttl env var header prefix suffix format version label kind usage "
    b"used total max min budget ref arn hash sha".split()
)
_KEY_SUFFIX = LazyPattern(rb"[_.\-]([A-Za-z]+)$")
_PLACEHOLDER = LazyPattern(rb"^(?:x+|\*+|\.+|-+|<[^>]*>|your[_\-].*|changeme|example.*)$", re.I)
# Code, not a value: "settings.OAUTH_CLIENT_SECRET", "form.get", "MY_SECRET_NAME".
_CODE_LIKE = LazyPattern(
    rb"^(?:[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+|[a-z]+(?:_[a-z0-9]+)+"
    rb"|[A-Z]+(?:_[A-Z0-9]+)+)$"
)
_DIGIT = LazyPattern(rb"[0-9]")
_LETTER = LazyPattern(rb"[A-Za-z]")


def shannon_entropy(value: bytes) -> float:
    """Bits per character of ``value``."""
    counts = Counter(value)
    total = len(value)
    return -sum(n / total * math.log2(n / total) for n in counts.values())


def plausible_secret(key: bytes, value: bytes) -> bool:
    """Whether ``value`` of a secret-sounding ``key`` looks like a real secret.

    Values that read as code (``form.get``), numbers, paths, URLs or placeholders are
    not; a value with letters and digits, or a long one of high entropy, is.
    """
    suffix = _KEY_SUFFIX.search(key)
    if suffix is not None and suffix.group(1).lower() in _NOT_SECRET_SUFFIXES:
        return False
    if value[:1] in (b"/", b"~", b".") or value[:4].lower() == b"http":
        return False
    if _PLACEHOLDER.match(value) or _CODE_LIKE.match(value) or _LETTER.search(value) is None:
        return False
    return _DIGIT.search(value) is not None or (len(value) >= 16 and shannon_entropy(value) >= 3.5)


def basic_credentials(value: bytes) -> bool:
    """Whether ``value`` is base64 of ``user:password``."""
    try:
        decoded = base64.b64decode(value + b"=" * (-len(value) % 4), validate=True)
    except (binascii.Error, ValueError):
        return False
    _user, colon, password = decoded.partition(b":")
    return bool(colon) and bool(password) and all(32 <= c < 127 for c in decoded)
