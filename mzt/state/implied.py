"""Job fields a transition line implies from the sheets it names, so it need not carry them.

Three job fields follow the sheets a transition touches in nearly every case: which sheets
are in progress, the sheet running now, and the completed-sheet watermark. Writing them on
every line would cost more than the sheet change itself. From journal line version 3 on,
the writer leaves such a field out when :func:`implied_fields` (run on the job fields as
last written and the sheets the line names) gives its new value, and writes it whenever
the rule would be wrong; the loader runs the same rule before applying a line's ``job``.
The rule looks only at the sheets named, so both sides stay O(1) per line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from mzt.state.statuses import SheetStatus

IMPLIED_FIELDS = ("sheets_in_progress", "current_sheet", "last_completed_sheet")


def implied_fields(
    current: Callable[[str], Any], touched: Iterable[tuple[int, SheetStatus]]
) -> dict[str, Any]:
    """:data:`IMPLIED_FIELDS` after a line naming ``touched`` (sheet number, new status).

    ``current`` gives each field's value before the line, as JSON values.
    """
    running: list[int] = list(current("sheets_in_progress") or [])
    now: int | None = current("current_sheet")
    watermark: int = current("last_completed_sheet") or 0
    for num, status in touched:
        if status == SheetStatus.IN_PROGRESS:
            if num not in running:
                running.append(num)
            now = num
        else:
            if num in running:
                running.remove(num)
            if now == num:
                now = None
            if status == SheetStatus.COMPLETED:
                watermark = max(watermark, num)
    return {
        "sheets_in_progress": sorted(running),
        "current_sheet": now,
        "last_completed_sheet": watermark,
    }


def unimplied(
    previous: dict[str, Any],
    head: dict[str, Any],
    delta: dict[str, Any],
    touched: Iterable[tuple[int, SheetStatus]],
    defaults: dict[str, Any],
) -> dict[str, Any]:
    """``delta`` (job fields changed since ``previous``) less what the line implies.

    ``previous`` and ``head`` are the job's non-default fields before and after the line,
    ``defaults`` every field's default; a field the rule gets wrong is written as it is.
    """
    expected = implied_fields(lambda name: previous.get(name, defaults[name]), touched)
    kept = dict(delta)
    for name, value in expected.items():
        actual = head.get(name, defaults[name])
        if actual == value:
            kept.pop(name, None)
        else:
            kept[name] = actual
    return kept
