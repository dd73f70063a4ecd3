"""Pause and cancel requests from any shell, and waiting for a run to act on them.

There is no daemon to ask, so every request goes through the files a run watches
(the files described in `man mzt`, FILES):

* **pause** creates ``<ws>/.marianne-pause-<job>``; the run stops at its next sheet
  boundary, saves the job paused and exits 3. Only a running job can be paused.
* **cancel** creates ``<ws>/.marianne-cancel-<job>`` for a running job (the run kills its
  attempts, saves the job cancelled and exits 4). A job with no run — paused, failed, or
  dead (its state says running but nobody holds the lock) — is marked cancelled here,
  directly, while holding the job's run lock, so no run can start half-way through. A
  job another host marks running is refused, unless taken over (``take_over``): then it
  is marked cancelled directly too, and the take-over recorded.

Nothing here prints; the command line renders the results. Problems the user can act on
are raised as :class:`~mzt.support.errors.MztError` subclasses with their exit codes:

========================  ====  ==================================================
situation                 exit  error
========================  ====  ==================================================
pause of a job not running  2   :class:`~mzt.support.errors.UsageError`
cancel of a completed job   2   :class:`~mzt.support.errors.UsageError`
another host's run, cancel  75  :class:`~mzt.support.errors.ForeignHostError`
signal file path in use     2   :class:`SignalFileError` (a symlink or foreign file)
``--wait`` timed out        1   :class:`WaitTimeoutError` (the request stays in place)
========================  ====  ==================================================
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from mzt.execute.base import Leftover
from mzt.execute.leftovers import stop_leftovers
from mzt.state import CheckpointState, JobStatus, JsonStateBackend
from mzt.state.registry import JobLocation
from mzt.state.takeover import foreign_error, is_foreign, record_take_over
from mzt.state.writer import TakeOver
from mzt.support import paths, records
from mzt.support.errors import JobLockedError, JobNotFoundError, MztError, UsageError
from mzt.support.exitcodes import ExitCode
from mzt.support.fsutil import is_own_regular_file, open_nofollow
from mzt.views.lookup import JobView, open_job

DEFAULT_WAIT_TIMEOUT = 60.0
DEFAULT_POLL = 0.25

# Where a run can end up once it has stopped: what `pause --wait` and `cancel --wait` wait for.
STOPPED_STATUSES = frozenset(
    {JobStatus.PAUSED, JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED}
)


class SignalFileError(UsageError):
    """Something that is not our own regular file sits where a pause/cancel file goes."""

    code = "SIGNAL_FILE"


class WaitTimeoutError(MztError):
    """``--wait`` gave up: the job is still running; the request file stays in place."""

    exit_code = ExitCode.FAILED
    code = "WAIT_TIMEOUT"


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
    A job that is not running raises :class:`~mzt.support.errors.UsageError` (exit 2).
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


@records.record(frozen=True)
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
    # Attempts of a dead run found still alive and stopped (cancelled directly only).
    stopped: tuple[Leftover, ...] = ()
    taken_over: TakeOver | None = None  # the run another host marked running, taken over


def request_cancel(view: JobView, *, take_over: bool = False) -> CancelOutcome:
    """Cancel the job: a request file for a running job, a direct mark for one without a run.

    A paused, failed, pending or dead job is marked cancelled under its run lock, and
    stale pause/cancel files are removed. If a run takes the lock in the meantime, the
    request file is created instead. A completed job raises
    :class:`~mzt.support.errors.UsageError` (exit 2): there is nothing left to cancel. An already
    cancelled job is reported as such (not an error: cancelling twice is harmless). A job
    another host marks running raises :class:`~mzt.support.errors.ForeignHostError` (exit 75)
    and is left as it is, unless ``take_over``: then it is cancelled directly like a dead one.
    """
    previous = view.status
    foreign = is_foreign(view.liveness)
    if foreign and not take_over:
        state_path = paths.state_file(view.workspace, view.job_id)
        raise foreign_error(view.state, view.liveness, state_path)
    if is_running(view) and not foreign:
        path = _create_signal_file(paths.cancel_file(view.workspace, view.job_id), "cancel")
        return CancelOutcome("requested", view.job_id, view.workspace, previous, previous, path)
    _refuse_completed(view.job_id, previous)
    try:
        return _cancel_directly(view.location, previous, take_over=take_over)
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


def _cancel_directly(location: JobLocation, seen: JobStatus, *, take_over: bool) -> CancelOutcome:
    store = JsonStateBackend(location.workspace, allow_foreign_host=take_over)
    try:
        with store.run_lock(location.job_id):
            # Read again under the lock: the state may have moved since `seen` was read.
            state = store.load_for_run(location.job_id, command="cancel")
            if state is None:
                raise JobNotFoundError(location.job_id, [str(store.state_path(location.job_id))])
            previous = seen if store.taken_over else state.status
            _refuse_completed(location.job_id, previous)
            # Whatever the dead run left running goes first, whatever the status says.
            stopped = tuple(stop_leftovers(state))
            taken = store.taken_over
            if taken is not None:
                state.taken_over = taken
            if previous != JobStatus.CANCELLED:
                reason = f"cancelled by `mzt cancel` while {previous.value}"
                if taken is not None:
                    reason += f" on {taken.from_host}; {taken.describe()}"
                elif state.error_message:
                    reason += f" (before that: {state.error_message})"
                state.mark_job_cancelled(reason)
                state.sheets_in_progress = []
                store.save(state)
                if taken is not None:
                    record_take_over(store, state, taken)
                store.record_event(state, "cancelled", reason=reason, by="mzt cancel")
            elif stopped:
                store.save(state)
            for item in stopped:
                store.record_event(state, item.event, detail=item.describe())
            _remove_stale_signals(location.workspace, location.job_id)
    finally:
        store.close()
    action: CancelAction = "cancelled" if previous != JobStatus.CANCELLED else "already_cancelled"
    return CancelOutcome(
        action,
        location.job_id,
        location.workspace,
        seen,
        state.status,
        state=state,
        stopped=stopped,
        taken_over=taken,
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
    view: JobView,
    *,
    timeout: float = DEFAULT_WAIT_TIMEOUT,
    poll: float = DEFAULT_POLL,
    take_over: bool = False,
) -> CancelOutcome:
    """`request_cancel` (``take_over`` as there), and for a running job wait until its run
    has stopped.

    If the run stopped some other way before it saw the request (paused or failed), the
    job is then marked cancelled directly; if it completed first, our leftover request is
    removed and :class:`~mzt.support.errors.UsageError` (exit 2) says so.
    """
    first = request_cancel(view, take_over=take_over)
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
    settled = request_cancel(final, take_over=take_over)
    return CancelOutcome(
        settled.action,
        final.job_id,
        final.workspace,
        first.previous_status,
        settled.status,
        first.signal_file,
        settled.state,
    )


# --- helpers --------------------------------------------------------------------------------


def _now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
