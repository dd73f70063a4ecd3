"""A job's head — status, score hash, sheet counts — for `mzt run`'s no-op answer.

Cron runs `mzt run score.yaml` again and again for jobs long completed; `read_head`
gives the run what it needs to say "nothing to do" without the score models or the plan.
It reads through the store's one loader (:mod:`mzt.state.loader`), so it never sees a
state that the loader would refuse: anything the loader rejects returns ``None`` and the
caller takes the full path, which reports the damage (exit 5).

The loader needs msgspec, whose import alone costs more than the rest of that answer.
So the head of a *completed* job that the loader accepted is kept in
``$MZT_HOME/cache/heads/``, with the identity (inode, size, mtime, ctime...) of the
snapshot and journal it was read from. While both files keep that identity they hold
the very bytes the loader accepted, and the kept head is the loader's answer. Only
files last changed ``SETTLED_SECONDS`` before the reading are kept: a change within
the file system's timestamp tick of the reading could otherwise keep the identity.
"""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

from mzt import __version__
from mzt.support import paths, records
from mzt.support.errors import MztError, StateCorruptionError
from mzt.support.fsutil import ensure_private_dir, read_regular_file

SETTLED_SECONDS = 2.0
_CACHE_FORMAT = 1
_CACHE_MAX_BYTES = 64 * 1024


@records.record(frozen=True, slots=True)
class Head:
    """What a job's checkpoint says about the job as a whole."""

    job_id: str
    status: str
    score_hash: str | None  # SHA-256 of the score file's bytes (see CheckpointState)
    config_path: str | None
    total_sheets: int
    completed_sheets: int
    failed_sheets: tuple[int, ...]
    error_message: str | None


def read_head(workspace: Path, job_id: str) -> Head | None:
    """The head of ``job_id``'s checkpoint in ``workspace``; None when it cannot be read."""
    state_path = paths.state_file(workspace, job_id)
    history = paths.history_file(workspace, job_id)
    cache = paths.head_cache(job_id, workspace)
    now = time.time_ns()
    try:
        seen = [_identity(state_path), _identity(history)]
    except OSError:
        return _loaded(job_id, state_path, history)
    head = _cached(cache, job_id, workspace, seen) if seen[0] is not None else None
    if head is not None:
        return head
    head = _loaded(job_id, state_path, history)
    if head is not None and head.status == "completed" and _settled(seen, now):
        try:
            unchanged = seen == [_identity(state_path), _identity(history)]
        except OSError:
            unchanged = False
        if unchanged:
            _keep(cache, job_id, workspace, seen, head)
    return head


def _loaded(job_id: str, state_path: Path, history: Path) -> Head | None:
    from mzt.state.loader import read_state
    from mzt.state.statuses import SheetStatus

    try:
        state = read_state(job_id, state_path, history)
    except (OSError, StateCorruptionError):
        return None
    if state is None:
        return None
    statuses = {num: sheet.status for num, sheet in state.sheets.items()}
    return Head(
        job_id=job_id,
        status=str(state.status),
        score_hash=state.config_file_hash,
        config_path=state.config_path,
        total_sheets=state.total_sheets,
        completed_sheets=sum(1 for s in statuses.values() if s == SheetStatus.COMPLETED),
        failed_sheets=tuple(sorted(n for n, s in statuses.items() if s == SheetStatus.FAILED)),
        error_message=state.error_message,
    )


def _identity(path: Path) -> list[int] | None:
    """What changes whenever the file at ``path`` is replaced or written; None if absent."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(st.st_mode):
        raise OSError(f"{path} is not a regular file")  # the loader says what is wrong
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def _settled(seen: list[list[int] | None], now: int) -> bool:
    limit = now - int(SETTLED_SECONDS * 1e9)
    return all(found is None or found[4] <= limit for found in seen)


def _cache_key(job_id: str, workspace: Path, seen: list[list[int] | None]) -> dict[str, object]:
    return {
        "format": _CACHE_FORMAT,
        "mzt": __version__,
        "job_id": job_id,
        "workspace": str(workspace),
        "state": seen[0],
        "journal": seen[1],
    }


def _cached(cache: Path, job_id: str, workspace: Path, seen: list[list[int] | None]) -> Head | None:
    """The kept head, when it was read from files with exactly these identities."""
    try:
        kept = json.loads(read_regular_file(cache, _CACHE_MAX_BYTES))
        if {
            k: kept.get(k) for k in ("format", "mzt", "job_id", "workspace", "state", "journal")
        } != _cache_key(job_id, workspace, seen):
            return None
        fields = kept["head"]
        fields["failed_sheets"] = tuple(fields["failed_sheets"])
        return Head(**fields)
    except (OSError, ValueError, TypeError, KeyError, AttributeError, RecursionError):
        return None  # none kept, or not usable: the loader answers


def _keep(
    cache: Path, job_id: str, workspace: Path, seen: list[list[int] | None], head: Head
) -> None:
    from mzt.state.atomic import atomic_write

    fields = {name: getattr(head, name) for name in Head.__slots__}
    document = {**_cache_key(job_id, workspace, seen), "head": fields}
    try:
        ensure_private_dir(cache.parent)
        atomic_write(cache, json.dumps(document).encode() + b"\n")
    except (OSError, MztError):
        pass  # a head not kept only means the loader reads the job again next time
