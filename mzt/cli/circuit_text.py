"""Circuit breakers in the text views: `status`, `diagnose` and `instruments list`."""

from __future__ import annotations

from typing import Any


def circuit_lines(doc: dict[str, Any] | None, *, verbose: bool = False) -> list[str]:
    """A ``Circuit breakers:`` block for a job's ``circuit_breaker`` document: the circuits
    that are not closed (all with ``verbose``, and the transitions its runs recorded)."""
    from mzt.api import sanitize_terminal

    if not doc:
        return []
    shown = [c for c in doc.get("circuits", []) if c["state"] != "closed" or verbose]
    history = doc.get("history", []) if verbose else []
    if not shown and not history:
        return []
    lines = ["Circuit breakers:"]
    for circuit in shown:
        text = f"{circuit['instrument']}: {state_text(circuit, left=True)}"
        if circuit["state"] != "closed":
            text += f", {circuit['consecutive_failures']} failure(s) in a row"
            if circuit.get("set_by_job"):
                text += f", opened by job {circuit['set_by_job']}"
            if circuit.get("reason"):
                text += f": {circuit['reason']}"
        if circuit.get("note"):
            text += f" ({circuit['note']})"
        lines.append("  " + " ".join(sanitize_terminal(text).split()))
    for entry in history:
        text = (
            f"    {str(entry.get('timestamp', ''))[:19]}  {entry.get('instrument', '-')} → "
            f"{entry.get('state')} ({entry.get('trigger')}, "
            f"{entry.get('consecutive_failures', 0)} failure(s) in a row)"
        )
        lines.append(sanitize_terminal(text))
    return lines


def show_circuits(doc: dict[str, Any] | None, *, verbose: bool = False) -> None:
    """Print the `circuit_lines` block, after a blank line, when there is one."""
    from mzt.cli import console

    block = circuit_lines(doc, verbose=verbose)
    for line in ["", *block] if block else []:
        console.out(line)


def state_text(circuit: dict[str, Any] | None, *, left: bool = False) -> str:
    """``closed``, ``open until T`` (``left``: and how long that is) or ``half_open``
    (the next attempt is a trial)."""
    if circuit is None or circuit["state"] == "closed":
        return "closed"
    if circuit["state"] == "open":
        until = str(circuit.get("until") or "?").replace("T", " ")[:19]
        return f"open until {until}Z" + (
            f" ({circuit.get('seconds_left', 0):g}s left)" if left else ""
        )
    return "half_open"
