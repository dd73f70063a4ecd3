"""Reading the history file back as records: what `history`, `errors` and `diagnose` show.

Transition lines hold only what changed (see :mod:`mzt.state.codec`); here each one is
given back with ``sheets`` holding the named sheets' fields as they were after it, the
form the history views read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mzt.state.journal import read_lines


def read_history(
    path: Path,
    *,
    sheet_num: int | None = None,
    kinds: tuple[str, ...] | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """History records, oldest first (the newest ``limit`` when given).

    Unparsable lines are skipped; a torn last line is ignored.
    """
    lines, _ = read_lines(path)
    records = []
    known: dict[str, dict[str, Any]] = {}
    instance = None
    for line in lines:
        record = line.record
        if record is None:
            continue
        if record.get("kind") == "sheet":
            if record.get("instance") != instance:
                instance, known = record.get("instance"), {}
            record = expand_transition(record, known)
        if kinds is not None and record.get("kind") not in kinds:
            continue
        if sheet_num is not None and not mentions_sheet(record, sheet_num):
            continue
        records.append(record)
    return records[-limit:] if limit is not None and limit > 0 else records


def mentions_sheet(record: dict[str, Any], sheet_num: int) -> bool:
    """Whether a history record is about ``sheet_num``."""
    if record.get("sheet_num") == sheet_num:
        return True
    key = str(sheet_num)
    return any(
        isinstance(part, dict) and key in part
        for part in (record.get("sheets"), record.get("whole"))
    )


def expand_transition(record: dict[str, Any], known: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A transition line with ``sheets`` holding the named sheets' fields after it.

    ``known`` carries each sheet's fields from line to line of one state (a sheet's first
    line after a snapshot holds it whole, so what is known is complete from there on).
    """
    whole = record.get("whole")
    patches = record.get("sheets")
    touched: list[str] = []
    if isinstance(whole, dict):
        for key, data in whole.items():
            if isinstance(data, dict):
                known[key] = dict(data)
                touched.append(key)
    if isinstance(patches, dict):
        for key, data in patches.items():
            if not isinstance(data, dict):
                continue
            if record.get("v", 1) == 1:
                known[key] = dict(data)
            else:
                known.setdefault(key, {"sheet_num": _number(key)}).update(data)
            touched.append(key)
    expanded = {k: v for k, v in record.items() if k != "whole"}
    expanded["sheets"] = {key: dict(known[key]) for key in dict.fromkeys(touched)}
    return expanded


def _number(key: str) -> int | str:
    return int(key) if key.isdigit() else key
