"""How version 3 journal lines spell sheets and times: short and stable.

A big job writes two or three lines per sheet, each naming a dozen sheet fields and a few
times, so names and timestamps were most of the journal. From version 3 on:

* every time a line carries (its ``ts``, a sheet's ``started_at``…) is an integer: UTC
  microseconds since the Unix epoch, exact, half the length of the ISO text;
* the sheet fields most transitions carry are written under the short codes of
  :data:`CODES` (any other field keeps its name); codes never change and never equal a
  field name, so a line reads the same whatever fields the model gains later;
* a sheet written whole leaves out its ``sheet_num``: the key it is written under says it.

:func:`readable` turns such a line back into the names and ISO times of version 2, the
form the loader and the history views read; older lines pass through it unchanged.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

LINE_VERSION = 3

CODES: dict[str, str] = {
    "status": "s",
    "started_at": "t0",
    "completed_at": "t1",
    "last_activity_at": "ta",
    "attempt_count": "n",
    "attempt_handle": "h",
    "exit_code": "x",
    "exit_signal": "xs",
    "exit_reason": "xr",
    "execution_duration_seconds": "d",
    "execution_mode": "xm",
    "error_message": "em",
    "error_category": "ec",
    "error_code": "e",
    "validation_passed": "vp",
    "validation_details": "vd",
    "passed_validations": "pv",
    "failed_validations": "fv",
    "last_pass_percentage": "pp",
    "completion_attempts": "ca",
    "normal_attempts": "na",
    "success_without_retry": "sw",
    "instrument_name": "i",
    "movement": "m",
    "voice": "vo",
    "stdout_tail": "so",
    "stderr_tail": "se",
    "total_duration_seconds": "td",
    "total_cost_usd": "tc",
}
NAMES = {code: name for name, code in CODES.items()}
# The sheet's fields that hold a time (a test keeps this in step with the model).
TIME_FIELDS = frozenset(
    {"started_at", "completed_at", "last_activity_at", "fire_at", "rate_limit_expires_at"}
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def micros(moment: datetime) -> int:
    """``moment`` as UTC microseconds since the epoch."""
    return (moment - _EPOCH) // _MICROSECOND


def time_text(value: Any) -> Any:
    """A line's time as the ISO text the state and the views use (other values as they are)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return (_EPOCH + value * _MICROSECOND).isoformat().replace("+00:00", "Z")
    return value


def coded_sheet(fields: dict[str, Any]) -> dict[str, Any]:
    """Sheet fields (JSON values, ISO times) as a version 3 line writes them."""
    coded: dict[str, Any] = {}
    for name, value in fields.items():
        if name in TIME_FIELDS and isinstance(value, str):
            value = _micros_of(value)
        coded[CODES.get(name, name)] = value
    return coded


def decoded_sheet(fields: dict[str, Any]) -> dict[str, Any]:
    """:func:`coded_sheet` undone."""
    decoded: dict[str, Any] = {}
    for key, value in fields.items():
        name = NAMES.get(key, key)
        decoded[name] = time_text(value) if name in TIME_FIELDS else value
    return decoded


def readable(record: dict[str, Any]) -> dict[str, Any]:
    """A journal line in the names and ISO times of version 2 (older lines unchanged)."""
    version = record.get("v")
    if not isinstance(version, int) or version < LINE_VERSION:
        return record
    plain = dict(record)
    if "ts" in plain:
        plain["ts"] = time_text(plain["ts"])
    for part in ("sheets", "whole"):
        entries = plain.get(part)
        if isinstance(entries, dict):
            plain[part] = {
                key: _decoded_entry(key, data, whole=part == "whole")
                for key, data in entries.items()
            }
    return plain


def _decoded_entry(key: str, data: Any, *, whole: bool) -> Any:
    if not isinstance(data, dict):
        return data  # the loader says what is wrong with it
    fields = decoded_sheet(data)
    if whole and "sheet_num" not in fields and key.isdigit():
        fields = {"sheet_num": int(key), **fields}
    return fields


def _micros_of(text: str) -> int | str:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text
    if moment.tzinfo is None:
        return text  # not a time this store wrote; kept as it is
    return micros(moment)
