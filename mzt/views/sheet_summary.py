"""The per-sheet, per-movement and recent-error parts of the status document."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mzt.state.models import SheetState
from mzt.state.reading import ACTIVE_SHEET
from mzt.state.statuses import SheetStatus

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


def sheet_json(sheet: SheetState, now: datetime, *, interrupted: bool = False) -> dict[str, Any]:
    """One sheet in the status document (the documented fields first).

    ``interrupted``: the sheet's run died during its attempt; ``now`` is then when that run
    last wrote, where the attempt's time stops.
    """
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
        "interrupted": interrupted,
    }


def _fallback_json(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "from": record.get("from"),
        "to": record.get("to"),
        "reason": record.get("reason"),
        "timestamp": record.get("timestamp"),
    }


@dataclass(slots=True)
class Summary:
    """What the status document says about a job's sheets as a whole, gathered in one pass."""

    counts: dict[str, int]  # per status, in the order statuses first appear
    by_status: dict[str, list[int]]
    running: list[int]
    instruments: set[str]  # named by a sheet or its fallback chain
    movements: list[dict[str, Any]]
    recent_errors: list[dict[str, Any]]
    has_handles: bool  # some sheet records an attempt that may still be running


def summarize(
    sheets: Iterable[SheetState],
    *,
    error_limit: int = RECENT_ERRORS,
    movement_rows: int | None = None,
) -> Summary:
    """Counts, movements, recent errors and the rest, sheets given in order.

    One loop for everything: a big job is ten thousand sheets, and each pass over them
    costs about as much as the rest of a `mzt status` answer. Above ``movement_rows``
    movements, each run of movements whose sheets all completed is one entry (see
    :func:`_collapsed`).
    """
    by_status: dict[SheetStatus, list[int]] = {}
    running: list[int] = []
    instruments: set[str] = set()
    errors: list[dict[str, Any]] = []
    has_handles = False
    # Per-movement accumulators as lists, turned into documents once at the end: a job of
    # ten thousand one-sheet movements makes ten thousand of them.
    groups: dict[int | None, list[Any]] = {}
    for sheet in sheets:
        num = sheet.sheet_num
        status = sheet.status
        nums = by_status.get(status)
        if nums is None:
            nums = by_status[status] = []
        nums.append(num)
        if status in ACTIVE_SHEET:
            running.append(num)
        name = sheet.instrument_name
        if name:
            instruments.add(name)
        if sheet.fallback_chain:
            instruments.update(sheet.fallback_chain)
        if sheet.attempt_handle:
            has_handles = True
        if sheet.error_history or status == SheetStatus.FAILED:
            errors.extend(_errors_of(sheet))
        movement = sheet.movement
        group = groups.get(movement)
        if group is None:
            group = groups[movement] = [num, 0, 0, {}, 0, 0.0, 0.0, []]
        group[1] = num
        group[2] += 1
        counts = group[3]
        counts[status] = counts.get(status, 0) + 1
        group[4] += sheet.attempt_count
        group[5] += sheet.total_duration_seconds or sheet.execution_duration_seconds or 0.0
        group[6] += sheet.total_cost_usd
        if name and name not in group[7]:
            group[7].append(name)
    errors.sort(key=lambda e: str(e.get("timestamp") or ""), reverse=True)
    return Summary(
        counts={str(k): len(v) for k, v in by_status.items()},
        by_status={str(k): v for k, v in by_status.items()},
        running=running,
        instruments=instruments,
        movements=_movement_documents(groups, movement_rows),
        recent_errors=errors[:error_limit],
        has_handles=has_handles,
    )


def _errors_of(sheet: SheetState) -> list[dict[str, Any]]:
    """A sheet's error records (same fields as the `errors` document).

    A failed sheet whose failure left no error record (a prompt that could not be
    rendered, say) contributes its own message.
    """
    found = []
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
    if sheet.status == SheetStatus.FAILED and not sheet.error_history:
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
    return found


def _movement_documents(
    groups: dict[int | None, list[Any]], rows: int | None
) -> list[dict[str, Any]]:
    """Per movement (stage): how many sheets, and how many in each status."""
    if rows is not None and len(groups) > rows:
        return _collapsed(groups)
    return [_movement_document(movement, group) for movement, group in groups.items()]


def _movement_document(movement: int | None, group: list[Any]) -> dict[str, Any]:
    first, last, count, counts, attempts, duration, cost, names = group
    return {
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


def _collapsed(groups: dict[int | None, list[Any]]) -> list[dict[str, Any]]:
    """Runs of movements whose sheets all completed become one entry, labelled ``12-95``.

    Built from the accumulators, so the ten thousand movements of a big job of one-sheet
    movements never become ten thousand documents only to be merged into one.
    """
    merged: list[dict[str, Any]] = []
    run: list[tuple[int, list[Any]]] = []

    def flush() -> None:
        if len(run) == 1:
            merged.append(_movement_document(*run[0]))
        elif run:
            instruments: list[str] = []
            for _, group in run:
                instruments += [i for i in group[7] if i not in instruments]
            sheets = sum(group[2] for _, group in run)
            merged.append(
                {
                    "movement": None,
                    "label": f"{run[0][0]}-{run[-1][0]}",
                    "first_sheet": run[0][1][0],
                    "last_sheet": run[-1][1][1],
                    "sheets": sheets,
                    "counts": {"completed": sheets},
                    "attempts": sum(group[4] for _, group in run),
                    # Each movement's figures rounded as its own entry would show them.
                    "duration_seconds": sum(round(group[5], 3) for _, group in run),
                    "cost_usd": sum(round(group[6], 6) for _, group in run),
                    "instruments": instruments,
                }
            )
        run.clear()

    for movement, group in groups.items():
        counts = group[3]
        if movement is not None and len(counts) == 1 and counts.get("completed") == group[2]:
            run.append((movement, group))
        else:
            flush()
            merged.append(_movement_document(movement, group))
    flush()
    return merged
