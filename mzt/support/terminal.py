"""Captured text made safe to print: no escape sequence or control character reaches a terminal.

Apart from :mod:`mzt.support.redact` because every view that prints captured text needs
this, and most of them (`mzt status` of a job with no errors, say) need no redaction: its
rules and RE2 stay unimported.
"""

from __future__ import annotations

import re

from mzt.support.lazyre import LazyPattern

# Escape sequences that re-program a terminal: CSI (colours, cursor moves), OSC (titles,
# hyperlinks, clipboard writes via OSC 52), DCS/SOS/PM/APC strings, and two-byte escapes.
_ESCAPE_SEQUENCE = LazyPattern(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b[\]PX^_][^\x07\x1b]*(?:\x07|\x1b\\|$)"
    r"|\x1b[@-Z\\-_ -/]"
)
_CONTROL = LazyPattern(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


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
