"""The sheets of a job summed up for the status document, in one pass."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime

from mzt.state.models import SheetState, SheetStatus
from mzt.views.sheet_summary import rounded_sum, summarize

WHEN = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)


def sheet(num: int, status: SheetStatus, **fields: object) -> SheetState:
    return SheetState(
        sheet_num=num,
        status=status,
        movement=fields.pop("movement", num),
        started_at=WHEN,
        instrument_name="cli",
        attempt_count=1,
        total_duration_seconds=0.0004 * num,
        **fields,  # type: ignore[arg-type]
    )


def job(done: int, failed: int, pending: int) -> list[SheetState]:
    nums = iter(range(1, done + failed + pending + 1))
    return (
        [sheet(next(nums), SheetStatus.COMPLETED) for _ in range(done)]
        + [sheet(next(nums), SheetStatus.FAILED, error_message="boom") for _ in range(failed)]
        + [sheet(next(nums), SheetStatus.PENDING) for _ in range(pending)]
    )


def test_counts_statuses_instruments_and_handles_in_sheet_order() -> None:
    sheets = [
        sheet(1, SheetStatus.COMPLETED, fallback_chain=["claude"]),
        sheet(2, SheetStatus.IN_PROGRESS, attempt_handle={"executor": "local"}),
        sheet(3, SheetStatus.FAILED, error_message="boom"),
        sheet(4, SheetStatus.COMPLETED),
    ]
    summary = summarize(sheets)
    assert summary.counts == {"completed": 2, "in_progress": 1, "failed": 1}
    assert summary.by_status == {"completed": [1, 4], "in_progress": [2], "failed": [3]}
    assert summary.running == [2]
    assert summary.instruments == {"cli", "claude"}
    assert summary.has_handles
    assert [e["sheet_num"] for e in summary.recent_errors] == [3]
    assert [m["movement"] for m in summary.movements] == [1, 2, 3, 4]
    assert not summarize(sheets[2:]).has_handles


def test_runs_of_finished_movements_are_merged_above_the_row_limit() -> None:
    sheets = job(done=35, failed=1, pending=4)
    every = summarize(sheets).movements
    merged = summarize(sheets, movement_rows=30).movements
    assert len(every) == 40
    assert [m.get("label") or m["movement"] for m in merged] == ["1-35", 36, 37, 38, 39, 40]
    run = merged[0]
    assert (run["movement"], run["first_sheet"], run["last_sheet"]) == (None, 1, 35)
    assert run["sheets"] == 35 and run["counts"] == {"completed": 35}
    assert run["attempts"] == 35 and run["instruments"] == ["cli"]
    # The sums of what each movement's own entry says, rounded as they are.
    assert run["duration_seconds"] == sum(m["duration_seconds"] for m in every[:35])
    assert run["cost_usd"] == sum(m["cost_usd"] for m in every[:35])
    assert merged[1:] == every[35:]


def test_a_finished_job_above_the_row_limit_is_one_entry() -> None:
    sheets = job(done=40, failed=0, pending=0)
    every = summarize(sheets).movements
    assert summarize(sheets, movement_rows=30).movements == [
        {
            "movement": None,
            "label": "1-40",
            "first_sheet": 1,
            "last_sheet": 40,
            "sheets": 40,
            "counts": {"completed": 40},
            "attempts": 40,
            "duration_seconds": sum(m["duration_seconds"] for m in every),
            "cost_usd": 0.0,
            "instruments": ["cli"],
        }
    ]
    # A sheet without a movement is never merged, even in a finished job.
    sheets[5] = sheet(6, SheetStatus.COMPLETED, movement=None)
    labels = [
        m.get("label") or m["movement"] for m in summarize(sheets, movement_rows=30).movements
    ]
    assert labels == ["1-5", None, "7-40"]


def test_movements_stay_one_entry_each_up_to_the_row_limit() -> None:
    sheets = job(done=29, failed=0, pending=1)
    assert summarize(sheets, movement_rows=30).movements == summarize(sheets).movements


def test_movements_of_several_sheets_are_summed_and_merged_the_same_way() -> None:
    sheets = [
        sheet(s.sheet_num, s.status, movement=(s.sheet_num + 1) // 2, total_cost_usd=0.25)
        for s in job(done=66, failed=1, pending=3)
    ]
    every = summarize(sheets).movements
    merged = summarize(sheets, movement_rows=30).movements
    assert len(every) == 35
    assert every[0]["counts"] == {"completed": 2} and every[0]["cost_usd"] == 0.5
    assert every[33]["counts"] == {"failed": 1, "pending": 1}
    assert [m.get("label") or m["movement"] for m in merged] == ["1-33", 34, 35]
    assert merged[0]["last_sheet"] == 66 and merged[0]["sheets"] == 66
    assert merged[0]["duration_seconds"] == sum(m["duration_seconds"] for m in every[:33])
    assert merged[0]["cost_usd"] == 16.5
    assert merged[1:] == every[33:]


def test_rounded_sum_is_the_sum_of_each_figure_rounded_in_order() -> None:
    picks = random.Random(7)
    values = [picks.uniform(0, 200) for _ in range(5000)]
    values += [picks.uniform(-1, 1) * 10.0 ** picks.randint(-9, 12) for _ in range(5000)]
    # Halves and near-halves, where a scaled-and-rounded shortcut would go wrong.
    values += [0.0005, 1.0005, 2.675, 0.0015, -0.0025, 1e-7, 123456.0000005, 0.0, -0.0]
    values += [math.nextafter(v, math.inf) for v in (0.0005, 2.675, 0.1234565)]
    values += [math.inf, 1e300]
    for digits in (3, 6):
        for value in values:
            assert rounded_sum([value], digits) == round(value, digits), (digits, value)
    small = values[:300]
    expected = 0.0
    for value in small:
        expected += round(value, 3)
    assert rounded_sum(small, 3) == expected
