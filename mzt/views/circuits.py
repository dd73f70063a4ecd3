"""Circuit breakers as the read commands show them: status, instruments list, diagnose.

The shared records (``MZT_HOME/circuits/``) say where each instrument's circuit stands
now; a job's ``circuit_breaker_history`` says what its runs saw happen. A circuit kept for
one run only (``cross_workspace_coordination: false``) has no record: its history is all
there is to show.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mzt.support import paths

if TYPE_CHECKING:
    from mzt.instruments.circuits import Circuit

HISTORY_SHOWN = 20


def circuit_records(
    instruments: Iterable[str] | None = None, *, now: datetime | None = None
) -> list[dict[str, Any]]:
    """The shared records (of ``instruments`` only, when given), by instrument."""
    if not _any_records():
        return []
    # Imported only when there are records: most machines have none, and `status` is quick.
    from mzt.instruments import circuits

    wanted = None if instruments is None else set(instruments)
    moment = now or datetime.now(UTC)
    return [
        circuit_json(circuit, moment)
        for circuit in circuits.all_records()
        if wanted is None or circuit.instrument in wanted
    ]


def circuit_json(circuit: Circuit, now: datetime) -> dict[str, Any]:
    """One record for a reader: the state shown is what the next attempt would meet."""
    doc = circuit.to_json()
    doc["state"] = circuit.shown(now)
    doc["seconds_left"] = round(circuit.seconds_left(now), 1)
    if circuit.note:
        doc["note"] = circuit.note
    return doc


def circuit_text(doc: dict[str, Any] | None) -> str:
    """``closed``, ``open until T`` or ``half_open``, for a table cell."""
    if doc is None or doc["state"] == "closed":
        return "closed"
    if doc["state"] == "open":
        return f"open until {_clock(doc.get('until'))}"
    return "half_open"


def job_circuits(
    history: list[Any], instruments: Iterable[str], now: datetime | None = None
) -> dict[str, Any]:
    """A job's ``circuit_breaker`` document: the records of its instruments now, and the
    newest transitions (``history``: its ``circuit_breaker_history``) its runs recorded."""
    names = set(instruments) | {str(h.get("instrument")) for h in history if h.get("instrument")}
    return {
        "circuits": circuit_records(names, now=now),
        "history": [dict(entry) for entry in history[-HISTORY_SHOWN:]],
    }


def _any_records() -> bool:
    try:
        return any(entry.name.endswith(".json") for entry in paths.circuits_dir().iterdir())
    except OSError:
        return False


def _clock(text: Any) -> str:
    if not isinstance(text, str) or not text:
        return "?"
    return text.replace("T", " ")[:19] + "Z"
