"""Steering and housekeeping from any shell: pause, cancel, clear and doctor.

There is no daemon to ask, so every action here goes through the files a run watches
(contract §3–§6):

* **pause** creates ``<ws>/.marianne-pause-<job>``; the run stops at its next sheet
  boundary, saves the job paused and exits 3. Only a running job can be paused.
* **cancel** creates ``<ws>/.marianne-cancel-<job>`` for a running job (the run kills its
  attempts, saves the job cancelled and exits 4). A job with no run — paused, failed, or
  dead (its state says running but nobody holds the lock) — is marked cancelled here,
  directly, while holding the job's run lock, so no run can start half-way through.
* **clear** deletes what mzt keeps about terminal jobs (checkpoint, history, logs,
  outputs, lock file, registry record) and prunes registry records that point nowhere.
  It never touches a job whose run lock is held.
* **doctor** checks the things runs depend on and gives each a verdict.

Nothing here prints; the command line renders the results. Problems the user can act on
are raised as :class:`~mzt.errors.MztError` subclasses with their exit codes:

========================  ====  ==================================================
situation                 exit  error
========================  ====  ==================================================
pause of a job not running  2   :class:`~mzt.errors.UsageError`
cancel of a completed job   2   :class:`~mzt.errors.UsageError`
signal file path in use     2   :class:`SignalFileError` (a symlink or foreign file)
``--wait`` timed out        1   :class:`WaitTimeoutError` (the request stays in place)
bad ``--older-than``        2   :class:`~mzt.errors.UsageError`
========================  ====  ==================================================
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import importlib.metadata
import json
import os
import re
import shutil
import stat
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from mzt import paths
from mzt.errors import JobLockedError, JobNotFoundError, MztError, StateCorruptionError, UsageError
from mzt.exitcodes import ExitCode
from mzt.fsutil import is_own_regular_file, open_nofollow
from mzt.jobs import JobView, open_job
from mzt.lock import LockProbe, probe_lock
from mzt.registry import JobLocation, RegistryRecord, read_records
from mzt.state import CheckpointState, JobStatus, JsonStateBackend

DEFAULT_WAIT_TIMEOUT = 60.0
DEFAULT_POLL = 0.25

# Where a run can end up once it has stopped: what `pause --wait` and `cancel --wait` wait for.
STOPPED_STATUSES = frozenset(
    {JobStatus.PAUSED, JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED}
)
TERMINAL_STATUSES = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})


class SignalFileError(UsageError):
    """Something that is not our own regular file sits where a pause/cancel file goes."""

    code = "SIGNAL_FILE"


class WaitTimeoutError(MztError):
    """``--wait`` gave up: the job is still running; the request file stays in place."""

    exit_code = ExitCode.FAILED
    code = "WAIT_TIMEOUT"


class DeclinedError(MztError):
    """The user answered no to a confirmation: nothing was changed."""

    exit_code = ExitCode.FAILED
    code = "DECLINED"


# --- pause ----------------------------------------------------------------------------------


def is_running(view: JobView) -> bool:
    """Whether a run is executing the job now (its run lock is held).

    A state written on another host cannot be probed from here (``alive`` is ``None``);
    then the checkpoint's word is taken, since the request file is the only channel to that
    run anyway.
    """
    if view.alive is None:
        return view.status == JobStatus.RUNNING
    return view.alive


def request_pause(view: JobView) -> Path:
    """Ask the job's run to pause at its next sheet boundary; returns the pause file.

    Idempotent: an existing pause file of ours counts as the request. The file is created
    with ``O_CREAT | O_EXCL | O_NOFOLLOW``, so a symlink planted at its path is never
    written through (it raises :class:`SignalFileError`, and the run would ignore it too).
    A job that is not running raises :class:`~mzt.errors.UsageError` (exit 2).
    """
    if not is_running(view):
        raise UsageError(
            f"Job '{view.job_id}' is not running (status: {_status_text(view)}); "
            "only a running job can be paused.",
            hint=_not_running_hint(view),
        )
    return _create_signal_file(paths.pause_file(view.workspace, view.job_id), "pause")


def _status_text(view: JobView) -> str:
    status = view.status.value
    if view.status == JobStatus.PAUSED and (view.state.error_message or "").startswith(
        "Recovered from a stale running state"
    ):
        return f"{status}; its run died"
    return status


def _not_running_hint(view: JobView) -> str:
    resume = f"`mzt resume {view.job_id} -w {view.workspace}`"
    if view.status == JobStatus.COMPLETED:
        return f"It already completed; `mzt status {view.job_id}` shows the result."
    return f"Continue it with {resume}; `mzt status {view.job_id}` shows where it stopped."


def _create_signal_file(path: Path, kind: str) -> Path:
    """Create a pause/cancel request file without ever following a symlink."""
    try:
        fd = open_nofollow(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    except FileExistsError:
        if is_own_regular_file(path):
            return path  # already requested: same effect, nothing to do
        raise SignalFileError(
            f"Cannot create the {kind} request {path}: something else is already there "
            f"({_describe_entry(path)}); mzt never writes through it, and a run ignores it.",
            hint=f"Remove it (`rm {path}`), then ask again.",
        ) from None
    except OSError as exc:
        raise SignalFileError(
            f"Cannot create the {kind} request {path}: {exc.strerror or exc}",
            hint="Check that the workspace exists and that you may write to it.",
        ) from exc
    try:
        # The content is only a note for people looking at the file; runs test its existence.
        note = {"request": kind, "by": "mzt", "pid": os.getpid(), "at": _now_text()}
        os.write(fd, (json.dumps(note) + "\n").encode())
    finally:
        os.close(fd)
    return path


def _describe_entry(path: Path) -> str:
    try:
        st = path.lstat()
    except OSError:
        return "unreadable"
    if stat.S_ISLNK(st.st_mode):
        return "a symbolic link"
    if st.st_uid != os.geteuid():
        return f"a file owned by uid {st.st_uid}"
    return "not a regular file"


# --- waiting --------------------------------------------------------------------------------


def wait_for_status(
    location: JobLocation,
    statuses: Iterable[JobStatus],
    timeout: float = DEFAULT_WAIT_TIMEOUT,
    poll: float = DEFAULT_POLL,
) -> JobView:
    """Poll the job's checkpoint until its status is one of ``statuses`` and its run is gone.

    Waiting for the run lock to be released as well means that when this returns, the
    run has exited and the job can be resumed at once. Reading is read-only (no lock, no
    write). Raises :class:`WaitTimeoutError` (exit 1) after ``timeout`` seconds, and what
    `open_job` raises if the checkpoint disappears or is damaged meanwhile.
    """
    wanted = frozenset(statuses)
    deadline = time.monotonic() + max(0.0, timeout)
    while True:
        view = open_job(location)
        if view.status in wanted and view.alive is not True:
            return view
        left = deadline - time.monotonic()
        if left <= 0:
            names = "/".join(sorted(s.value for s in wanted))
            raise WaitTimeoutError(
                f"Job '{view.job_id}' did not reach {names} within {timeout:g} s "
                f"(status now: {view.status.value}); the request stays in place, so the "
                "run still acts on it at its next boundary.",
                hint=f"Wait longer with --timeout, or follow it with `mzt watch {view.job_id}`.",
            )
        time.sleep(min(poll, left))


def pause_and_wait(
    view: JobView, *, timeout: float = DEFAULT_WAIT_TIMEOUT, poll: float = DEFAULT_POLL
) -> JobView:
    """`request_pause`, then wait until the run has stopped (paused or any terminal status)."""
    request_pause(view)
    return wait_for_status(view.location, STOPPED_STATUSES, timeout, poll)


# --- cancel ---------------------------------------------------------------------------------

CancelAction = Literal["requested", "cancelled", "already_cancelled"]


@dataclass(frozen=True)
class CancelOutcome:
    """What `request_cancel` did.

    ``requested``: the cancel file was created for the running job. ``cancelled``: the
    job had no run and was marked cancelled directly. ``already_cancelled``: nothing to do.
    """

    action: CancelAction
    job_id: str
    workspace: Path
    previous_status: JobStatus
    status: JobStatus
    signal_file: Path | None = None
    state: CheckpointState | None = None


def request_cancel(view: JobView) -> CancelOutcome:
    """Cancel the job: a request file for a running job, a direct mark for one without a run.

    A paused, failed, pending or dead job is marked cancelled under its run lock, and
    stale pause/cancel files are removed. If a run takes the lock in the meantime, the
    request file is created instead. A completed job raises
    :class:`~mzt.errors.UsageError` (exit 2): there is nothing left to cancel. An already
    cancelled job is reported as such (not an error: cancelling twice is harmless).
    """
    previous = view.status
    if is_running(view):
        path = _create_signal_file(paths.cancel_file(view.workspace, view.job_id), "cancel")
        return CancelOutcome("requested", view.job_id, view.workspace, previous, previous, path)
    _refuse_completed(view.job_id, previous)
    if previous == JobStatus.CANCELLED:
        _remove_stale_signals(view.workspace, view.job_id)
        return CancelOutcome(
            "already_cancelled", view.job_id, view.workspace, previous, previous, state=view.state
        )
    try:
        return _cancel_directly(view.location, previous)
    except JobLockedError:
        # A run started since we looked: hand the request to it the normal way.
        path = _create_signal_file(paths.cancel_file(view.workspace, view.job_id), "cancel")
        return CancelOutcome("requested", view.job_id, view.workspace, previous, previous, path)


def _refuse_completed(job_id: str, status: JobStatus) -> None:
    if status == JobStatus.COMPLETED:
        raise UsageError(
            f"Job '{job_id}' is completed; there is nothing to cancel.",
            hint=f"`mzt clear --job {job_id}` removes its files; "
            f"`mzt resume {job_id} --force` runs it again.",
        )


def _cancel_directly(location: JobLocation, seen: JobStatus) -> CancelOutcome:
    store = JsonStateBackend(location.workspace)
    try:
        with store.run_lock(location.job_id):
            # Read again under the lock: the state may have moved since `seen` was read.
            state = store.load_for_run(location.job_id)
            if state is None:
                raise JobNotFoundError(location.job_id, [str(store.state_path(location.job_id))])
            previous = state.status
            _refuse_completed(location.job_id, previous)
            if previous != JobStatus.CANCELLED:
                reason = f"cancelled by `mzt cancel` while {previous.value}"
                if state.error_message:
                    reason += f" (before that: {state.error_message})"
                state.mark_job_cancelled(reason)
                state.sheets_in_progress = []
                store.save(state)
                store.record_event(state, "cancelled", reason=reason, by="mzt cancel")
            _remove_stale_signals(location.workspace, location.job_id)
    finally:
        store.close()
    action: CancelAction = "cancelled" if previous != JobStatus.CANCELLED else "already_cancelled"
    return CancelOutcome(
        action, location.job_id, location.workspace, seen, state.status, state=state
    )


def _remove_stale_signals(workspace: Path, job_id: str) -> list[Path]:
    """Delete our own pause/cancel files of a job that has no run (a run would too)."""
    removed = []
    for path in (paths.pause_file(workspace, job_id), paths.cancel_file(workspace, job_id)):
        if is_own_regular_file(path):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed.append(path)
    return removed


def cancel_and_wait(
    view: JobView, *, timeout: float = DEFAULT_WAIT_TIMEOUT, poll: float = DEFAULT_POLL
) -> CancelOutcome:
    """`request_cancel`, and for a running job wait until its run has stopped.

    If the run stopped some other way before it saw the request (paused or failed), the
    job is then marked cancelled directly; if it completed first, our leftover request is
    removed and :class:`~mzt.errors.UsageError` (exit 2) says so.
    """
    first = request_cancel(view)
    if first.action != "requested":
        return first
    final = wait_for_status(view.location, STOPPED_STATUSES, timeout, poll)
    if final.status == JobStatus.CANCELLED:
        return CancelOutcome(
            "cancelled",
            final.job_id,
            final.workspace,
            first.previous_status,
            final.status,
            first.signal_file,
            final.state,
        )
    if final.status == JobStatus.COMPLETED:
        _remove_stale_signals(final.workspace, final.job_id)
    settled = request_cancel(final)
    return CancelOutcome(
        settled.action,
        final.job_id,
        final.workspace,
        first.previous_status,
        settled.status,
        first.signal_file,
        settled.state,
    )


# --- clear ----------------------------------------------------------------------------------

_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_DURATION_WHOLE = re.compile(r"(?:\d+(?:\.\d+)?[smhdw])+")


def parse_duration(text: str) -> timedelta:
    """``30s``, ``15m``, ``12h``, ``7d``, ``2w`` or a sum like ``1d12h``; a bare number is seconds.

    Anything else raises :class:`~mzt.errors.UsageError` (exit 2).
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


@dataclass(frozen=True)
class ClearedJob:
    """A job that was (or, in a preview, would be) removed, and what that means on disk."""

    job_id: str
    workspace: Path
    status: str
    updated_at: datetime | None
    files: tuple[Path, ...]
    bytes: int

    def to_json(self) -> dict[str, Any]:
        """The job as JSON data."""
        return {
            "job_id": self.job_id,
            "workspace": str(self.workspace),
            "status": self.status,
            "updated_at": _iso(self.updated_at),
            "files": [str(p) for p in self.files],
            "bytes": self.bytes,
        }


@dataclass(frozen=True)
class SkippedJob:
    """A job the selection named but clear left alone, and why."""

    job_id: str
    workspace: Path
    status: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        """The job as JSON data."""
        return {
            "job_id": self.job_id,
            "workspace": str(self.workspace),
            "status": self.status,
            "reason": self.reason,
        }


@dataclass(frozen=True)
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


@dataclass
class ClearReport:
    """What `clear_jobs` removed (``dry_run``: would remove), left alone, or failed to remove."""

    dry_run: bool
    removed: list[ClearedJob] = field(default_factory=list)
    pruned: list[PrunedRecord] = field(default_factory=list)
    skipped: list[SkippedJob] = field(default_factory=list)
    failed: list[SkippedJob] = field(default_factory=list)

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
        }


@dataclass(frozen=True)
class _Candidate:
    job_id: str
    workspace: Path
    record: RegistryRecord | None
    record_path: Path  # where its registry record is (or would be)


def clear_jobs(
    *,
    job: str | None = None,
    workspace: Path | None = None,
    statuses: Iterable[str | JobStatus] | None = None,
    older_than: timedelta | None = None,
    dry_run: bool = False,
    cwd: Path | None = None,
    home: Path | None = None,
    now: datetime | None = None,
) -> ClearReport:
    """Remove terminal jobs (completed, failed, cancelled) and prune dead registry records.

    Jobs come from the registry and from the current folder's ``.marianne/``. ``job``
    keeps only that job id (in every workspace that has it, unless ``workspace`` names
    one); ``statuses`` only those
    terminal statuses; ``older_than`` only jobs whose last update is at least that old.
    For each selected job the checkpoint, history, logs, outputs, lock file, stale
    pause/cancel files and registry record are deleted while holding its run lock, so a
    job whose run holds the lock is never touched (it is listed as skipped), and no run can
    start on it half-way through. Jobs that are not terminal or whose checkpoint is
    unusable are skipped too (a damaged checkpoint is left exactly as it is).

    Registry records whose workspace or checkpoint is gone are pruned (only those of
    ``job`` when given). ``dry_run`` changes nothing and reports what would be done.
    """
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
        if not candidate.workspace.is_dir() or not state_path.is_file():
            if candidate.record is not None:
                _prune(candidate, report)
            continue
        _clear_one(candidate, wanted, older_than, moment, report)
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
            yield _Candidate(record.job_id, record.workspace, record, record.record_path)
    here = (cwd or Path.cwd()).resolve()
    try:
        local = sorted(paths.state_dir(here).glob("*.json"))
    except OSError:
        local = []
    for path in local:
        job_id = path.name[: -len(".json")]
        # Skip temp files and anything whose name cannot be a job id (not a checkpoint).
        if path.name.startswith(".") or paths.job_id_from_name(job_id) != job_id:
            continue
        if (job_id, here) not in seen:
            seen.add((job_id, here))
            yield _Candidate(job_id, here, None, paths.registry_record(job_id, here, home))


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


def _clear_one(
    candidate: _Candidate,
    wanted: frozenset[JobStatus],
    older_than: timedelta | None,
    now: datetime,
    report: ClearReport,
) -> None:
    store = JsonStateBackend(candidate.workspace)
    job_id, ws = candidate.job_id, candidate.workspace
    try:
        if probe_lock(store.lock_path(job_id)) != LockProbe.FREE:
            report.skipped.append(SkippedJob(job_id, ws, "running", "its run lock is held"))
            return
        verdict = _judge(store, job_id, wanted, older_than, now)
        if isinstance(verdict, SkippedJob | None):
            if verdict is not None:
                report.skipped.append(verdict)
            return
        if report.dry_run:
            report.removed.append(_inventory(candidate, verdict))
            return
        try:
            with store.run_lock(job_id):
                # Judge again under the lock: a run may have come and gone since the probe.
                verdict = _judge(store, job_id, wanted, older_than, now)
                if isinstance(verdict, SkippedJob | None):
                    if verdict is not None:
                        report.skipped.append(verdict)
                    return
                cleared = _inventory(candidate, verdict)
                _delete_job(candidate, store)
        except JobLockedError:
            report.skipped.append(SkippedJob(job_id, ws, "running", "its run lock is held"))
            return
        except OSError as exc:
            report.failed.append(SkippedJob(job_id, ws, verdict.status.value, str(exc)))
            return
        report.removed.append(cleared)
    finally:
        store.close()


def _judge(
    store: JsonStateBackend,
    job_id: str,
    wanted: frozenset[JobStatus],
    older_than: timedelta | None,
    now: datetime,
) -> CheckpointState | SkippedJob | None:
    """The state when the job is to be cleared, a skip note, or None when not selected."""
    ws = store.workspace
    try:
        state = store.load(job_id)
    except StateCorruptionError as exc:
        return SkippedJob(job_id, ws, "unreadable", f"checkpoint unusable, left untouched: {exc}")
    if state is None:
        return None
    if state.status not in TERMINAL_STATUSES:
        # Only worth a note when the user did not narrow the selection by status.
        if wanted == TERMINAL_STATUSES:
            reason = f"{state.status.value} jobs are not terminal; cancel it first to clear it"
            return SkippedJob(job_id, ws, state.status.value, reason)
        return None
    if state.status not in wanted:
        return None
    if older_than is not None and now - state.updated_at < older_than:
        return None
    return state


def _job_paths(candidate: _Candidate) -> tuple[list[Path], list[Path]]:
    """(files, folders) that belong to the job, whether or not they exist."""
    ws, job_id = candidate.workspace, candidate.job_id
    files = [
        candidate.record_path,
        paths.state_file(ws, job_id),
        paths.history_file(ws, job_id),
        paths.pause_file(ws, job_id),
        paths.cancel_file(ws, job_id),
        paths.lock_file(ws, job_id),  # last: it is deleted while still held
    ]
    return files, [paths.logs_dir(ws, job_id), paths.outputs_dir(ws, job_id)]


def _inventory(candidate: _Candidate, state: CheckpointState) -> ClearedJob:
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
    return ClearedJob(
        candidate.job_id,
        candidate.workspace,
        state.status.value,
        state.updated_at,
        tuple(present),
        total,
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
    for folder in folders:
        _remove_folder(candidate.workspace, folder)
    store.delete(candidate.job_id)  # checkpoint and history, closing any open descriptor
    for path in files:
        if path.name.startswith(".marianne-") and not is_own_regular_file(path):
            continue  # someone else's file (or a symlink) in the workspace: not ours to remove
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _remove_folder(workspace: Path, folder: Path) -> None:
    """``rm -r`` a job folder, refusing when any part of its path below the workspace is
    a symlink (which would make the deletion land somewhere else)."""
    probe = folder
    while probe != workspace and probe != probe.parent:
        try:
            if stat.S_ISLNK(probe.lstat().st_mode):
                raise OSError(errno.ELOOP, "refusing to delete through a symlink", str(probe))
        except FileNotFoundError:
            return
        probe = probe.parent
    shutil.rmtree(folder)


# --- doctor ---------------------------------------------------------------------------------

Verdict = Literal["ok", "warning", "problem"]
_RANK = {"ok": 0, "warning": 1, "problem": 2}

PACKAGES = ("click", "pydantic", "PyYAML", "Jinja2", "filelock", "psutil", "watchfiles")
NETWORK_FILE_SYSTEMS = frozenset(
    {"nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "ceph", "glusterfs", "lustre", "gpfs", "afs"}
)
INOTIFY_DIR = Path("/proc/sys/fs/inotify")
_INOTIFY_SCAN_SECONDS = 0.5


@dataclass(frozen=True)
class Check:
    """One doctor finding: what area, what was checked, the verdict and why."""

    area: str  # python, mzt, package, mzt_home, instrument, instrument_profiles, inotify, flock
    name: str
    verdict: Verdict
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The check as JSON data."""
        return {
            "area": self.area,
            "name": self.name,
            "verdict": self.verdict,
            "message": self.message,
            "details": self.details,
        }


@dataclass(frozen=True)
class DoctorReport:
    """Every check doctor made."""

    checks: tuple[Check, ...]

    @property
    def verdict(self) -> Verdict:
        """The worst verdict of all checks."""
        worst: Verdict = "ok"
        for check in self.checks:
            if _RANK[check.verdict] > _RANK[worst]:
                worst = check.verdict
        return worst

    def count(self, verdict: Verdict) -> int:
        """How many checks ended with ``verdict``."""
        return sum(1 for c in self.checks if c.verdict == verdict)

    def to_json(self) -> dict[str, Any]:
        """The report as the body of a ``mzt.doctor/1`` document."""
        return {
            "verdict": self.verdict,
            "counts": {v: self.count(v) for v in ("ok", "warning", "problem")},
            "checks": [c.to_json() for c in self.checks],
        }


def doctor(
    *,
    cwd: Path | None = None,
    home: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> DoctorReport:
    """Check Python, packages, MZT_HOME, instruments, inotify and file locking here.

    Environment variables are only ever tested for being set: their values are never
    read into the report. The file-lock check creates (and removes) one temporary file in
    ``cwd``.
    """
    here = cwd or Path.cwd()
    env = os.environ if environ is None else environ
    checks: list[Check] = [_check_python(), _check_mzt()]
    checks.extend(_check_packages())
    checks.append(_check_home(home or paths.mzt_home()))
    checks.extend(_check_instruments(env))
    checks.append(_check_inotify())
    checks.append(_check_flock(here))
    return DoctorReport(tuple(checks))


def _check_python() -> Check:
    # mzt cannot even be imported below 3.11 (its pyproject says so), so this reports only.
    version = ".".join(map(str, sys.version_info[:3]))
    details = {"version": version, "executable": sys.executable}
    return Check("python", "python", "ok", f"Python {version} ({sys.executable})", details)


def _check_mzt() -> Check:
    from mzt import __version__

    location = str(Path(__file__).resolve().parent)
    return Check(
        "mzt",
        "mzt",
        "ok",
        f"mzt {__version__} ({location})",
        {"version": __version__, "location": location},
    )


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _minimum_versions() -> dict[str, str]:
    """``name -> minimum version`` from mzt's own installed requirements, if installed."""
    try:
        requires = importlib.metadata.requires("mzt") or []
    except importlib.metadata.PackageNotFoundError:
        return {}
    minimums = {}
    for requirement in requires:
        if ";" in requirement:
            continue  # extras and markers: not runtime requirements
        match = re.match(r"\s*([A-Za-z0-9_.-]+)\s*(.*)", requirement)
        if not match:
            continue
        floor = re.search(r">=\s*([0-9][0-9A-Za-z.]*)", match.group(2))
        if floor:
            minimums[_normalise(match.group(1))] = floor.group(1)
    return minimums


def _version_key(version: str) -> tuple[int, ...]:
    parts = []
    for piece in version.split("."):
        digits = re.match(r"\d+", piece)
        if not digits:
            break
        parts.append(int(digits.group()))
    return tuple(parts)


def _check_packages() -> list[Check]:
    minimums = _minimum_versions()
    checks = []
    for name in PACKAGES:
        wanted = minimums.get(_normalise(name))
        details: dict[str, Any] = {"package": name, "version": None, "minimum": wanted}
        try:
            version = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            checks.append(Check("package", name, "problem", f"{name} is not installed", details))
            continue
        details["version"] = version
        if wanted and _version_key(version) < _version_key(wanted):
            message = f"{name} {version} is older than the {wanted} mzt needs"
            if _normalise(name) == "filelock":
                message += " (older releases can write through symlinked lock files)"
            checks.append(Check("package", name, "problem", message, details))
        else:
            checks.append(Check("package", name, "ok", f"{name} {version}", details))
    return checks


def _check_home(home: Path) -> Check:
    details: dict[str, Any] = {"path": str(home), "exists": False, "mode": None, "owned": None}
    try:
        st = home.stat()
    except FileNotFoundError:
        ancestor = home.parent
        while not ancestor.exists() and ancestor != ancestor.parent:
            ancestor = ancestor.parent
        if os.access(ancestor, os.W_OK | os.X_OK):
            return Check(
                "mzt_home", "MZT_HOME", "ok", f"{home} (not created yet; runs create it)", details
            )
        return Check(
            "mzt_home",
            "MZT_HOME",
            "problem",
            f"{home} does not exist and cannot be created ({ancestor} is not writable)",
            details,
        )
    except OSError as exc:
        return Check("mzt_home", "MZT_HOME", "problem", f"{home}: {exc.strerror}", details)
    mode = stat.S_IMODE(st.st_mode)
    details.update(exists=True, mode=f"{mode:04o}", owned=st.st_uid == os.geteuid())
    if not stat.S_ISDIR(st.st_mode):
        return Check("mzt_home", "MZT_HOME", "problem", f"{home} is not a folder", details)
    if not os.access(home, os.W_OK | os.X_OK):
        return Check("mzt_home", "MZT_HOME", "problem", f"{home} is not writable by you", details)
    notes = []
    if st.st_uid != os.geteuid():
        notes.append(f"it is owned by uid {st.st_uid}, not by you")
    if mode & 0o077:
        notes.append(f"its mode is {mode:04o}, so other users can see run data (chmod 700 it)")
    if notes:
        return Check("mzt_home", "MZT_HOME", "warning", f"{home}: " + "; ".join(notes), details)
    return Check("mzt_home", "MZT_HOME", "ok", f"{home} (mode {mode:04o})", details)


def _check_instruments(env: Mapping[str, str]) -> list[Check]:
    from mzt.instrument_info import gather
    from mzt.instruments import load_instruments

    registry = load_instruments()
    checks = []
    for info in gather(registry, environ=env):
        # Names and set/unset only: a value never enters the report.
        variables = [{"name": v.name, "set": v.set, "role": v.role} for v in info.env]
        details: dict[str, Any] = {
            "instrument": info.name,
            "kind": info.kind,
            "source": info.source,
            "executable": info.executable,
            "binary_found": (info.binary_path is not None) if info.kind == "cli" else None,
            "binary_path": info.binary_path,
            "auth_env": variables,
        }
        if info.kind == "cli":
            found = f"`{info.executable}` at {info.binary_path}" if info.binary_path else None
            message = f"{info.name}: " + (found or f"`{info.executable}` not found on PATH")
        else:
            message = f"{info.name}: HTTP API {info.endpoint or ''}".rstrip()
        if variables:
            listed = ", ".join(f"{v['name']} ({'set' if v['set'] else 'unset'})" for v in variables)
            message += f"; reads {listed}"
        verdict: Verdict = "ok" if info.ready else "warning"
        checks.append(Check("instrument", info.name, verdict, message, details))
    if registry.problems:
        listed = "; ".join(str(p) for p in registry.problems)
        checks.append(
            Check(
                "instrument_profiles",
                "profiles",
                "warning",
                f"{len(registry.problems)} profile file(s) skipped: {listed}",
                {"skipped": [str(p.path) for p in registry.problems]},
            )
        )
    return checks


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _inotify_use() -> tuple[int | None, int | None]:
    """(instances, watches) held by this user's processes, or Nones when the scan is too slow."""
    uid = os.geteuid()
    instances = watches = 0
    deadline = time.monotonic() + _INOTIFY_SCAN_SECONDS
    try:
        entries = os.scandir("/proc")
    except OSError:
        return None, None
    with entries:
        for entry in entries:
            if time.monotonic() > deadline:
                return None, None
            if not entry.name.isdigit():
                continue
            try:
                if entry.stat().st_uid != uid:
                    continue
                fds = list(Path(f"/proc/{entry.name}/fd").iterdir())
            except OSError:
                continue  # gone, or not ours to look at
            for fd in fds:
                try:
                    if str(fd.readlink()) != "anon_inode:inotify":
                        continue
                    info = Path(f"/proc/{entry.name}/fdinfo/{fd.name}").read_text()
                except OSError:
                    continue
                instances += 1
                watches += sum(1 for line in info.splitlines() if line.startswith("inotify wd:"))
    return instances, watches


def _check_inotify() -> Check:
    max_watches = _read_int(INOTIFY_DIR / "max_user_watches")
    max_instances = _read_int(INOTIFY_DIR / "max_user_instances")
    details: dict[str, Any] = {
        "max_user_watches": max_watches,
        "max_user_instances": max_instances,
        "instances_in_use": None,
        "watches_in_use": None,
    }
    if max_watches is None or max_instances is None:
        return Check(
            "inotify",
            "inotify",
            "warning",
            "inotify limits are not readable here; `mzt watch` polls instead of waiting "
            "for file events",
            details,
        )
    instances, watches = _inotify_use()
    details.update(instances_in_use=instances, watches_in_use=watches)
    message = f"max_user_instances {max_instances}, max_user_watches {max_watches}"
    if instances is not None:
        message += f"; in use by you: {instances} instances, {watches} watches"
    exhausted = (instances is not None and instances >= max_instances) or (
        watches is not None and watches >= max_watches
    )
    if exhausted:
        message += (
            "; exhausted: `mzt watch` falls back to polling (raise fs.inotify.max_user_instances "
            "or max_user_watches with sysctl)"
        )
        return Check("inotify", "inotify", "warning", message, details)
    return Check("inotify", "inotify", "ok", message, details)


def _mount_type(folder: Path) -> str | None:
    """File system type of the mount holding ``folder`` (Linux ``/proc/self/mountinfo``)."""
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return None
    target = str(folder.resolve())
    best, best_len = None, -1
    for line in lines:
        left, _, right = line.partition(" - ")
        fields, rest = left.split(), right.split()
        if len(fields) < 5 or not rest:
            continue
        # Mount points escape spaces and the like as octal (\040).
        point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4])
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) > best_len:
            best, best_len = rest[0], len(point)
    return best


def _check_flock(folder: Path) -> Check:
    fs_type = _mount_type(folder)
    details: dict[str, Any] = {"path": str(folder), "fs_type": fs_type, "supported": None}
    try:
        fd, name = tempfile.mkstemp(prefix=".mzt-doctor-", suffix=".lock", dir=folder)
    except OSError as exc:
        return Check(
            "flock",
            "file locks",
            "warning",
            f"could not test locking in {folder}: {exc.strerror or exc} (workspaces need a "
            "writable folder on a local file system)",
            details,
        )
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
    except OSError as exc:
        details["supported"] = False
        return Check(
            "flock",
            "file locks",
            "problem",
            f"{folder} ({fs_type or 'unknown file system'}) does not support flock: "
            f"{exc.strerror or exc}; runs cannot lock their jobs there",
            details,
        )
    finally:
        os.close(fd)
        with contextlib.suppress(OSError):
            Path(name).unlink()
    details["supported"] = True
    where = f"{folder} ({fs_type})" if fs_type else str(folder)
    if fs_type and (fs_type in NETWORK_FILE_SYSTEMS or fs_type.startswith("fuse")):
        return Check(
            "flock",
            "file locks",
            "warning",
            f"{where}: flock works, but on a network or FUSE file system it may not exclude "
            "runs on other machines; keep workspaces on a local file system",
            details,
        )
    return Check("flock", "file locks", "ok", f"{where}: flock works", details)


# --- helpers --------------------------------------------------------------------------------


def _now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
