"""Blocks mzt accepts and type-checks but does not act on.

Scores written for richer setups carry them; mzt keeps them valid so that such scores
run unchanged, and `mzt validate` says that each one is not used.
"""

from __future__ import annotations

from typing import Any, Literal

from mzt.score.models.base import StrictModel, empty_dict, empty_list
from mzt.support.strictmodel import Field

UNUSED_KEYS = (
    "spec",
    "techniques",
    "agent_card",
    "learning",
    "grounding",
    "checkpoints",
    "ai_review",
    "feedback",
    "conductor",
    "bridge",
)


class SpecConfig(StrictModel):
    """A corpus of specification fragments for prompts."""

    spec_dir: str = Field(default="", description="Folder of fragments.")
    include_claude_md: bool = Field(default=False, description="Also include CLAUDE.md.")


class TechniqueDef(StrictModel):
    """A technique manifest injected as a skill."""

    kind: Literal["skill", "mcp", "protocol"] = Field(description="Technique kind.")
    phases: list[str] = Field(default_factory=empty_list, description="Phases it applies to.")
    config: dict[str, Any] = Field(default_factory=empty_dict, description="Technique settings.")


class AgentSkill(StrictModel):
    """One advertised skill of an agent card."""

    id: str = Field(description="Skill id.")
    description: str = Field(default="", description="What it does.")


class AgentCard(StrictModel):
    """An agent discovery card."""

    name: str = Field(description="Agent name.")
    description: str = Field(default="", description="What the agent does.")
    skills: list[AgentSkill] = Field(default_factory=empty_list, description="Advertised skills.")
