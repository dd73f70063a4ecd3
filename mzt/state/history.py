"""Reading the history file back as records: what `history`, `errors` and `diagnose` show.

Transition lines hold only what changed (see :mod:`mzt.state.codec`); here each one is
given back with ``sheets`` holding the named sheets' fields as they were after it, the
form the history views read.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from mzt.state.book import WriterBook, serialised
from mzt.state.checkpoint import CheckpointState
from mzt.state.codec import attempt_line, event_line
from mzt.state.journal import read_lines
from mzt.state.lineform import readable
from mzt.support.redact import get_redactor


class HistoryMixin:
    """The history half of the JSON store: events and attempts appended, records read."""

    _guard: threading.RLock

    def history_path(self, job_id: str) -> Path:
        raise NotImplementedError

    def prepare(self, job_id: str) -> list[Path]:
        raise NotImplementedError

    def _book(self, job_id: str) -> WriterBook:
        raise NotImplementedError

    def read_history(
        self,
        job_id: str,
        *,
        sheet_num: int | None = None,
        kinds: tuple[str, ...] | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """History records, oldest first (the newest ``limit`` when given).

        Transition lines come back with ``sheets`` holding each named sheet's fields as
        they were after that transition (the file holds only what changed).
        """
        return read_history(
            self.history_path(job_id), sheet_num=sheet_num, kinds=kinds, limit=limit
        )

    def record_event(
        self, state: CheckpointState, event: str, *, sheet_num: int | None = None, **fields: Any
    ) -> int:
        """Append a history event (retry scheduled, rate-limit wait, pause, resume…).

        It does not change the state; it carries the ``seq`` it follows. Returns the
        record's byte offset in the history file.
        """
        line = event_line(state, event, sheet_num, fields, get_redactor())
        with self._guard:  # by hand: the decorator cannot type a method taking **fields
            self.prepare(state.job_id)
            return self._book(state.job_id).journal.append(line)

    @property
    def supports_execution_history(self) -> bool:
        """Attempts are kept in the history file."""
        return True

    @serialised
    def record_execution(
        self,
        job_id: str,
        sheet_num: int,
        attempt_num: int,
        prompt: str | None = None,
        output: str | None = None,
        exit_code: int | None = None,
        duration_seconds: float | None = None,
        *,
        durable: bool = True,
    ) -> int | None:
        """Append an attempt record; returns its byte offset in the history file.

        The prompt (its first 4 KiB) and the output (its last 10 KiB) are redacted before
        they are cut; the full output lives in the attempt's log files. ``durable=False``
        leaves the fsync to the next durable write (see `Journal.append`).
        """
        book = self._book(job_id)
        line = attempt_line(
            book.seq,
            sheet_num=sheet_num,
            attempt=attempt_num,
            prompt=prompt,
            output=output,
            exit_code=exit_code,
            duration_seconds=duration_seconds,
            redactor=get_redactor(),
        )
        self.prepare(job_id)
        return book.journal.append(line, durable=durable)


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
        if line.record is None:
            continue
        record = readable(line.record)
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
