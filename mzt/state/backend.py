"""The interface every state store offers the runner and the read commands."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from pathlib import Path

from mzt.state.checkpoint import CheckpointState
from mzt.state.models import SheetStatus
from mzt.support.log import get_logger

logger = get_logger("mzt.state")

_SHEET_NUMBER = re.compile(r"(\d+)")


class StateBackend(ABC):
    """Persistence of job state for resumable execution.

    Only the process holding a job's run lock writes that job's state; any process may
    read it at any time without a lock.
    """

    @abstractmethod
    def load(self, job_id: str) -> CheckpointState | None:
        """The job's state, or ``None`` when it has none (damaged state raises)."""

    @abstractmethod
    def save(self, state: CheckpointState) -> None:
        """Persist the whole state."""

    @abstractmethod
    def delete(self, job_id: str) -> bool:
        """Remove the job's state; ``False`` if there was none."""

    @abstractmethod
    def list_jobs(self) -> list[CheckpointState]:
        """Every readable job state, most recently updated first."""

    @abstractmethod
    def get_next_sheet(self, job_id: str) -> int | None:
        """The next sheet to run (1 for an unknown job, ``None`` when all are done)."""

    @abstractmethod
    def mark_sheet_status(
        self,
        job_id: str,
        sheet_num: int,
        status: SheetStatus,
        error_message: str | None = None,
    ) -> None:
        """Load, change one sheet's status, persist."""

    @property
    def supports_execution_history(self) -> bool:
        """Whether :meth:`record_execution` really stores anything.

        Stores that override :meth:`record_execution` return ``True`` here, so callers can
        tell "recorded" from "silently dropped".
        """
        return False

    def record_execution(
        self,
        job_id: str,
        sheet_num: int,
        attempt_num: int,
        prompt: str | None = None,
        output: str | None = None,
        exit_code: int | None = None,
        duration_seconds: float | None = None,
    ) -> int | None:
        """Record one execution attempt; returns its record id, or ``None`` if unsupported.

        The default stores nothing and logs a warning, so a lost record is traceable.
        """
        logger.warning(
            "%s does not keep execution history; attempt %d of sheet %d of job %s not recorded",
            type(self).__name__,
            attempt_num,
            sheet_num,
            job_id,
        )
        return None

    def close(self) -> None:
        """Release held resources (open descriptors); the default holds none."""
        return None

    def infer_state_from_artifacts(
        self, job_id: str, workspace: Path, artifact_pattern: str
    ) -> int | None:
        """Guess the last completed sheet from output files when no state exists.

        ``artifact_pattern`` is a glob relative to ``workspace`` whose matches carry the
        sheet number (``sheet*-report.md``); the highest number found is returned.
        """
        highest: int | None = None
        for match in workspace.glob(artifact_pattern):
            found = _SHEET_NUMBER.search(match.name)
            if found is not None and match.is_file():
                number = int(found.group(1))
                highest = number if highest is None else max(highest, number)
        if highest is not None:
            logger.info("job %s: artifacts suggest sheet %d was completed", job_id, highest)
        return highest
