"""Workspace handling: git worktree isolation, archiving on `--fresh`, logging."""

from __future__ import annotations

from typing import Literal

from mzt.score.models.base import StrictModel
from mzt.support.strictmodel import Field, model_validator

DEFAULT_PRESERVE = (".iteration", ".marianne-*", ".coverage", "archive/**", ".worktrees/**")


class IsolationConfig(StrictModel):
    """Run the job in its own git worktree."""

    enabled: bool = Field(default=False, description="Create a worktree for the job.")
    mode: Literal["none", "worktree"] = Field(default="worktree", description="Isolation kind.")
    worktree_base: str | None = Field(default=None, description="Where worktrees go (default: ws).")
    branch_prefix: str = Field(
        default="marianne",
        pattern=r"^[a-zA-Z][a-zA-Z0-9_-]*$",
        description="Prefix of the worktree's branch name.",
    )
    source_branch: str | None = Field(
        default=None, description="Branch to start from (default HEAD)."
    )
    cleanup_on_success: bool = Field(default=True, description="Remove the worktree on success.")
    cleanup_on_failure: bool = Field(default=False, description="Remove the worktree on failure.")
    lock_during_execution: bool = Field(
        default=True, description="Lock the worktree while running."
    )
    fallback_on_error: bool = Field(default=True, description="Run without isolation if it fails.")
    per_sheet: bool = Field(
        default=False,
        description="mzt only: give every sheet its own worktree (<base>/<job>/sheet-<N>).",
    )


class WorkspaceLifecycleConfig(StrictModel):
    """What `--fresh` does with the previous run's files."""

    archive_on_fresh: bool = Field(
        default=False, description="Move old files into an archive folder."
    )
    archive_dir: str = Field(
        default="archive", min_length=1, description="Archive folder in the ws."
    )
    archive_naming: Literal["iteration", "timestamp"] = Field(
        default="iteration", description="How archive folders are named."
    )
    max_archives: int = Field(default=0, ge=0, description="Archives kept (0: all).")
    preserve_patterns: list[str] = Field(
        default_factory=lambda: list(DEFAULT_PRESERVE),
        description="Globs (relative to the workspace) that are never archived.",
    )


class LogConfig(StrictModel):
    """Logging settings."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        default="INFO", description="Lowest level logged."
    )
    format: Literal["json", "console", "both"] = Field(default="console", description="Log format.")
    file_path: str | None = Field(default=None, description="Log file (needed by format `both`).")
    max_file_size_mb: int = Field(default=50, ge=1, le=1000, description="Size before rotation.")
    backup_count: int = Field(default=5, ge=0, description="Rotated files kept.")
    include_timestamps: bool = Field(default=True, description="Timestamp each line.")
    include_context: bool = Field(default=True, description="Add job and sheet context.")

    @model_validator(mode="after")
    def _file_for_both(self) -> LogConfig:
        if self.format == "both" and not self.file_path:
            raise ValueError("log format `both` needs `file_path`")
        return self
