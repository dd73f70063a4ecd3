"""The per-sheet, per-movement and recent-error parts of the status document."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from mzt.state.models import SheetState
from mzt.state.reading import ACTIVE_SHEET

RECENT_ERRORS = 10


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def _category(sheet: SheetState) -> str | None:
    return None if sheet.error_category is None else sheet.error_category.value


def pass_rate(sheet: SheetState) -> float | None:
    """Share of validations that passed in the last check, 0–100 (``None``: none ran)."""
    if sheet.last_pass_percentage is not None:
        return sheet.last_pass_percentage
    total = len(sheet.passed_validations) + len(sheet.failed_validations)
    if total:
        return len(sheet.passed_validations) / total * 100
    if sheet.validation_passed is not None:
        return 100.0 if sheet.validation_passed else 0.0
    return None


def sheet_duration(sheet: SheetState, now: datetime) -> float | None:
    """Time spent on the sheet: its attempts so far, plus the one running now."""
    spent = sheet.total_duration_seconds or sheet.execution_duration_seconds or 0.0
    if sheet.status in ACTIVE_SHEET and sheet.started_at is not None:
        spent += max(0.0, (now - sheet.started_at).total_seconds())
    return round(spent, 3) if spent or sheet.attempt_count else None


def sheet_json(sheet: SheetState, now: datetime) -> dict[str, Any]:
    """One sheet in the status document (the documented fields first)."""
    rate = pass_rate(sheet)
    waiting = sheet.fire_at or sheet.rate_limit_expires_at
    return {
        "status": sheet.status.value,
        "attempt_count": sheet.attempt_count,
        "validation_passed": sheet.validation_passed,
        "instrument_name": sheet.instrument_name,
        "error_code": sheet.error_code,
        "error_message": sheet.error_message,
        "error_category": _category(sheet),
        "movement": sheet.movement,
        "voice": sheet.voice,
        "started_at": _iso(sheet.started_at),
        "completed_at": _iso(sheet.completed_at),
        "duration_seconds": sheet_duration(sheet, now),
        "cost_usd": round(sheet.total_cost_usd, 6),
        "validation_pass_rate": None if rate is None else round(rate, 1),
        "completion_attempts": sheet.completion_attempts,
        "waiting_until": _iso(waiting),
        "fallbacks": [_fallback_json(dict(f)) for f in sheet.instrument_fallback_history],
    }


def _fallback_json(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "from": record.get("from"),
        "to": record.get("to"),
        "reason": record.get("reason"),
        "timestamp": record.get("timestamp"),
    }


def recent_errors(sheets: Iterable[SheetState], limit: int = RECENT_ERRORS) -> list[dict[str, Any]]:
    """The newest errors across sheets (same fields as the `errors` document), newest first.

    A failed sheet whose failure left no error record (a prompt that could not be
    rendered, say) contributes its own message.
    """
    found: list[dict[str, Any]] = []
    for sheet in sheets:
        for record in sheet.error_history:
            context = record.context if isinstance(record.context, dict) else {}
            found.append(
                {
                    "sheet_num": sheet.sheet_num,
                    "attempt": record.attempt_number,
                    "error_code": record.error_code,
                    "category": context.get("category") or record.error_type,
                    "message": record.error_message,
                    "timestamp": _iso(record.timestamp),
                }
            )
        if sheet.status == "failed" and not sheet.error_history:
            found.append(
                {
                    "sheet_num": sheet.sheet_num,
                    "attempt": sheet.attempt_count,
                    "error_code": sheet.error_code,
                    "category": _category(sheet),
                    "message": sheet.error_message,
                    "timestamp": _iso(sheet.completed_at),
                }
            )
    found.sort(key=lambda e: str(e.get("timestamp") or ""), reverse=True)
    return found[:limit]


def movements(sheets: Iterable[SheetState]) -> list[dict[str, Any]]:
    """Per movement (stage), sheets given in order: how many, and how many in each status."""
    # Per-movement accumulators as lists, turned into documents once at the end: a job of
    # ten thousand one-sheet movements makes ten thousand of them.
    groups: dict[int | None, list[Any]] = {}
    for sheet in sheets:
        movement = sheet.movement
        group = groups.get(movement)
        if group is None:
            group = groups[movement] = [sheet.sheet_num, 0, 0, {}, 0, 0.0, 0.0, []]
        group[1] = sheet.sheet_num
        group[2] += 1
        counts = group[3]
        status = sheet.status
        counts[status] = counts.get(status, 0) + 1
        group[4] += sheet.attempt_count
        group[5] += sheet.total_duration_seconds or sheet.execution_duration_seconds or 0.0
        group[6] += sheet.total_cost_usd
        name = sheet.instrument_name
        if name and name not in group[7]:
            group[7].append(name)
    return [
        {
            "movement": movement,
            "first_sheet": first,
            "last_sheet": last,
            "sheets": count,
            "counts": {str(k): v for k, v in counts.items()},
            "attempts": attempts,
            "duration_seconds": round(duration, 3),
            "cost_usd": round(cost, 6),
            "instruments": names,
        }
        for movement, (
            first,
            last,
            count,
            counts,
            attempts,
            duration,
            cost,
            names,
        ) in groups.items()
    ]
