"""The per-sheet, per-movement and recent-error parts of the status document."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from itertools import chain, compress, groupby
from typing import Any

import msgspec

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
        "worktree": (
            {"path": sheet.worktree_path, "base_commit": sheet.worktree_base_commit}
            if sheet.worktree_path
            else None
        ),
    }


def _fallback_json(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "from": record.get("from"),
        "to": record.get("to"),
        "reason": record.get("reason"),
        "timestamp": record.get("timestamp"),
    }


# Structs, not dataclasses: making a dataclass costs about a millisecond at import, and
# every `mzt status` imports this module.
class Summary(msgspec.Struct):
    """What the status document says about a job's sheets as a whole."""

    counts: dict[str, int]  # per status, in the order statuses first appear
    by_status: dict[str, list[int]]
    running: list[int]
    instruments: set[str]  # named by a sheet or its fallback chain
    movements: list[dict[str, Any]]
    recent_errors: list[dict[str, Any]]
    has_handles: bool  # some sheet records an attempt that may still be running


# Looking a member up on its enum class costs as much as the rest of a loop's step.
_COMPLETED = SheetStatus.COMPLETED
_FAILED = SheetStatus.FAILED


def summarize(
    sheets: Iterable[SheetState],
    *,
    error_limit: int = RECENT_ERRORS,
    movement_rows: int | None = None,
) -> Summary:
    """Counts, movements, recent errors and the rest, sheets given in order.

    A big job is ten thousand sheets, and a Python loop doing all of this per sheet cost
    more than the rest of a `mzt status` answer; so the fields are read in one pass,
    turned into columns and each worked on whole, mostly in C. Above ``movement_rows``
    movements, each run of movements whose sheets all completed is one entry (see
    :func:`_collapsed`).
    """
    ordered = sheets if isinstance(sheets, list) else list(sheets)
    # One pass over the sheets (a big job's are spread over a lot of memory), attributes
    # read in place: faster than `attrgetter`, and than a pass per field.
    # ``0.0 +``: each figure is a float, and a sum, exactly as adding it to a movement's
    # total would make it; made here, in the same pass, rather than in one more each.
    rows = [
        (
            s.sheet_num,
            s.status,
            s.instrument_name,
            s.movement,
            s.attempt_count,
            0.0 + (s.total_duration_seconds or s.execution_duration_seconds or 0.0),
            0.0 + s.total_cost_usd,
            s.fallback_chain,
            s.attempt_handle,
            s.error_history,
        )
        for s in ordered
    ]
    columns: Any = tuple(zip(*rows, strict=True)) or ((),) * 10
    nums, statuses, names, movements, attempts, durations, costs = columns[:7]
    chains, handles, histories = columns[7:]
    by_status = _by_status(nums, statuses)
    running: list[int] = []
    if not ACTIVE_SHEET.isdisjoint(by_status):
        running = [n for n, s in zip(nums, statuses, strict=True) if s in ACTIVE_SHEET]
    instruments = set(filter(None, names))
    for fallbacks in filter(None, chains):
        instruments.update(fallbacks)
    # Without a failed sheet, only those with an error record are looked at again.
    erring = ordered if _FAILED in by_status else compress(ordered, histories)
    errors: list[dict[str, Any]] = []
    for sheet in erring:
        if sheet.error_history or sheet.status == _FAILED:
            errors.extend(_errors_of(sheet))
    errors.sort(key=lambda e: str(e.get("timestamp") or ""), reverse=True)
    grouped = _movement_columns(nums, statuses, names, movements, attempts, durations, costs)
    return Summary(
        counts={str(k): len(v) for k, v in by_status.items()},
        by_status={str(k): v for k, v in by_status.items()},
        running=running,
        instruments=instruments,
        movements=_movement_documents(grouped, movement_rows),
        recent_errors=errors[:error_limit],
        has_handles=any(handles),
    )


def _by_status(
    nums: Sequence[int], statuses: Sequence[SheetStatus]
) -> dict[SheetStatus, list[int]]:
    """Sheet numbers per status, statuses in the order they first appear."""
    if statuses and statuses.count(statuses[0]) == len(statuses):
        return {statuses[0]: list(nums)}  # a finished job: every sheet completed
    found: dict[SheetStatus, list[int]] = {}
    for num, status in zip(nums, statuses, strict=True):
        found.setdefault(status, []).append(num)
    return found


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


class _Movements(msgspec.Struct):
    """Per movement, in the order movements first appear: what its entry sums up."""

    movement: Sequence[int | None]
    first: Sequence[int]
    last: Sequence[int]
    sheets: Sequence[int]
    attempts: Sequence[int]
    duration: Sequence[float]
    cost: Sequence[float]
    # Sheets per status, and instruments in the order the movement's sheets name them;
    # with ``single`` (every movement is one sheet), that sheet's status and instrument.
    counts: Sequence[Any]
    names: Sequence[Any]
    single: bool = False

    def counts_at(self, i: int) -> dict[SheetStatus, int]:
        return {self.counts[i]: 1} if self.single else self.counts[i]

    def names_at(self, i: int) -> list[str]:
        if not self.single:
            return self.names[i]  # type: ignore[no-any-return]
        name = self.names[i]
        return [name] if name else []


def _movement_columns(
    nums: Sequence[int],
    statuses: Sequence[SheetStatus],
    names: Sequence[str | None],
    movements: Sequence[int | None],
    attempts: Sequence[int],
    durations: Sequence[float],
    costs: Sequence[float],
) -> _Movements:
    if len(set(movements)) == len(movements):
        # Each sheet its own movement, the usual shape of a big job: the sheets' columns
        # are the movements' columns.
        sheets = [1] * len(nums)
        return _Movements(
            movements, nums, nums, sheets, attempts, durations, costs, statuses, names, True
        )
    groups: dict[int | None, list[Any]] = {}
    for row in zip(nums, statuses, names, movements, attempts, durations, costs, strict=True):
        num, status, name, movement = row[:4]
        group = groups.get(movement)
        if group is None:
            group = groups[movement] = [num, 0, 0, {}, 0, 0.0, 0.0, []]
        group[1] = num
        group[2] += 1
        counts = group[3]
        counts[status] = counts.get(status, 0) + 1
        group[4] += row[4]
        group[5] += row[5]
        group[6] += row[6]
        if name and name not in group[7]:
            group[7].append(name)
    found = _Movements(list(groups), [], [], [], [], [], [], [], [])
    for group in groups.values():
        for column, value in zip(_GROUP_COLUMNS, group, strict=True):
            getattr(found, column).append(value)
    return found


# The columns of a group's accumulator list, in its order.
_GROUP_COLUMNS = ("first", "last", "sheets", "counts", "attempts", "duration", "cost", "names")


def _movement_documents(columns: _Movements, rows: int | None) -> list[dict[str, Any]]:
    """Per movement (stage): how many sheets, and how many in each status."""
    if rows is not None and len(columns.movement) > rows:
        return _collapsed(columns)
    return [_movement_document(columns, i) for i in range(len(columns.movement))]


def _movement_document(columns: _Movements, i: int) -> dict[str, Any]:
    return {
        "movement": columns.movement[i],
        "first_sheet": columns.first[i],
        "last_sheet": columns.last[i],
        "sheets": columns.sheets[i],
        "counts": {str(k): v for k, v in columns.counts_at(i).items()},
        "attempts": columns.attempts[i],
        "duration_seconds": round(columns.duration[i], 3),
        "cost_usd": round(columns.cost[i], 6),
        "instruments": columns.names_at(i),
    }


def _collapsed(columns: _Movements) -> list[dict[str, Any]]:
    """Runs of movements whose sheets all completed become one entry, labelled ``12-95``."""
    total = len(columns.movement)
    if (
        columns.single
        and total > 1
        and columns.counts.count(_COMPLETED) == total
        and None not in columns.movement
    ):
        # A finished big job, the usual case: all of it is one run, known without a flag
        # per movement.
        return [_run_document(columns, 0, total)]
    pairs = zip(columns.movement, columns.counts, strict=True)
    if columns.single:
        finished = [movement is not None and status == _COMPLETED for movement, status in pairs]
    else:
        finished = [
            movement is not None and len(counts) == 1 and counts.get(_COMPLETED) == sheets
            for (movement, counts), sheets in zip(pairs, columns.sheets, strict=True)
        ]
    merged: list[dict[str, Any]] = []
    start = 0
    for done, items in groupby(finished):
        end = start + len(list(items))
        if done and end - start > 1:
            merged.append(_run_document(columns, start, end))
        else:
            merged.extend(_movement_document(columns, i) for i in range(start, end))
        start = end
    return merged


def _run_document(columns: _Movements, start: int, end: int) -> dict[str, Any]:
    """The entry of movements ``start`` to ``end`` (exclusive), all of them completed.

    Each figure is rounded as that movement's own entry would show it, so the entry is
    their sum (see :func:`rounded_sum`).
    """
    sheets = sum(columns.sheets[start:end])
    names = columns.names[start:end]
    named = filter(None, names) if columns.single else chain.from_iterable(names)
    return {
        "movement": None,
        "label": f"{columns.movement[start]}-{columns.movement[end - 1]}",
        "first_sheet": columns.first[start],
        "last_sheet": columns.last[end - 1],
        "sheets": sheets,
        "counts": {"completed": sheets},
        "attempts": sum(columns.attempts[start:end]),
        "duration_seconds": rounded_sum(columns.duration[start:end], 3),
        "cost_usd": rounded_sum(columns.cost[start:end], 6),
        "instruments": list(dict.fromkeys(named)),
    }


# Below this, a float scaled by 10**digits is within a thousandth of the exact product.
_EXACT_BELOW = 2.0**40


def rounded_sum(values: Iterable[float], digits: int) -> float:
    """``0.0 + round(values[0], digits) + round(values[1], digits) + …``, the same float.

    Added in order, one after the other (``sum`` of floats may compensate, on newer
    Pythons). ``round(value, digits)`` goes through the value's decimal digits, slow for
    the ten thousand figures of a big job; scaled by ``10**digits``, rounded to a whole
    number and divided back gives the very same float (both are the float nearest that
    whole number over ``10**digits``) unless the scaled value is too near a half, or too
    big, for its own rounding error not to matter: there ``round`` decides. A zero adds
    nothing.
    """
    scale = 10.0**digits
    total = 0.0
    for value in values:
        if value:
            scaled = value * scale
            part = scaled % 1.0  # exact, as is ``scaled - part``: no call in the common case
            if -_EXACT_BELOW < scaled < _EXACT_BELOW and not 0.499 <= part <= 0.501:
                total += (scaled - part + (part > 0.5)) / scale
            else:
                total += round(value, digits)
    return total
