"""The spelling of version 3 journal lines: codes and integer times."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec

from mzt.state.lineform import CODES, TIME_FIELDS, coded_sheet, micros, readable, time_text
from mzt.state.models import SheetState


def _fields() -> dict[str, object]:
    return {info.name: info.type for info in msgspec.structs.fields(SheetState)}


def test_codes_name_real_fields_and_never_a_field_name() -> None:
    fields = _fields()
    assert set(CODES) <= set(fields)
    assert not set(CODES.values()) & set(fields)
    assert len(set(CODES.values())) == len(CODES)


def test_the_time_fields_are_the_models_times() -> None:
    times = {name for name, kind in _fields().items() if datetime in getattr(kind, "__args__", ())}
    assert times == TIME_FIELDS


def test_times_go_to_microseconds_and_back_exactly() -> None:
    for moment in (
        datetime(2026, 5, 1, 10, 0, 0, 123456, tzinfo=UTC),
        datetime(2026, 5, 1, 10, 0, 0, tzinfo=UTC),  # no fraction: ISO text has none either
        datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    ):
        text = moment.isoformat().replace("+00:00", "Z")
        assert time_text(micros(moment)) == text
        assert datetime.fromisoformat(time_text(micros(moment))) == moment


def test_a_line_reads_back_in_names_and_iso_times() -> None:
    fields = {
        "status": "completed",
        "completed_at": "2026-05-01T10:00:00.000001Z",
        "exit_code": 0,
        "some_future_field": [1],
    }
    coded = coded_sheet(fields)
    assert coded == {"s": "completed", "t1": 1777629600000001, "x": 0, "some_future_field": [1]}
    line = {"v": 3, "ts": 1777629600000001, "sheets": {"4": coded}, "whole": {"5": coded}}
    plain = readable(line)
    assert plain["ts"] == "2026-05-01T10:00:00.000001Z"
    assert plain["sheets"] == {"4": fields}
    assert plain["whole"] == {"5": {"sheet_num": 5, **fields}}
    old = {"v": 2, "ts": "2026-05-01T10:00:00Z", "sheets": {"4": {"s": 1}}}
    assert readable(old) is old  # older lines are already in names
