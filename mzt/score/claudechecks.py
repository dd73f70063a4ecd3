"""`mzt validate`'s checks of Claude Code settings that do not suit a run nobody watches.

V204 (warning): `skip_permissions: false` starts Claude Code without its auto-approve
flag, so every action that needs a permission is refused or waits for an answer. V209
(note): `disable_mcp: false` starts it with the user's MCP servers, which slow each start
and can stall it. Both look at every sheet whose instrument (or a fallback) resolves to
Claude Code, with the setting merged from whichever layer of the score sets it.
"""

from __future__ import annotations

from collections.abc import Iterator

from mzt.instruments.loader import ALIASES
from mzt.score.findings import Findings, Path_
from mzt.score.instrumentation import InstrumentChoice
from mzt.score.models import InstrumentConfig, Score
from mzt.score.plan import Plan

CLAUDE_PROFILE = "claude-code"

_SETTINGS = (
    (
        "skip_permissions",
        "V204",
        "warning",
        "{sheets} run{s} Claude Code with skip_permissions false: unattended, every action "
        "that needs a permission is refused or waits for an answer nobody gives",
        "leave skip_permissions at true (the default) for unattended runs",
    ),
    (
        "disable_mcp",
        "V209",
        "info",
        "{sheets} start{s} Claude Code with its MCP servers (disable_mcp false), which slow "
        "every start and can stall a run",
        "leave disable_mcp at true (the default) unless the sheets need a server",
    ),
)


def check_claude_settings(found: Findings, plan: Plan) -> None:
    score = found.loaded.score
    # Sheets share their instrument choices, so a big plan holds only a few distinct ones.
    first: dict[int, tuple[InstrumentChoice, list[int]]] = {}
    for sheet in plan.sheets:
        for choice in (sheet.instrument, *sheet.fallbacks):
            entry = first.get(id(choice))
            if entry is None:
                first[id(choice)] = (choice, [sheet.num])
            elif entry[1][-1] != sheet.num:
                entry[1].append(sheet.num)
    for key, code, severity, message, hint in _SETTINGS:
        nums: set[int] = set()
        for choice, sheets in first.values():
            if ALIASES.get(choice.profile, choice.profile) != CLAUDE_PROFILE:
                continue
            if choice.config.get(key) is False:
                nums.update(sheets)
        if nums:
            shown = sorted(nums)
            found.add(
                code,
                message.format(sheets=_sheets(shown), s="s" if len(shown) == 1 else ""),
                _where(score, key),
                severity=severity,
                hint=hint,
            )


def _where(score: Score, key: str) -> Path_:
    """The first place in the score that sets ``key`` to false, for the line number."""
    if key in score.backend.model_fields_set and getattr(score.backend, key) is False:
        return ("backend", key)
    for path, config in _configs(score):
        if getattr(config, key) is False:
            return (*path, key)
    return ()


def _configs(score: Score) -> Iterator[tuple[Path_, InstrumentConfig]]:
    yield ("instrument_config",), score.instrument_config
    for n, movement in score.movements.items():
        yield ("movements", n, "instrument_config"), movement.instrument_config
    for alias, spec in score.instruments.items():
        yield ("instruments", alias, "config"), spec.config
    for n, config in score.sheet.per_sheet_instrument_config.items():
        yield ("sheet", "per_sheet_instrument_config", n), config


def _sheets(nums: list[int]) -> str:
    if len(nums) == 1:
        return f"sheet {nums[0]}"
    shown = ", ".join(map(str, nums[:5])) + (", …" if len(nums) > 5 else "")
    return f"sheets {shown}"
