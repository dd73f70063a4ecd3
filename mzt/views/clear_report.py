"""What `mzt clear` reports: the jobs it removed, pruned, left alone or could not remove."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mzt.execute.base import Leftover
from mzt.support import records
from mzt.support.errors import ForeignHostError, MztError


@records.record(frozen=True)
class ClearedJob:
    """A job that was (or, in a preview, would be) removed, and what that means on disk."""

    job_id: str
    workspace: Path
    status: str
    updated_at: datetime | None
    files: tuple[Path, ...]
    bytes: int
    taken_over_from: str | None = None  # the host that marked it running (--take-over)

    def to_json(self) -> dict[str, Any]:
        """The job as JSON data."""
        return {
            "job_id": self.job_id,
            "workspace": str(self.workspace),
            "status": self.status,
            "updated_at": _iso(self.updated_at),
            "files": [str(p) for p in self.files],
            "bytes": self.bytes,
            "taken_over_from": self.taken_over_from,
        }


@records.record(frozen=True)
class SkippedJob:
    """A job the selection named but clear left alone, and why."""

    job_id: str
    workspace: Path
    status: str
    reason: str
    # Another host marks it running: what `clear --job` of it answers (exit 75).
    refusal: ForeignHostError | None = None
    # Its checkpoint is unusable: what `clear --job` of it answers (exit 5).
    error: MztError | None = records.field(default=None, compare=False)

    def to_json(self) -> dict[str, Any]:
        """The job as JSON data."""
        return {
            "job_id": self.job_id,
            "workspace": str(self.workspace),
            "status": self.status,
            "reason": self.reason,
        }


@records.record(frozen=True)
class PrunedRecord:
    """A registry record that points at a workspace or checkpoint that is gone."""

    job_id: str
    workspace: Path
    record: Path
    reason: str

    def to_json(self) -> dict[str, Any]:
        """The record as JSON data."""
        return {
            "job_id": self.job_id,
            "workspace": str(self.workspace),
            "record": str(self.record),
            "reason": self.reason,
        }


@records.record
class ClearReport:
    """What `clear_jobs` removed (``dry_run``: would remove), left alone, or failed to remove."""

    dry_run: bool
    removed: list[ClearedJob] = records.field(default_factory=list)
    pruned: list[PrunedRecord] = records.field(default_factory=list)
    skipped: list[SkippedJob] = records.field(default_factory=list)
    failed: list[SkippedJob] = records.field(default_factory=list)
    stopped: list[tuple[str, Leftover]] = records.field(default_factory=list)  # of removed jobs

    @property
    def empty(self) -> bool:
        """Nothing to remove and nothing to prune."""
        return not self.removed and not self.pruned

    def to_json(self) -> dict[str, Any]:
        """The report as the body of a ``mzt.clear/1`` document."""
        return {
            "dry_run": self.dry_run,
            "removed": [j.to_json() for j in self.removed],
            "pruned": [r.to_json() for r in self.pruned],
            "skipped": [j.to_json() for j in self.skipped],
            "failed": [j.to_json() for j in self.failed],
            "stopped_attempts": [{"job_id": job, **item.to_json()} for job, item in self.stopped],
        }


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
