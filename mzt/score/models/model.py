"""The whole score: the top-level keys of a score file."""

from __future__ import annotations

from typing import Any, Literal

from mzt.score.models.base import NonEmptyStr, SheetNum, StrictModel, empty_dict, empty_list
from mzt.score.models.hooks import ConcertConfig, NotificationConfig, PostSuccessHook
from mzt.score.models.instruments import (
    BackendConfig,
    InstrumentAlias,
    InstrumentConfig,
    MovementDef,
)
from mzt.score.models.peripheral import UNUSED_KEYS, AgentCard, SpecConfig, TechniqueDef
from mzt.score.models.policies import (
    CircuitBreakerConfig,
    CostLimitConfig,
    CrossSheetConfig,
    ParallelConfig,
    RateLimitConfig,
    RetryConfig,
    StaleDetectionConfig,
)
from mzt.score.models.prompt import PromptConfig
from mzt.score.models.sheet import SheetConfig
from mzt.score.models.slurm import ScoreSlurm
from mzt.score.models.validation import ValidationRule
from mzt.score.models.workspace import IsolationConfig, LogConfig, WorkspaceLifecycleConfig
from mzt.support.strictmodel import Field

DEFAULT_INSTRUMENT = "claude_cli"


class Score(StrictModel):
    """A score: sheets of work for instruments, and how to check and retry them."""

    name: NonEmptyStr = Field(description="Name of the job; its id is derived from it.")
    description: str | None = Field(default=None, description="Shown in status output.")
    workspace: NonEmptyStr = Field(
        default="./workspace",
        description="Folder the job works in (relative: to the score's folder).",
    )
    instrument: NonEmptyStr | None = Field(
        default=None, description="Instrument for every sheet (a profile name or an alias)."
    )
    instrument_config: InstrumentConfig = Field(
        default_factory=InstrumentConfig, description="Settings for the instrument."
    )
    instrument_fallbacks: list[NonEmptyStr] = Field(
        default_factory=empty_list, description="Instruments tried in turn when one gives up."
    )
    instruments: dict[NonEmptyStr, InstrumentAlias] = Field(
        default_factory=empty_dict, description="Score-local instrument aliases."
    )
    movements: dict[SheetNum, MovementDef] = Field(
        default_factory=empty_dict, description="Stage → settings for that stage's sheets."
    )
    sheet: SheetConfig = Field(description="How the work is cut into sheets.")
    prompt: PromptConfig = Field(description="The prompt template and its variables.")
    validations: list[ValidationRule] = Field(
        default_factory=empty_list, description="Checks run after each attempt of every sheet."
    )
    retry: RetryConfig = Field(default_factory=RetryConfig, description="Retry policy.")
    rate_limit: RateLimitConfig = Field(
        default_factory=RateLimitConfig, description="Rate-limit detection and waiting."
    )
    stale_detection: StaleDetectionConfig = Field(
        default_factory=StaleDetectionConfig, description="Stop silent attempts."
    )
    cost_limits: CostLimitConfig = Field(
        default_factory=CostLimitConfig, description="Spending limits."
    )
    parallel: ParallelConfig = Field(
        default_factory=ParallelConfig, description="Parallel execution of ready sheets."
    )
    cross_sheet: CrossSheetConfig | None = Field(
        default=None, description="Pass earlier sheets' results to later prompts (absent: off)."
    )
    on_success: list[PostSuccessHook] = Field(
        default_factory=empty_list, description="Actions run when the job completes."
    )
    concert: ConcertConfig = Field(
        default_factory=ConcertConfig, description="Limits for chained jobs."
    )
    isolation: IsolationConfig = Field(
        default_factory=IsolationConfig, description="Git worktree isolation."
    )
    workspace_lifecycle: WorkspaceLifecycleConfig = Field(
        default_factory=WorkspaceLifecycleConfig, description="Archiving on `--fresh`."
    )
    notifications: list[NotificationConfig] = Field(
        default_factory=empty_list, description="Messages sent on job events."
    )
    backend: BackendConfig = Field(
        default_factory=BackendConfig, description="Older way to choose the instrument."
    )
    logging: LogConfig = Field(default_factory=LogConfig, description="Logging settings.")
    slurm: ScoreSlurm = Field(
        default_factory=ScoreSlurm,
        description="mzt only: sbatch options of this score's attempts under --executor slurm.",
    )
    state_backend: Literal["json", "sqlite"] = Field(
        default="json", description="State store; mzt always keeps JSON checkpoints."
    )
    state_path: str | None = Field(
        default=None, description="Folder for the job's state (relative to the workspace)."
    )
    pause_between_sheets_seconds: float = Field(
        default=2, ge=0, le=86400, description="Pause after each completed sheet."
    )
    circuit_breaker: CircuitBreakerConfig = Field(
        default_factory=CircuitBreakerConfig, description="Back off from failing instruments."
    )
    # Accepted and type-checked, not acted on (see `mzt.score.models.peripheral`).
    spec: SpecConfig | None = Field(default=None, description="Spec fragments (not used by mzt).")
    techniques: dict[str, TechniqueDef] = Field(
        default_factory=empty_dict, description="Technique manifests (not used by mzt)."
    )
    agent_card: AgentCard | None = Field(default=None, description="Agent card (not used by mzt).")
    learning: dict[str, Any] | None = Field(default=None, description="Not used by mzt.")
    grounding: dict[str, Any] | None = Field(default=None, description="Not used by mzt.")
    checkpoints: dict[str, Any] | None = Field(default=None, description="Not used by mzt.")
    ai_review: dict[str, Any] | None = Field(default=None, description="Not used by mzt.")
    feedback: dict[str, Any] | None = Field(default=None, description="Not used by mzt.")
    conductor: dict[str, Any] | None = Field(default=None, description="Not used by mzt.")
    bridge: dict[str, Any] | None = Field(default=None, description="Not used by mzt.")

    def unused_keys(self) -> list[str]:
        """Top-level keys present in the score that mzt accepts but does not act on."""
        return [k for k in UNUSED_KEYS if k in self.model_fields_set]
