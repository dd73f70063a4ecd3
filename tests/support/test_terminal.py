"""Terminal safety: escape sequences removed, control characters made visible."""

from __future__ import annotations

from pathlib import Path

from mzt.support.terminal import sanitize_terminal

CLEAN = (Path(__file__).parents[1] / "data" / "secrets" / "clean_agent_output.txt").read_text()


def test_sanitize_terminal_neutralises_escapes() -> None:
    hostile = (
        "\x1b[31mred\x1b[0m "
        "\x1b]52;c;ZXZpbA==\x07"  # OSC 52: write the clipboard
        "\x1b]8;;http://evil.example\x1b\\link\x1b]8;;\x1b\\ "
        "bell\x07 nul\x00 del\x7f c1\x9b lone\x1b9 "
        "\u202eevil\u202c "
        "over\rwrite\r\nnext\ttab"
    )
    out = sanitize_terminal(hostile)
    assert "\x1b" not in out and "\x07" not in out and "\x00" not in out and "\x9b" not in out
    assert "\u202e" not in out and "\r" not in out
    assert "red" in out and "link" in out and "ZXZpbA" not in out
    assert "\\x07" in out and "\\x00" in out and "\\x7f" in out and "\\x1b9" in out
    assert "\\u202e" in out
    assert "over\nwrite\nnext\ttab" in out


def test_sanitize_terminal_keeps_ordinary_text() -> None:
    text = "plain\n\tindented — ünïcødé 🎉"
    assert sanitize_terminal(text) == text


def test_clean_agent_output_is_unchanged() -> None:
    assert sanitize_terminal(CLEAN) == CLEAN
