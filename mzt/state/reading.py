"""Read-only access to a job's files for the commands that show it (`status`, `list`, `watch`).

Everything comes from the store's own loader (:mod:`mzt.state.loader`): no lock is taken,
nothing is repaired or written, and a state the loader refuses raises
:class:`~mzt.support.errors.StateCorruptionError` here too, so a view can never show a job
that `mzt resume` would call corrupt. :class:`Checkpoint` adds what the views want on top:
the job's fields as JSON values (``head``) and where the journal was read up to, so `watch`
can apply the lines that follow one by one.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec

from mzt.state import registry
from mzt.state.checkpoint import CheckpointState
from mzt.state.journal import read_lines_to
from mzt.state.loader import apply_record, read_state_to, settle_head
from mzt.state.models import SheetState
from mzt.state.statuses import SheetStatus
from mzt.support import paths
from mzt.support.errors import JobNotFoundError

ACTIVE_SHEET = frozenset({SheetStatus.DISPATCHED, SheetStatus.IN_PROGRESS})


# Structs, not dataclasses: making a dataclass costs about a millisecond at import, and
# every `mzt status` imports this module.
class JobRef(msgspec.Struct, frozen=True):
    """A job in a workspace, and the score it was registered with (if known)."""

    job_id: str
    workspace: Path
    score_path: Path | None = None
    registered_at: str = ""

    @property
    def state_path(self) -> Path:
        return paths.state_file(self.workspace, self.job_id)

    @property
    def history_path(self) -> Path:
        return paths.history_file(self.workspace, self.job_id)

    @property
    def lock_path(self) -> Path:
        return paths.lock_file(self.workspace, self.job_id)


def registered_jobs(home: Path | None = None) -> list[JobRef]:
    """Every readable registry record whose workspace still exists, newest first."""
    found = {
        (r.job_id, r.workspace): JobRef(r.job_id, r.workspace, r.score_path, r.registered_at)
        for r in registry.list_records(home=home)
    }
    return sorted(found.values(), key=lambda r: r.registered_at, reverse=True)


def file_size(path: Path) -> int:
    """The file's size in bytes (0 when it cannot be read)."""
    try:
        return path.stat().st_size
    except OSError:
        return 0


def head_of(state: CheckpointState) -> dict[str, Any]:
    """The job's own fields (every one, defaults included) as JSON values."""
    return {
        name: msgspec.to_builtins(getattr(state, name))
        for name in state.__struct_fields__
        if name not in ("sheets", "config_snapshot")
    }


class Checkpoint(msgspec.Struct):
    """A job's state as the loader reads it now, with its job fields as JSON values."""

    ref: JobRef
    state: CheckpointState
    journal_end: int = 0  # where the journal was read up to
    head: dict[str, Any] = msgspec.field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.head:
            self.head = head_of(self.state)

    @property
    def sheets(self) -> dict[int, SheetState]:
        return self.state.sheets

    @property
    def status(self) -> str:
        return str(self.head.get("status"))

    @property
    def total(self) -> int:
        return self.state.total_sheets

    def count(self, *statuses: str) -> int:
        return sum(1 for s in self.state.sheets.values() if s.status in statuses)

    @property
    def completed(self) -> int:
        return self.count(SheetStatus.COMPLETED)

    @property
    def running_sheets(self) -> list[int]:
        return sorted(n for n, s in self.state.sheets.items() if s.status in ACTIVE_SHEET)

    def advance(self, changed: Callable[[str], None] | None = None) -> list[str] | None:
        """Apply the journal's transitions written since the last read, one at a time.

        ``changed`` hears each event right after its transition is applied. Returns the
        events applied, in order; ``None`` when the journal no longer continues where it
        was read (replaced by a fresh run, or damaged): read the files again.
        """
        lines, start, end = read_lines_to(self.ref.history_path, self.journal_end)
        if start != self.journal_end:
            return None
        events: list[str] = []
        pending: dict[str, Any] = {}
        for line in lines:
            if line.record is None:
                return None
            try:
                event = apply_record(self.state, line.record, pending)
                if pending:
                    settle_head(self.state, pending)
            except (msgspec.ValidationError, ValueError, TypeError, AttributeError):
                return None
            if event is not None:
                self.head = head_of(self.state)
                events.append(event)
                if changed is not None:
                    changed(event)
        self.journal_end = end
        return events


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cycle collector while a view reads and summarises a job.

    A loaded job is tens of thousands of small objects, none of them in a cycle; every
    collection the allocations would trigger walks all of them again, which costs more
    than the reading itself on a big job.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def read_checkpoint(ref: JobRef) -> Checkpoint:
    """Read ``ref``'s snapshot and journal without a lock and without writing anything.

    Raises :class:`~mzt.support.errors.JobNotFoundError` when the job has no checkpoint and
    :class:`~mzt.support.errors.StateCorruptionError` when it cannot be used.
    """
    found = read_state_to(ref.job_id, ref.state_path, ref.history_path)
    if found is None:
        raise JobNotFoundError(ref.job_id, [str(ref.state_path)])
    state, end = found
    return Checkpoint(ref, state, end)


__all__ = [
    "ACTIVE_SHEET",
    "Checkpoint",
    "JobRef",
    "collector_paused",
    "file_size",
    "read_checkpoint",
    "registered_jobs",
]
