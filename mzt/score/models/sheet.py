"""The `sheet:` block: how work is cut into sheets, their graph and per-sheet settings."""

from __future__ import annotations

from typing import Any, Literal

from mzt.score.models.base import NonEmptyStr, SheetNum, StrictModel, empty_dict, empty_list
from mzt.score.models.instruments import InstrumentConfig
from mzt.support.strictmodel import Field, model_validator


class InjectionItem(StrictModel):
    """A file or directory whose text is injected into a sheet's prompt."""

    file: NonEmptyStr | None = Field(
        default=None, description="File to inject (Jinja-rendered; relative to the workspace)."
    )
    directory: NonEmptyStr | None = Field(
        default=None, description="Directory whose files are all injected (not recursive)."
    )
    as_: Literal["context", "skill", "tool"] = Field(
        default="context", alias="as", description="Prompt section the text goes to."
    )

    @model_validator(mode="after")
    def _exactly_one_source(self) -> InjectionItem:
        if (self.file is None) == (self.directory is None):
            raise ValueError("give exactly one of `file` or `directory`")
        return self


class SkipWhenCommand(StrictModel):
    """A shell command run before a sheet; exit status 0 means: skip the sheet."""

    command: NonEmptyStr = Field(description="Command run with bash; `{workspace}` is quoted.")
    description: str | None = Field(
        default=None, description="Reason shown when the sheet is skipped."
    )
    timeout_seconds: float = Field(
        default=10.0, gt=0, le=60, description="Seconds before the command is stopped (then: run)."
    )


class StageSlot(StrictModel):
    """Where an expanded sheet sits: its stage, its instance and the stage's width."""

    stage: SheetNum = Field(description="The stage the sheet belongs to.")
    instance: SheetNum = Field(description="The sheet's instance within its stage.")
    fan_count: SheetNum = Field(description="How many instances the stage has.")


class SheetConfig(StrictModel):
    """How many sheets there are, what each covers, and how they depend on each other."""

    size: int = Field(ge=1, description="Items per sheet.")
    total_items: int = Field(ge=1, description="Number of items (= stages when size is 1).")
    start_item: int = Field(default=1, ge=1, description="Number of the first item.")
    descriptions: dict[SheetNum, str] = Field(
        default_factory=empty_dict, description="Labels shown for sheets in status output."
    )
    dependencies: dict[SheetNum, list[SheetNum]] = Field(
        default_factory=empty_dict,
        description=(
            "Sheet → sheets it waits for (stage numbers under fan-out). Empty: each stage "
            "waits for the one before it."
        ),
    )
    skip_when: dict[SheetNum, NonEmptyStr] = Field(
        default_factory=empty_dict,
        description="Sheet → expression over `sheets` and `job`; true means skip the sheet.",
    )
    skip_when_command: dict[SheetNum, SkipWhenCommand] = Field(
        default_factory=empty_dict, description="Sheet → command whose success skips the sheet."
    )
    prompt_extensions: dict[SheetNum, list[str]] = Field(
        default_factory=empty_dict, description="Sheet → extra directives appended to its prompt."
    )
    prelude: list[InjectionItem] = Field(
        default_factory=empty_list, description="Injected into every sheet's prompt."
    )
    cadenzas: dict[SheetNum, list[InjectionItem]] = Field(
        default_factory=empty_dict, description="Sheet → extra injections for that sheet."
    )
    fan_out: dict[SheetNum, SheetNum] = Field(
        default_factory=empty_dict,
        description="Stage → number of parallel instances (needs size 1, start_item 1).",
    )
    fan_out_stage_map: dict[SheetNum, StageSlot] = Field(
        default_factory=empty_dict,
        description="Already-expanded stage layout (written by tools that expand fan-out).",
    )
    spec_tags: dict[SheetNum, list[str]] = Field(
        default_factory=empty_dict, description="Sheet → spec fragment tags (not used by mzt)."
    )
    per_sheet_instruments: dict[SheetNum, NonEmptyStr] = Field(
        default_factory=empty_dict, description="Sheet → instrument; beats every other choice."
    )
    per_sheet_instrument_config: dict[SheetNum, InstrumentConfig] = Field(
        default_factory=empty_dict, description="Sheet → instrument configuration merged last."
    )
    instrument_map: dict[NonEmptyStr, list[SheetNum]] = Field(
        default_factory=empty_dict, description="Instrument → the sheets it runs."
    )
    per_sheet_fallbacks: dict[SheetNum, list[NonEmptyStr]] = Field(
        default_factory=empty_dict, description="Sheet → fallback chain (`[]` disables fallbacks)."
    )

    @model_validator(mode="before")
    @classmethod
    def _drop_computed(cls, data: Any) -> Any:
        # `total_sheets` is computed; scores sometimes spell it out, and it is harmless.
        if isinstance(data, dict) and "total_sheets" in data:
            data = {k: v for k, v in data.items() if k != "total_sheets"}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> SheetConfig:
        if self.fan_out and (self.size != 1 or self.start_item != 1):
            raise ValueError("fan_out needs `size: 1` and `start_item: 1`")
        if self.start_item > self.total_items:
            raise ValueError(
                f"start_item ({self.start_item}) is past total_items ({self.total_items}): "
                "there would be no sheets"
            )
        seen: dict[int, str] = {}
        for instrument, sheets in self.instrument_map.items():
            for num in sheets:
                if num in seen and seen[num] != instrument:
                    raise ValueError(
                        f"instrument_map lists sheet {num} under both {seen[num]!r} "
                        f"and {instrument!r}"
                    )
                seen[num] = instrument
        return self
