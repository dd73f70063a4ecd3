"""The `prompt:` block: the template every sheet renders and its variables."""

from __future__ import annotations

from typing import Any

from mzt.score.models.base import StrictModel, empty_dict, empty_list
from mzt.support.strictmodel import Field, model_validator


class PromptConfig(StrictModel):
    """The Jinja2 template for each sheet's prompt and the data it can use."""

    template: str | None = Field(default=None, description="Inline Jinja2 template.")
    template_file: str | None = Field(
        default=None, description="File holding the template (relative to the score's folder)."
    )
    variables: dict[str, Any] = Field(
        default_factory=empty_dict, description="Values available to the template by name."
    )
    stakes: str | None = Field(default=None, description="Available as `{{ stakes }}`.")
    thinking_method: str | None = Field(
        default=None, description="Available as `{{ thinking_method }}`."
    )
    prompt_extensions: list[str] = Field(
        default_factory=empty_list, description="Directives appended to every sheet's prompt."
    )

    @model_validator(mode="after")
    def _one_template(self) -> PromptConfig:
        if self.template is not None and self.template_file is not None:
            raise ValueError("give `template` or `template_file`, not both")
        return self
