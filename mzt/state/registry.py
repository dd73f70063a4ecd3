"""The job registry in ``MZT_HOME/registry/`` and the rules for finding a job by its id.

One small JSON record per (job, workspace): ``{job_id, workspace, score_path,
registered_at}``, written atomically when a run starts. It lets ``mzt list`` and any
command given a bare job id find the job's workspace from anywhere. Records whose
workspace has disappeared are skipped when reading and removed by :func:`prune`.
"""

from __future__ import annotations

from pathlib import Path

from mzt.support import paths, records
from mzt.support.errors import AmbiguousJobError, JobNotFoundError
from mzt.support.fsutil import ensure_private_dir, entry_exists, read_regular_file
from mzt.support.log import get_logger

logger = get_logger("mzt.state.registry")

_MAX_RECORD_BYTES = 64 * 1024
_HINT_JOBS = 10  # known job ids named in a "not found" hint


@records.record(frozen=True, slots=True)
class RegistryRecord:
    """One registered job in one workspace (`mzt run` of a completed job reads these)."""

    job_id: str
    workspace: Path
    score_path: Path | None
    registered_at: str
    record_path: Path

    @property
    def workspace_exists(self) -> bool:
        """Whether the workspace folder is still there."""
        return self.workspace.is_dir()

    @property
    def state_exists(self) -> bool:
        """Whether the workspace still holds this job's checkpoint (usable or not)."""
        return entry_exists(paths.state_file(self.workspace, self.job_id))

    def to_json(self) -> dict[str, str | None]:
        """The record as stored on disk."""
        return {
            "job_id": self.job_id,
            "workspace": str(self.workspace),
            "score_path": str(self.score_path) if self.score_path else None,
            "registered_at": self.registered_at,
        }


def register(
    job_id: str, workspace: Path, score_path: Path | None = None, *, home: Path | None = None
) -> RegistryRecord:
    """Record that ``job_id`` runs in ``workspace`` (overwriting an earlier record)."""
    from datetime import UTC, datetime

    workspace = workspace.resolve()
    target = paths.registry_record(job_id, workspace, home)
    record = RegistryRecord(
        job_id=job_id,
        workspace=workspace,
        score_path=score_path.resolve() if score_path else None,
        registered_at=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        record_path=target,
    )
    import json  # here, not above: `mzt status JOB -w WS` reads no record

    from mzt.state.atomic import atomic_write  # only a run writes; readers skip its imports

    ensure_private_dir(target.parent)
    atomic_write(target, json.dumps(record.to_json(), indent=2).encode() + b"\n")
    return record


def unregister(job_id: str, workspace: Path, *, home: Path | None = None) -> bool:
    """Remove the record of ``job_id`` in ``workspace``; ``False`` if there was none."""
    try:
        paths.registry_record(job_id, workspace.resolve(), home).unlink()
    except FileNotFoundError:
        return False
    return True


def read_records(*, home: Path | None = None) -> list[RegistryRecord]:
    """Every readable record, newest registration first (unreadable ones are skipped)."""
    folder = paths.registry_dir(home)
    try:
        candidates = sorted(folder.glob("*.json"))
    except OSError:
        return []
    records = []
    for candidate in candidates:
        record = _read_record(candidate)
        if record is not None:
            records.append(record)
    records.sort(key=lambda r: r.registered_at, reverse=True)
    return records


def list_records(
    *, home: Path | None = None, include_missing: bool = False
) -> list[RegistryRecord]:
    """Registered jobs whose workspace still exists (all of them with ``include_missing``)."""
    return [r for r in read_records(home=home) if include_missing or r.workspace_exists]


def prune(*, home: Path | None = None) -> list[RegistryRecord]:
    """Delete the records whose workspace is gone; returns what was removed."""
    removed = []
    for record in read_records(home=home):
        if record.workspace_exists:
            continue
        try:
            record.record_path.unlink()
        except FileNotFoundError:
            continue
        removed.append(record)
    return removed


def _read_record(path: Path) -> RegistryRecord | None:
    if path.name.startswith("."):
        return None  # a temp file of a write in progress
    import json

    try:
        data = json.loads(read_regular_file(path, _MAX_RECORD_BYTES))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, RecursionError) as exc:
        logger.warning("skipping unreadable registry record %s: %s", path, exc)
        return None
    if not isinstance(data, dict):
        return None
    job_id, workspace = data.get("job_id"), data.get("workspace")
    score, registered = data.get("score_path"), data.get("registered_at")
    if not isinstance(job_id, str) or not isinstance(workspace, str) or not workspace:
        logger.warning("skipping malformed registry record %s", path)
        return None
    return RegistryRecord(
        job_id=job_id,
        workspace=Path(workspace),
        score_path=Path(score) if isinstance(score, str) and score else None,
        registered_at=registered if isinstance(registered, str) else "",
        record_path=path,
    )


@records.record(frozen=True, slots=True)
class JobLocation:
    """Where a job named by its id lives, and which rule found it."""

    job_id: str
    workspace: Path
    score_path: Path | None
    found_by: str  # "workspace" (-w), "cwd" (./.marianne/) or "registry"


def find_job(
    job_id: str,
    *,
    workspace: Path | None = None,
    cwd: Path | None = None,
    home: Path | None = None,
) -> JobLocation:
    """Find a job by id: the given workspace, else ``./.marianne/``, else the registry.

    Raises :class:`~mzt.support.errors.JobNotFoundError` when no rule finds a checkpoint, and
    :class:`~mzt.support.errors.AmbiguousJobError` when several registered workspaces hold one.
    """
    if workspace is not None:
        ws = workspace.resolve()
        state = paths.state_file(ws, job_id)
        if entry_exists(state):  # a checkpoint that is no file is unusable, not missing
            return JobLocation(job_id, ws, _registered_score(job_id, ws, home), "workspace")
        raise not_found_error(job_id, [str(state)], ws, home)
    here = (cwd or Path.cwd()).resolve()
    local = paths.state_file(here, job_id)
    if entry_exists(local):
        return JobLocation(job_id, here, _registered_score(job_id, here, home), "cwd")
    matches = {
        r.workspace: r
        for r in read_records(home=home)
        if r.job_id == job_id and r.workspace_exists and r.state_exists
    }
    if not matches:
        searched = [str(local), f"registry {paths.registry_dir(home)}"]
        raise not_found_error(job_id, searched, here, home)
    if len(matches) > 1:
        raise AmbiguousJobError(job_id, sorted(str(w) for w in matches))
    record = next(iter(matches.values()))
    return JobLocation(job_id, record.workspace, record.score_path, "registry")


def known_jobs(folder: Path, home: Path | None = None) -> list[str]:
    """Job ids with a checkpoint in ``folder``, then the registered ones elsewhere."""
    try:
        found = paths.job_ids_in(folder)
    except OSError:
        found = []
    for record in read_records(home=home):
        if record.job_id not in found and record.workspace_exists:
            found.append(record.job_id)
    return found


def not_found_error(
    job_id: str, searched: list[str], folder: Path, home: Path | None
) -> JobNotFoundError:
    """The error for a job id nothing matches, naming the closest ids and the known ones."""
    error = JobNotFoundError(job_id, searched)
    known = known_jobs(folder, home)
    if known:
        import difflib

        close = difflib.get_close_matches(job_id, known, n=3, cutoff=0.6)
        guess = f"Did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
        shown = known[:_HINT_JOBS] + (["…"] if len(known) > _HINT_JOBS else [])
        error.hint = f"{guess}Known jobs: {', '.join(shown)}. {error.hint or ''}".strip()
    return error


def _registered_score(job_id: str, workspace: Path, home: Path | None) -> Path | None:
    record = _read_record(paths.registry_record(job_id, workspace, home))
    return record.score_path if record else None
