"""Expand a score into its plan: one immutable record per concrete sheet.

Pure and deterministic: no I/O. Everything the runner needs to know about a sheet
(its place in the stage layout, its dependencies, the instrument chain with merged
configuration, its timeout and the validations that apply to it) is decided here,
once, so that the runner never looks at raw score data.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from types import MappingProxyType

from mzt.score.conditions import parse_condition
from mzt.score.instrumentation import InstrumentChoice, InstrumentResolver
from mzt.score.loader import LoadedScore
from mzt.score.models import InjectionItem, Score, SkipWhenCommand
from mzt.support import records
from mzt.support.errors import Issue, ScoreError

MAX_SHEETS = 100_000
MAX_EDGES = 1_000_000  # sheet-to-sheet dependencies, after fan-out expansion


@records.record(frozen=True, slots=True)
class SheetPlan:
    """Everything decided about one concrete sheet before anything runs."""

    num: int
    stage: int
    instance: int
    fan_count: int
    item_start: int
    item_end: int
    dependencies: tuple[int, ...]
    instrument: InstrumentChoice
    fallbacks: tuple[InstrumentChoice, ...]
    validations: tuple[int, ...]  # indices into `Score.validations`
    description: str | None
    movement: str | None
    skip_when: str | None
    skip_when_command: SkipWhenCommand | None
    injections: tuple[InjectionItem, ...]  # prelude, then this sheet's cadenzas
    prompt_extensions: tuple[str, ...]

    def chain(self, override: str | None = None) -> tuple[InstrumentChoice, ...]:
        """The instruments the sheet plays on, primary first; ``override`` (`--instrument`)
        replaces them all, keeping the primary's settings but not its model."""
        if not override:
            return (self.instrument, *self.fallbacks)
        primary = self.instrument
        config = MappingProxyType({k: v for k, v in primary.config.items() if k != "model"})
        return (InstrumentChoice(override, override, config, primary.timeout_seconds),)


@records.record(frozen=True, slots=True)
class Plan:
    """The expanded score: sheets in number order (sheet n is ``sheets[n - 1]``)."""

    job_id: str
    sheets: tuple[SheetPlan, ...]
    total_stages: int

    @property
    def total_sheets(self) -> int:
        return len(self.sheets)

    def sheet(self, num: int) -> SheetPlan:
        return self.sheets[num - 1]

    def variables(self, sheet: SheetPlan) -> dict[str, int]:
        """The structural built-in variables of ``sheet``."""
        return _structural(
            sheet.num,
            (sheet.item_start, sheet.item_end),
            _Slot(sheet.stage, sheet.instance, sheet.fan_count),
            self.total_sheets,
            self.total_stages,
        )


@records.record(frozen=True, slots=True)
class _Slot:
    stage: int
    instance: int
    fan_count: int


def build_plan(
    loaded: LoadedScore,
    *,
    default_timeout: Callable[[str], float | None] = lambda _profile: None,
) -> Plan:
    """Expand ``loaded`` into a `Plan`; raises `ScoreError` (code PLAN) on impossible graphs.

    ``default_timeout`` gives an instrument profile's own default attempt timeout.
    """
    score = loaded.score
    issues: list[Issue] = []

    def problem(path: tuple[str | int, ...], message: str, hint: str | None = None) -> None:
        line = loaded.locate(path)
        issues.append(Issue("PLAN", message, ".".join(map(str, path)), line, hint=hint))

    slots, stage_sizes = _layout(score, problem)
    if issues:
        raise ScoreError(loaded.source, issues)
    first_sheet = _first_sheets(stage_sizes)
    dependencies = _dependencies(score, slots, stage_sizes, first_sheet, problem)
    if issues:
        raise ScoreError(loaded.source, issues)

    total_stages = len(stage_sizes)
    conditions = [
        (i, parse_condition(c) if (c := rule.effective_condition()) else None)
        for i, rule in enumerate(score.validations)
    ]
    variables = {
        k: v
        for k, v in score.prompt.variables.items()
        if isinstance(v, int) and not isinstance(v, bool)
    }
    movement_names = {n: m.name for n, m in score.movements.items()}
    instrument_by_map = {
        num: name for name, nums in score.sheet.instrument_map.items() for num in nums
    }
    resolver = InstrumentResolver(score, default_timeout)
    total = len(slots)
    sheets = []
    for num, slot in enumerate(slots, start=1):
        items = _items(score, num)
        context = {**variables, **_structural(num, items, slot, total, total_stages)}
        sheets.append(
            SheetPlan(
                num=num,
                stage=slot.stage,
                instance=slot.instance,
                fan_count=slot.fan_count,
                item_start=items[0],
                item_end=items[1],
                dependencies=dependencies.get(num, ()),
                instrument=resolver.primary(num, slot.stage, instrument_by_map),
                fallbacks=resolver.fallbacks(num, slot.stage),
                validations=tuple(
                    i for i, cond in conditions if cond is None or cond.holds(context)
                ),
                description=score.sheet.descriptions.get(num),
                movement=movement_names.get(slot.stage),
                # Skip rules are keyed by stage: every instance of a stage shares them.
                skip_when=score.sheet.skip_when.get(slot.stage),
                skip_when_command=score.sheet.skip_when_command.get(slot.stage),
                injections=(*score.sheet.prelude, *score.sheet.cadenzas.get(num, ())),
                prompt_extensions=(
                    *score.prompt.prompt_extensions,
                    *score.sheet.prompt_extensions.get(num, ()),
                ),
            )
        )
    return Plan(loaded.job_id, tuple(sheets), total_stages)


def _structural(
    num: int, items: tuple[int, int], slot: _Slot, total_sheets: int, total_stages: int
) -> dict[str, int]:
    """Built-ins that follow from a sheet's place in the plan, in both vocabularies."""
    return {
        "sheet_num": num,
        "total_sheets": total_sheets,
        "start_item": items[0],
        "end_item": items[1],
        "stage": slot.stage,
        "movement": slot.stage,
        "instance": slot.instance,
        "voice": slot.instance,
        "fan_count": slot.fan_count,
        "voice_count": slot.fan_count,
        "total_stages": total_stages,
        "total_movements": total_stages,
    }


def _fan_out(score: Score) -> dict[int, int]:
    """`sheet.fan_out` plus `movements.N.voices`, its shorthand."""
    fan = dict(score.sheet.fan_out)
    for stage, movement in score.movements.items():
        if movement.voices is not None and stage not in fan:
            fan[stage] = movement.voices
    return fan


def _layout(score: Score, problem: Callable[..., None]) -> tuple[list[_Slot], list[int]]:
    """Stage/instance of every sheet, and the number of sheets in each stage."""
    cfg = score.sheet
    if cfg.fan_out_stage_map and not cfg.fan_out:
        return _layout_from_map(score, problem)
    fan = _fan_out(score)
    for stage, movement in score.movements.items():
        if (
            movement.voices is not None
            and cfg.fan_out.get(stage, movement.voices) != movement.voices
        ):
            problem(
                ("movements", stage, "voices"),
                f"movement {stage} has {movement.voices} voices but sheet.fan_out gives "
                f"{cfg.fan_out[stage]} instances",
                "keep one of the two",
            )
    if fan and (cfg.size != 1 or cfg.start_item != 1):
        problem(("movements",), "voices need `sheet.size: 1` and `sheet.start_item: 1`")
    if fan:
        stages = cfg.total_items
    else:
        stages = math.ceil((cfg.total_items - cfg.start_item + 1) / cfg.size)
    for stage in sorted(fan):
        if stage > stages:
            path = ("sheet", "fan_out", stage) if stage in cfg.fan_out else ("movements", stage)
            problem(path, f"stage {stage} does not exist (the score has {stages} stages)")
    # Counted before anything is built, so an absurd score costs nothing to refuse.
    total = stages + sum(count - 1 for stage, count in fan.items() if stage <= stages)
    if total > MAX_SHEETS:
        problem(
            ("sheet",),
            f"the score expands to {total:,} sheets; mzt runs at most {MAX_SHEETS:,} per score",
            "split the work across several scores, or raise `size` so a sheet covers more items",
        )
        return [], []
    sizes = [fan.get(stage, 1) for stage in range(1, stages + 1)]
    slots = [
        _Slot(stage, instance, count)
        for stage, count in enumerate(sizes, start=1)
        for instance in range(1, count + 1)
    ]
    return slots, sizes


def _layout_from_map(score: Score, problem: Callable[..., None]) -> tuple[list[_Slot], list[int]]:
    mapping = score.sheet.fan_out_stage_map
    total = score.sheet.total_items
    slots = []
    for num in range(1, total + 1):
        entry = mapping.get(num)
        slots.append(
            _Slot(num, 1, 1)
            if entry is None
            else _Slot(entry.stage, entry.instance, entry.fan_count)
        )
    stages = max(s.stage for s in slots)
    sizes = [0] * stages
    for slot in slots:
        sizes[slot.stage - 1] += 1
    if any(size == 0 for size in sizes):
        problem(("sheet", "fan_out_stage_map"), "the stage map leaves a stage without sheets")
    return slots, sizes


def _first_sheets(sizes: list[int]) -> list[int]:
    """Number of the first sheet of each stage (index 0 is stage 1)."""
    firsts, num = [], 1
    for size in sizes:
        firsts.append(num)
        num += size
    return firsts


def _items(score: Score, num: int) -> tuple[int, int]:
    cfg = score.sheet
    if cfg.fan_out or cfg.fan_out_stage_map or any(m.voices for m in score.movements.values()):
        return num, num
    start = (num - 1) * cfg.size + cfg.start_item
    return start, min(start + cfg.size - 1, cfg.total_items)


def _dependencies(
    score: Score,
    slots: list[_Slot],
    sizes: list[int],
    firsts: list[int],
    problem: Callable[..., None],
) -> dict[int, tuple[int, ...]]:
    """Sheet → the sheets it waits for, expanded from stage-level edges."""
    stages = len(sizes)
    expanded_layout = bool(score.sheet.fan_out_stage_map and not score.sheet.fan_out)
    unit = "sheet" if expanded_layout or len(slots) == stages else "stage"
    limit = len(slots) if expanded_layout else stages
    edges: dict[int, list[int]] = {}
    if score.sheet.dependencies:
        for target, sources in score.sheet.dependencies.items():
            if target > limit:
                problem(
                    ("sheet", "dependencies", target),
                    f"{unit} {target} does not exist (the score has {limit} {unit}s)",
                )
                continue
            for i, source in enumerate(sources):
                if source > limit:
                    problem(
                        ("sheet", "dependencies", target, i),
                        f"{unit} {source} does not exist (the score has {limit} {unit}s)",
                    )
                elif source == target:
                    problem(("sheet", "dependencies", target), f"{unit} {target} depends on itself")
            edges[target] = sorted({s for s in sources if s <= limit and s != target})
    elif not expanded_layout:
        edges = {stage: [stage - 1] for stage in range(2, stages + 1)}
    cycle = _find_cycle(edges)
    if cycle:
        path = " → ".join(str(n) for n in cycle)
        problem(
            ("sheet", "dependencies", cycle[0]),
            f"the dependencies form a cycle: {unit} {path} (each waits for the next)",
            "remove one of these dependencies",
        )
    if expanded_layout:
        return {t: tuple(s) for t, s in edges.items() if s}
    # Counted before anything is built: all-to-all fan-outs grow with the product of sizes.
    total = sum(
        sizes[target - 1] * sum(_edges_from(sizes[s - 1], sizes[target - 1]) for s in sources)
        for target, sources in edges.items()
    )
    if total > MAX_EDGES:
        problem(
            ("sheet", "dependencies") if score.sheet.dependencies else ("sheet", "fan_out"),
            f"the dependencies expand to {total:,} dependency edges between sheets; mzt plans "
            f"at most {MAX_EDGES:,}",
            "fan in through a single sheet between two large fan-outs, or give both the same "
            "number of instances so they pair up",
        )
        return {}

    result: dict[int, tuple[int, ...]] = {}
    for target, sources in edges.items():
        t_first, t_count = firsts[target - 1], sizes[target - 1]
        for instance in range(t_count):
            deps: list[int] = []
            for source in sources:
                s_first, s_count = firsts[source - 1], sizes[source - 1]
                if s_count == 1:
                    deps.append(s_first)
                elif t_count == 1 or s_count != t_count:
                    deps.extend(range(s_first, s_first + s_count))
                else:
                    deps.append(s_first + instance)
            if deps:
                result[t_first + instance] = tuple(sorted(set(deps)))
    return result


def _edges_from(source_count: int, target_count: int) -> int:
    """How many sheets of a source stage one instance of a target stage waits for."""
    if source_count == 1 or (source_count == target_count and target_count > 1):
        return 1
    return source_count


def _find_cycle(edges: dict[int, list[int]]) -> list[int] | None:
    """A dependency cycle as a closed walk (first == last), or None. Iterative DFS."""
    state: dict[int, int] = {}  # 1 = on the current path, 2 = finished
    for root in sorted(edges):
        if state.get(root):
            continue
        path: list[int] = []
        stack: list[tuple[int, int]] = [(root, 0)]
        while stack:
            node, index = stack.pop()
            if index == 0:
                state[node] = 1
                path.append(node)
            children = edges.get(node, [])
            if index < len(children):
                stack.append((node, index + 1))
                child = children[index]
                if state.get(child) == 1:
                    return [*path[path.index(child) :], child]
                if not state.get(child):
                    stack.append((child, 0))
            else:
                state[node] = 2
                path.pop()
    return None
