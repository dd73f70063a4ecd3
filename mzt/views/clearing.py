"""Clearing finished jobs: selecting them, removing their files, pruning the registry.

**clear** deletes what mzt keeps about terminal jobs (checkpoint, history, logs,
outputs, lock file, registry record) and prunes registry records that point nowhere.
It never touches a job whose run lock is held, nor one another host marks running
unless told to take it over (``take_over``).

Nothing here prints; the command line renders the results. Problems the user can act on
are raised as :class:`~mzt.support.errors.MztError` subclasses with their exit codes:

========================  ====  ==================================================
situation                 exit  error
========================  ====  ==================================================
bad ``--older-than``        2   :class:`~mzt.support.errors.UsageError`
``take_over`` without job   2   :class:`~mzt.support.errors.UsageError`
========================  ====  ==================================================

A skipped job whose checkpoint is unusable carries its
:class:`~mzt.support.errors.StateCorruptionError` for the caller.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shlex
import shutil
import stat
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from mzt.execute.leftovers import stop_leftovers
from mzt.state import CheckpointState, JobStatus, JsonStateBackend
from mzt.state.lock import settled_probe
from mzt.state.lockprobe import LockProbe, probe_lock
from mzt.state.registry import RegistryRecord, read_records
from mzt.state.takeover import foreign_error, is_foreign
from mzt.support import paths, records
from mzt.support.errors import JobLockedError, MztError, StateCorruptionError, UsageError
from mzt.support.exitcodes import ExitCode
from mzt.support.fsutil import entry_exists, is_own_regular_file
from mzt.views.clear_report import ClearedJob, ClearReport, PrunedRecord, SkippedJob

TERMINAL_STATUSES = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})


class DeclinedError(MztError):
    """The user answered no to a confirmation: nothing was changed."""

    exit_code = ExitCode.FAILED
    code = "DECLINED"


# --- clear ----------------------------------------------------------------------------------

_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_DURATION_WHOLE = re.compile(r"(?:\d+(?:\.\d+)?[smhdw])+")


def parse_duration(text: str) -> timedelta:
    """``30s``, ``15m``, ``12h``, ``7d``, ``2w`` or a sum like ``1d12h``; a bare number is seconds.

    Anything else raises :class:`~mzt.support.errors.UsageError` (exit 2).
    """
    value = text.strip().lower()
    if re.fullmatch(r"\d+(?:\.\d+)?", value):
        return timedelta(seconds=float(value))
    if not value or not _DURATION_WHOLE.fullmatch(value):
        raise UsageError(
            f"'{text}' is not a duration.",
            hint="Use a number and a unit: 30s, 15m, 12h, 7d or 2w (units may be combined: 1d12h).",
        )
    seconds = sum(float(n) * _DURATION_UNITS[u] for n, u in _DURATION_PART.findall(value))
    return timedelta(seconds=seconds)


@records.record(frozen=True)
class _Rules:
    """Which jobs the selection clears."""

    wanted: frozenset[JobStatus]
    older_than: timedelta | None
    now: datetime
    take_over: bool


@records.record(frozen=True)
class _Candidate:
    job_id: str
    workspace: Path
    record: RegistryRecord | None
    record_path: Path  # where its registry record is (or would be)
    home: Path | None  # the MZT_HOME it was found through (None: the default)


def clear_jobs(
    *,
    job: str | None = None,
    workspace: Path | None = None,
    statuses: Iterable[str | JobStatus] | None = None,
    older_than: timedelta | None = None,
    dry_run: bool = False,
    take_over: bool = False,
    cwd: Path | None = None,
    home: Path | None = None,
    now: datetime | None = None,
) -> ClearReport:
    """Remove terminal jobs (completed, failed, cancelled) and prune dead registry records.

    Jobs come from the registry and from the current folder's ``.marianne/``. ``job``
    keeps only that job id (in every workspace that has it, unless ``workspace`` names
    one); ``statuses`` only those terminal statuses; ``older_than`` only jobs whose last
    update is at least that old. For each selected job, attempts a dead run left alive
    are stopped, then its checkpoint, history, logs, outputs, lock file, stale pause/cancel
    files and registry record are deleted, all while holding its run lock: a job whose
    run holds the lock is never touched (it is skipped), and no run can start on it
    half-way. Jobs not terminal or with an unusable checkpoint are skipped too (a damaged
    checkpoint is left exactly as it is).

    Registry records whose workspace or checkpoint is gone are pruned (only those of
    ``job`` when given). ``dry_run`` changes nothing and reports what would be done.

    A job another host marks running is skipped, its ``refusal`` saying so, unless
    ``take_over`` (which needs ``job``: jobs are taken over one at a time, on purpose):
    then it is cleared, and only this host's leftover processes are ever stopped.
    """
    if take_over and job is None:
        raise UsageError(
            "--take-over clears one job at a time: name it with --job.",
            hint="`mzt clear --job JOB --take-over` clears JOB that another host marks running.",
        )
    wanted = _wanted_statuses(statuses)
    moment = now or datetime.now(UTC)
    report = ClearReport(dry_run=dry_run)
    only_in = workspace.resolve() if workspace is not None else None
    for candidate in _candidates(cwd, home):
        if job is not None and candidate.job_id != job:
            continue
        if only_in is not None and candidate.workspace != only_in:
            continue
        state_path = paths.state_file(candidate.workspace, candidate.job_id)
        if not candidate.workspace.is_dir() or not entry_exists(state_path):
            # A run registers its job just before its first checkpoint: a record whose
            # job's lock is held belongs to a run that is starting, not to a dead job.
            held = probe_lock(paths.lock_file(candidate.workspace, candidate.job_id))
            if candidate.record is not None and held == LockProbe.FREE:
                _prune(candidate, report)
            continue
        _clear_one(candidate, _Rules(wanted, older_than, moment, take_over), report)
    return report


def _wanted_statuses(statuses: Iterable[str | JobStatus] | None) -> frozenset[JobStatus]:
    if not statuses:
        return TERMINAL_STATUSES
    chosen = set()
    for value in statuses:
        try:
            status = JobStatus(value)
        except ValueError:
            status = None
        if status not in TERMINAL_STATUSES:
            names = ", ".join(sorted(s.value for s in TERMINAL_STATUSES))
            raise UsageError(
                f"clear removes only terminal jobs; '{value}' is not one of {names}.",
                hint="Cancel a paused job first (`mzt cancel JOB`) if you want it gone.",
            )
        chosen.add(status)
    return frozenset(chosen)


def _candidates(cwd: Path | None, home: Path | None) -> Iterator[_Candidate]:
    """Every (job, workspace) known from the registry and from ./.marianne/, once each."""
    seen: set[tuple[str, Path]] = set()
    for record in read_records(home=home):
        key = (record.job_id, record.workspace)
        if key not in seen:
            seen.add(key)
            yield _Candidate(record.job_id, record.workspace, record, record.record_path, home)
    here = (cwd or Path.cwd()).resolve()
    try:
        local = paths.job_ids_in(here)
    except OSError:
        local = []
    for job_id in local:
        if (job_id, here) not in seen:
            seen.add((job_id, here))
            yield _Candidate(job_id, here, None, paths.registry_record(job_id, here, home), home)


def _prune(candidate: _Candidate, report: ClearReport) -> None:
    record = candidate.record
    assert record is not None
    reason = "workspace is gone" if not candidate.workspace.is_dir() else "checkpoint is gone"
    if not report.dry_run:
        try:
            record.record_path.unlink()
        except FileNotFoundError:
            return  # pruned by someone else meanwhile
        except OSError as exc:
            report.failed.append(
                SkippedJob(candidate.job_id, candidate.workspace, "-", f"record: {exc}")
            )
            return
    report.pruned.append(
        PrunedRecord(candidate.job_id, candidate.workspace, record.record_path, reason)
    )


def _clear_one(candidate: _Candidate, rules: _Rules, report: ClearReport) -> None:
    store = JsonStateBackend(candidate.workspace)
    job_id, ws = candidate.job_id, candidate.workspace
    try:
        if settled_probe(store.lock_path(job_id)) != LockProbe.FREE:
            report.skipped.append(SkippedJob(job_id, ws, "running", "its run lock is held"))
            return
        verdict = _judge(store, job_id, rules)
        if isinstance(verdict, SkippedJob | None):
            if verdict is not None:
                report.skipped.append(verdict)
            return
        if report.dry_run:
            report.removed.append(_inventory(candidate, store, verdict))
            return
        try:
            with store.run_lock(job_id):
                # Judge again under the lock: a run may have come and gone since the probe.
                verdict = _judge(store, job_id, rules)
                if isinstance(verdict, SkippedJob | None):
                    if verdict is not None:
                        report.skipped.append(verdict)
                    return
                cleared = _inventory(candidate, store, verdict)
                report.stopped.extend((job_id, item) for item in stop_leftovers(verdict))
                _delete_job(candidate, store)
        except JobLockedError:
            report.skipped.append(SkippedJob(job_id, ws, "running", "its run lock is held"))
            return
        except OSError as exc:
            assert isinstance(verdict, CheckpointState)  # the skips above returned
            report.failed.append(SkippedJob(job_id, ws, verdict.status.value, str(exc)))
            return
        report.removed.append(cleared)
    finally:
        store.close()


def _judge(
    store: JsonStateBackend, job_id: str, rules: _Rules
) -> CheckpointState | SkippedJob | None:
    """The state when the job is to be cleared, a skip note, or None when not selected."""
    ws = store.workspace
    try:
        state = store.load(job_id)
    except StateCorruptionError as exc:
        reason = f"checkpoint unusable, left untouched: {exc}"
        return SkippedJob(job_id, ws, "unreadable", reason, error=exc)
    if state is None:
        return None
    # Still running after load: another host's run (a live one here holds the lock).
    if state.status == JobStatus.RUNNING and is_foreign(liveness := store.liveness(state)):
        if rules.take_over:
            return state
        refusal = foreign_error(state, liveness, store.state_path(job_id))
        command = f"mzt clear --job {shlex.quote(job_id)} --take-over"
        refusal.take_over_with(command)
        who = f"pid {liveness.holder.pid} on " if liveness.holder else ""
        reason = (
            f"marked running by {who}host {refusal.host} (last wrote {refusal.last_written}), "
            f"which may still be running it; once that run is gone, `{command}` clears it"
        )
        return SkippedJob(job_id, ws, state.status.value, reason, refusal)
    if state.status not in TERMINAL_STATUSES:
        # Only worth a note when the user did not narrow the selection by status.
        if rules.wanted == TERMINAL_STATUSES:
            reason = f"{state.status.value} jobs are not terminal; cancel it first to clear it"
            return SkippedJob(job_id, ws, state.status.value, reason)
        return None
    if state.status not in rules.wanted:
        return None
    if rules.older_than is not None and rules.now - state.updated_at < rules.older_than:
        return None
    return state


def _job_paths(candidate: _Candidate) -> tuple[list[Path], list[Path]]:
    """(files, folders) that belong to the job, whether or not they exist."""
    ws, job_id = candidate.workspace, candidate.job_id
    files = [
        candidate.record_path,
        paths.head_cache(job_id, ws, candidate.home),
        paths.state_file(ws, job_id),
        paths.history_file(ws, job_id),
        paths.pause_file(ws, job_id),
        paths.cancel_file(ws, job_id),
        paths.lock_file(ws, job_id),  # deleted while still held
        paths.state_pointer(ws, job_id),  # last: the paths above are found through it
    ]
    folders = [
        paths.logs_dir(ws, job_id),
        paths.outputs_dir(ws, job_id),
        paths.slurm_dir(ws, job_id),
    ]
    return files, folders


def _inventory(
    candidate: _Candidate, store: JsonStateBackend, state: CheckpointState
) -> ClearedJob:
    files, folders = _job_paths(candidate)
    present: list[Path] = []
    total = 0
    for path in [*folders, *files]:
        try:
            st = path.lstat()
        except OSError:
            continue
        present.append(path)
        total += _tree_size(path) if stat.S_ISDIR(st.st_mode) else st.st_size
    job_id, ws = candidate.job_id, candidate.workspace
    holder = store.liveness(state).holder if state.status == JobStatus.RUNNING else None
    return ClearedJob(
        job_id,
        ws,
        state.status.value,
        state.updated_at,
        tuple(present),
        total,
        holder.host if holder else None,
    )


def _tree_size(folder: Path) -> int:
    total = 0
    for root, _dirs, names in os.walk(folder):
        for name in names:
            with contextlib.suppress(OSError):
                total += (Path(root) / name).lstat().st_size
    return total


def _delete_job(candidate: _Candidate, store: JsonStateBackend) -> None:
    """Delete everything of the job; the caller holds its run lock."""
    files, folders = _job_paths(candidate)
    ws, job_id = candidate.workspace, candidate.job_id
    # Folders below a state folder that `state_path` put outside the workspace are checked
    # for symlinks up to that folder: what lies above it is the user's choice.
    state_folder = paths.job_state_dir(ws, job_id)
    for folder in folders:
        _remove_folder(ws if folder.is_relative_to(ws) else state_folder, folder)
    store.delete(job_id)  # checkpoint and history, closing any open descriptor
    for path in files:
        if path.name.startswith(".marianne-") and not is_own_regular_file(path):
            continue  # someone else's file (or a symlink) in the workspace: not ours to remove
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    paths.forget_state_dirs()


def _remove_folder(root: Path, folder: Path) -> None:
    """``rm -r`` a job folder, refusing when any part of its path below ``root`` is a
    symlink (which would make the deletion land somewhere else)."""
    probe = folder
    while probe != root and probe != probe.parent:
        try:
            if stat.S_ISLNK(probe.lstat().st_mode):
                raise OSError(errno.ELOOP, "refusing to delete through a symlink", str(probe))
        except FileNotFoundError:
            return
        probe = probe.parent
    shutil.rmtree(folder)
