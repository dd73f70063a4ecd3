"""The `validations:` list: checks that decide whether a sheet's work is done."""

from __future__ import annotations

from typing import Literal

from mzt.score.models.base import StrictModel, Timeout
from mzt.support.strictmodel import Field

ValidationType = Literal[
    "file_exists", "file_modified", "content_contains", "content_regex", "command_succeeds"
]

# Which fields each type needs; checked by `mzt validate` (V008) so all gaps are reported at once.
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "file_exists": ("path",),
    "file_modified": ("path",),
    "content_contains": ("path", "pattern"),
    "content_regex": ("path", "pattern"),
    "command_succeeds": ("command",),
}


class ValidationRule(StrictModel):
    """One check run after each attempt of every sheet it applies to."""

    type: ValidationType = Field(description="What to check.")
    path: str | None = Field(
        default=None, description="File to check; `{workspace}`, `{sheet_num}`, … are filled in."
    )
    pattern: str | None = Field(
        default=None, description="Text (content_contains) or regular expression (content_regex)."
    )
    command: str | None = Field(
        default=None, description="Shell command for command_succeeds; exit status 0 passes."
    )
    working_directory: str | None = Field(
        default=None, description="Directory the command runs in (default: the workspace)."
    )
    description: str | None = Field(default=None, description="Shown in prompts and status.")
    stage: int = Field(
        default=1, ge=1, le=10, description="Order of checking; a failing stage skips later ones."
    )
    condition: str | None = Field(
        default=None, description='Sheets it applies to, e.g. "sheet_num >= 2 and instance == 1".'
    )
    sheet: int | None = Field(default=None, ge=1, description='Shorthand for "sheet_num == N".')
    retry_count: int = Field(
        default=3,
        ge=0,
        le=10,
        description="Extra re-checks of a failing rule (for slow file systems).",
    )
    retry_delay_ms: int = Field(default=200, ge=0, le=5000, description="Pause between re-checks.")
    timeout_seconds: Timeout | None = Field(
        default=None, description="Seconds the command may run (default 3600)."
    )

    def effective_condition(self) -> str | None:
        """`condition`, else the `sheet` shorthand, else None (applies everywhere)."""
        if self.condition is not None:
            return self.condition
        if self.sheet is not None:
            return f"sheet_num == {self.sheet}"
        return None
