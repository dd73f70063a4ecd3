"""What happens after a job: `on_success` hooks, chained jobs (`concert`), notifications."""

from __future__ import annotations

from typing import Any, Literal

from mzt.score.models.base import StrictModel, Timeout, empty_dict
from mzt.support.strictmodel import Field, model_validator

NotificationEvent = Literal[
    "job_start",
    "sheet_start",
    "sheet_complete",
    "sheet_failed",
    "job_complete",
    "job_failed",
    "job_paused",
]


class PostSuccessHook(StrictModel):
    """An action run when the job completes after doing new work."""

    type: Literal["run_job", "run_command", "run_script"] = Field(description="What to run.")
    job_path: str | None = Field(default=None, description="Score to run next (run_job).")
    job_workspace: str | None = Field(default=None, description="Workspace for the chained job.")
    inherit_learning: bool = Field(default=True, description="Not used by mzt.")
    command: str | None = Field(
        default=None, description="Command to run (run_command, run_script)."
    )
    working_directory: str | None = Field(
        default=None, description="Where it runs (default: workspace)."
    )
    description: str | None = Field(default=None, description="Shown in output.")
    on_failure: Literal["continue", "abort"] = Field(
        default="continue", description="`abort` skips the remaining hooks after a failure."
    )
    timeout_seconds: Timeout = Field(default=300.0, description="Seconds the hook may run.")
    detached: bool = Field(default=False, description="run_job: start it and do not wait.")
    fresh: bool = Field(default=False, description="run_job: start the chained job fresh.")
    pause_before_chain: bool = Field(default=False, description="Hold the chain until resumed.")

    @model_validator(mode="after")
    def _target_given(self) -> PostSuccessHook:
        if self.type == "run_job" and not self.job_path:
            raise ValueError("a run_job hook needs `job_path`")
        if self.type != "run_job" and not self.command:
            raise ValueError(f"a {self.type} hook needs `command`")
        return self


class ConcertConfig(StrictModel):
    """Limits for chains of jobs started by `run_job` hooks."""

    enabled: bool = Field(default=False, description="Allow chained jobs.")
    max_chain_depth: int = Field(default=5, ge=1, le=100, description="Longest chain allowed.")
    cooldown_between_jobs_seconds: float = Field(
        default=5.0, ge=0, description="Pause before a chained job starts."
    )
    inherit_workspace: bool = Field(default=True, description="Chained jobs share the workspace.")
    concert_log_path: str | None = Field(
        default=None, description="Log of the chain (default in ws)."
    )
    abort_concert_on_hook_failure: bool = Field(
        default=False, description="Stop the chain on failure."
    )


def _default_events() -> list[NotificationEvent]:
    return ["job_complete", "job_failed"]


class NotificationConfig(StrictModel):
    """A message sent when job events happen; failures never fail the job."""

    type: Literal["desktop", "slack", "webhook", "email"] = Field(description="Channel.")
    on_events: list[NotificationEvent] = Field(
        default_factory=_default_events,
        description="Events that send a message.",
    )
    config: dict[str, Any] = Field(default_factory=empty_dict, description="Channel settings.")

    @model_validator(mode="after")
    def _channel_settings(self) -> NotificationConfig:
        needs = {"webhook": ("url", "url_env"), "slack": ("webhook_url", "webhook_url_env")}
        keys = needs.get(self.type)
        if keys and not any(self.config.get(k) for k in keys):
            raise ValueError(f"a {self.type} notification needs `config.{keys[0]}` or `{keys[1]}`")
        return self
