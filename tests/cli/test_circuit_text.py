"""The circuit-breaker lines of `status` and `diagnose`, and the instruments table cell."""

from __future__ import annotations

from typing import Any

from mzt.cli.circuit_text import circuit_lines, state_text

OPEN: dict[str, Any] = {
    "instrument": "claude-code",
    "state": "open",
    "consecutive_failures": 5,
    "until": "2026-01-01T12:05:00.000Z",
    "seconds_left": 42.0,
    "set_by_job": "nightly",
    "reason": "exited with status 1\x1b[31m",
}
CLOSED: dict[str, Any] = {"instrument": "cli", "state": "closed", "consecutive_failures": 0}


def test_state_text() -> None:
    assert state_text(None) == "closed"
    assert state_text(CLOSED) == "closed"
    assert state_text(OPEN) == "open until 2026-01-01 12:05:00Z"
    assert state_text(OPEN, left=True) == "open until 2026-01-01 12:05:00Z (42s left)"
    assert state_text({**OPEN, "state": "half_open"}) == "half_open"


def test_only_circuits_that_are_not_closed_unless_verbose() -> None:
    doc = {"circuits": [OPEN, CLOSED], "history": [{"instrument": "cli", "state": "open"}]}
    lines = circuit_lines(doc)
    assert lines[0] == "Circuit breakers:" and len(lines) == 2
    assert "claude-code: open until" in lines[1] and "opened by job nightly" in lines[1]
    assert "\x1b" not in lines[1]  # captured text is made safe for a terminal
    assert len(circuit_lines(doc, verbose=True)) == 4  # the closed one, and the transition
    assert circuit_lines({"circuits": [CLOSED], "history": []}) == []
    assert circuit_lines(None) == []
