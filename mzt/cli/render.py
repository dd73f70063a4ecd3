"""Text and JSON renderings of plans and issues, shared by several commands."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mzt.cli import console

if TYPE_CHECKING:
    from mzt.api import Issue, Plan, Preview, SheetPlan

COMPACT_ABOVE = 50


def issue_lines(issues: list[Issue], source: str) -> None:
    labels = {"error": ("error", "red"), "warning": ("warning", "yellow"), "info": ("note", "blue")}
    for issue in issues:
        label, color = labels.get(issue.severity, ("note", "blue"))
        console.err(f"{console.style(label, color, sys.stderr)}: {issue.render(source)}")


def plan_table(plan: Plan, instrument: str | None = None) -> list[str]:
    """One row per sheet; above 50 sheets, one row per stage. ``instrument`` is
    `--instrument`: every sheet plays on it instead of its own chain."""
    headers = ["SHEET", "STAGE", "INSTRUMENT", "WAITS FOR", "CHECKS", "TIMEOUT"]
    rows: list[list[str]] = []
    if plan.total_sheets <= COMPACT_ABOVE:
        for sheet in plan.sheets:
            stage = f"{sheet.stage}" + (f".{sheet.instance}" if sheet.fan_count > 1 else "")
            waits = _nums(sheet.dependencies)
            rows.append(_row(str(sheet.num), stage, sheet, waits, instrument))
    else:
        for group in _stages(plan):
            first, last = group[0], group[-1]
            nums = f"{first.num}" if first is last else f"{first.num}-{last.num}"
            stage = f"{first.stage}" + (f" ×{len(group)}" if len(group) > 1 else "")
            deps = sorted({d for s in group for d in s.dependencies})
            rows.append(_row(nums, stage, first, _nums(tuple(deps)), instrument))
    return console.table(rows, headers)


def _row(nums: str, stage: str, sheet: SheetPlan, deps: str, instrument: str | None) -> list[str]:
    chain = " → ".join(c.name for c in sheet.chain(instrument))
    return [nums, stage, chain, deps or "-", str(len(sheet.validations)), _duration(sheet)]


def _duration(sheet: SheetPlan) -> str:
    seconds = sheet.instrument.timeout_seconds
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g}h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g}m"
    return f"{seconds:g}s"


def _stages(plan: Plan) -> list[list[SheetPlan]]:
    groups: list[list[SheetPlan]] = []
    for sheet in plan.sheets:
        if groups and groups[-1][0].stage == sheet.stage:
            groups[-1].append(sheet)
        else:
            groups.append([sheet])
    return groups


def _nums(nums: tuple[int, ...]) -> str:
    """Compact number list: 1-3,7."""
    from mzt.cli.formatting import num_ranges

    return num_ranges(list(nums), limit=len(nums)) if nums else ""


def plan_json(plan: Plan, instrument: str | None = None) -> list[dict[str, Any]]:
    return [_sheet_json(s, instrument) for s in plan.sheets]


def _sheet_json(s: SheetPlan, instrument: str | None) -> dict[str, Any]:
    primary, *fallbacks = s.chain(instrument)
    return {
        "sheet_num": s.num,
        "stage": s.stage,
        "instance": s.instance,
        "fan_count": s.fan_count,
        "items": [s.item_start, s.item_end],
        "instrument": primary.name,
        "profile": primary.profile,
        "model": primary.model,
        "fallbacks": [f.name for f in fallbacks],
        "timeout_seconds": primary.timeout_seconds,
        "dependencies": list(s.dependencies),
        "validations": len(s.validations),
        "description": s.description,
        "movement": s.movement,
    }


def plan_and_preview(plan: Plan, preview: Preview | None, instrument: str | None = None) -> None:
    console.out()
    for line in plan_table(plan, instrument):
        console.out(line)
    if preview is not None and preview.text is not None:
        console.out()
        console.out("Prompt of sheet 1:")
        console.out(preview.text.rstrip("\n"))


def pacing(total_sheets: int, at_once: int, pause: float) -> str | None:
    """The wait between sequential sheets, said where a new user sees it (else None)."""
    if total_sheets < 2 or at_once > 1 or pause <= 0:
        return None
    return (
        f"Sheets run one at a time, {pause:g} s apart (pause_between_sheets_seconds; "
        "0 turns the pause off)."
    )


def summary(plan: Plan, workspace: Path) -> str:
    stages = (
        f" in {console.counted(plan.total_stages, 'stage')}"
        if plan.total_stages != plan.total_sheets
        else ""
    )
    return f"{console.counted(plan.total_sheets, 'sheet')}{stages}, workspace {workspace}"
