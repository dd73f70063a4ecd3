"""Execution policies: retries, rate limits, stale detection, cost, parallelism."""

from __future__ import annotations

import re

from mzt.score.models.base import StrictModel, empty_list
from mzt.support.strictmodel import Field, field_validator, model_validator

DEFAULT_RATE_LIMIT_PATTERNS = (
    r"rate.?limit",
    r"usage.?limit",
    r"quota",
    r"too many requests",
    r"429",
    r"capacity",
    r"try again later",
)


class RetryConfig(StrictModel):
    """How often and how patiently a failing sheet is tried again."""

    max_retries: int = Field(
        default=3,
        ge=0,
        description=(
            "Failed full executions allowed per sheet and instrument; the N-th failure is "
            "final (0 and 1 both mean one execution)."
        ),
    )
    base_delay_seconds: float = Field(default=10.0, gt=0, description="First backoff delay.")
    max_delay_seconds: float = Field(default=3600.0, gt=0, description="Longest backoff delay.")
    exponential_base: float = Field(default=2.0, gt=1, description="Backoff multiplier per retry.")
    jitter: bool = Field(default=True, description="Multiply each delay by a random 0.5–1.5.")
    max_completion_attempts: int = Field(
        default=5, ge=0, description="Completion-mode attempts before a full retry."
    )
    completion_delay_seconds: float = Field(
        default=5.0, ge=0, description="Pause before a completion-mode attempt."
    )
    completion_threshold_percent: float = Field(
        default=50.0,
        gt=0,
        le=100,
        description="Validation pass rate above which the sheet is finished, not redone.",
    )

    @model_validator(mode="after")
    def _ordered_delays(self) -> RetryConfig:
        if self.base_delay_seconds > self.max_delay_seconds:
            raise ValueError(
                f"base_delay_seconds ({self.base_delay_seconds}) is larger than "
                f"max_delay_seconds ({self.max_delay_seconds})"
            )
        return self


class RateLimitConfig(StrictModel):
    """How rate and usage limits of instruments are recognised and waited out."""

    detection_patterns: list[str] = Field(
        default_factory=lambda: list(DEFAULT_RATE_LIMIT_PATTERNS),
        description="Regular expressions that mark an attempt's output as rate-limited.",
    )
    wait_minutes: float = Field(
        default=60, ge=1, description="Wait when the output gives no reset time."
    )
    max_waits: int = Field(default=24, ge=1, description="Rate-limit waits before the job pauses.")
    max_quota_waits: int = Field(default=48, ge=1, description="Quota waits before the job pauses.")
    min_wait_seconds: float = Field(
        default=300, ge=0, description="Shortest wait, whatever the output says."
    )

    @field_validator("detection_patterns")
    @classmethod
    def _compile(cls, patterns: list[str]) -> list[str]:
        for i, pattern in enumerate(patterns):
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"pattern {i} ({pattern!r}) is not a valid regex: {exc}") from None
        return patterns


class StaleDetectionConfig(StrictModel):
    """Stop attempts that print nothing for too long."""

    enabled: bool = Field(default=False, description="Watch attempts for silence.")
    idle_timeout_seconds: float = Field(
        default=300, gt=0, description="Seconds without output before the attempt is stopped."
    )
    check_interval_seconds: float = Field(default=30, gt=0, description="How often to look.")

    @model_validator(mode="after")
    def _interval_below_timeout(self) -> StaleDetectionConfig:
        if self.check_interval_seconds >= self.idle_timeout_seconds:
            raise ValueError("check_interval_seconds must be smaller than idle_timeout_seconds")
        return self


class CostLimitConfig(StrictModel):
    """Spending limits; reaching one pauses the job."""

    enabled: bool | None = Field(
        default=None, description="On by default as soon as a limit is set."
    )
    max_cost_per_sheet: float | None = Field(default=None, gt=0, description="USD limit per sheet.")
    max_cost_per_job: float | None = Field(default=None, gt=0, description="USD limit per job.")
    cost_per_1k_input_tokens: float = Field(
        default=0.003,
        ge=0,
        description="USD per 1,000 input tokens when the instrument gives none.",
    )
    cost_per_1k_output_tokens: float = Field(
        default=0.015,
        ge=0,
        description="USD per 1,000 output tokens when the instrument gives none.",
    )
    warn_at_percent: float = Field(
        default=80, gt=0, le=100, description="Warn when the job has spent this share of its limit."
    )

    @model_validator(mode="after")
    def _limit_when_enabled(self) -> CostLimitConfig:
        if self.enabled and self.max_cost_per_sheet is None and self.max_cost_per_job is None:
            raise ValueError(
                "cost limits are enabled but neither max_cost_per_sheet nor max_cost_per_job is set"
            )
        return self

    @property
    def active(self) -> bool:
        has_limit = self.max_cost_per_sheet is not None or self.max_cost_per_job is not None
        return has_limit if self.enabled is None else self.enabled


class ParallelConfig(StrictModel):
    """Run sheets whose dependencies are met at the same time."""

    enabled: bool = Field(default=False, description="Run ready sheets in parallel.")
    max_concurrent: int = Field(default=3, ge=1, le=20, description="Sheets running at once.")
    fail_fast: bool = Field(default=True, description="Start nothing new after a sheet fails.")
    stagger_delay_ms: int = Field(
        default=0, ge=0, le=5000, description="Pause between two launches."
    )
    budget_partition: bool = Field(default=True, description="Must stay true.")

    @field_validator("budget_partition")
    @classmethod
    def _partitioned(cls, value: bool) -> bool:
        if not value:
            raise ValueError("budget_partition: false is not supported")
        return value


class CircuitBreakerConfig(StrictModel):
    """Stop using an instrument after repeated failures, for a while."""

    enabled: bool = Field(default=True, description="Open the breaker after repeated failures.")
    failure_threshold: int = Field(
        default=5, ge=1, le=100, description="Failures in a row that open it."
    )
    recovery_timeout_seconds: float = Field(
        default=300, gt=0, le=3600, description="Seconds before a trial attempt is allowed."
    )
    cross_workspace_coordination: bool = Field(
        default=True, description="Share the breaker's state with other runs."
    )
    honor_other_jobs_rate_limits: bool = Field(
        default=True, description="Respect rate limits that other jobs recorded."
    )


class CrossSheetConfig(StrictModel):
    """Make earlier sheets' results available to later prompts."""

    auto_capture_stdout: bool = Field(
        default=False, description="Fill `previous_outputs` with earlier sheets' results."
    )
    max_output_chars: int = Field(
        default=2000, ge=1, description="Characters kept of each output or file."
    )
    capture_files: list[str] = Field(
        default_factory=empty_list,
        description="Glob patterns of files read into `previous_files` (relative: workspace).",
    )
    lookback_sheets: int = Field(
        default=3, ge=0, description="How many earlier sheets to look back over (0: all)."
    )
