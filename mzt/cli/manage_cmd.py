"""`mzt pause`, `mzt cancel`, `mzt clear` and `mzt doctor`: steering and housekeeping.

The work happens in `mzt.views.steering`, `mzt.views.clearing` and `mzt.views.doctor`;
these commands parse flags, call them and render.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from mzt.api import ExitCode
from mzt.cli import console
from mzt.cli.options import complete_job, json_option, take_over_option, workspace_option

if TYPE_CHECKING:
    from mzt.api import CancelOutcome, ClearReport, DoctorReport, JobView


def _wait_options(func: Any) -> Any:
    func = click.option(
        "-t",
        "--timeout",
        type=click.FloatRange(min=0, min_open=True),
        default=None,
        metavar="S",
        help="Give up waiting after S seconds (default 60; implies --wait).",
    )(func)
    return click.option(
        "--wait", is_flag=True, help="Block until the run has stopped (polls the checkpoint)."
    )(func)


def _progress(view: JobView) -> dict[str, int]:
    done, total = view.state.get_progress()
    return {"completed": done, "total": total}


def _resume_command(job_id: str, workspace: Path) -> str:
    return f"mzt resume {job_id} -w {workspace}"


@click.command()
@click.argument("job", shell_complete=complete_job)
@_wait_options
@click.option("--force", is_flag=True, help="Stop the running attempts now (SIGTERM the run).")
@json_option
@workspace_option
def pause(
    job: str, wait: bool, timeout: float | None, force: bool, as_json: bool, workspace: Path | None
) -> int:
    """Ask a running job to pause at its next sheet boundary.

    Creates the pause file `<workspace>/.marianne-pause-<job>` (what `touch` would do);
    the run finishes the sheets it is running, saves the job paused and exits 3. JOB is a
    job id or the score file.

    \b
    Exit status:
      0  pause requested (with --wait: the run has stopped, paused or finished)
      1  --wait timed out; the request stays in place
      2  the job is not running, or cannot be found
      5  the checkpoint is unreadable (left untouched)
    \b
    Example:
      mzt pause nightly-review --wait --timeout 120
    \b
    --force also sends the run SIGTERM: it stops its attempts at once, puts their sheets
    back to pending (no budget spent), saves the job paused and exits 143.
    """
    from mzt import api
    from mzt.api import read_job

    view = read_job(job, workspace=workspace)
    wait = wait or timeout is not None
    path = api.force_pause(view) if force else api.request_pause(view)
    final = view
    if wait:
        final = api.wait_for_status(
            view.location,
            api.STOPPED_STATUSES,
            timeout if timeout is not None else api.DEFAULT_WAIT_TIMEOUT,
        )
    resume = _resume_command(view.job_id, view.workspace)
    if as_json:
        console.emit_json(
            {
                "schema": "mzt.pause/1",
                "job_id": view.job_id,
                "workspace": str(view.workspace),
                "requested": True,
                "signal_file": str(path),
                "waited": wait,
                "status": final.status.value,
                "alive": final.alive,
                "progress": _progress(final),
                "resume_command": resume,
            }
        )
        return ExitCode.OK
    if not wait:
        how = (
            "its running attempts stop now" if force else "it stops after the sheets it is running"
        )
        console.out(f"pause requested for {view.job_id}: {how} ({path})")
        console.out(f"continue it later with `{resume}`")
    elif final.status.value == "paused":
        done = _progress(final)
        console.out(f"{view.job_id} paused ({done['completed']}/{done['total']} sheets done)")
        console.out(f"continue it with `{resume}`")
    else:
        console.out(f"{view.job_id} stopped before it could pause: {final.status.value}")
    return ExitCode.OK


@click.command()
@click.argument("job", shell_complete=complete_job)
@_wait_options
@take_over_option
@json_option
@workspace_option
def cancel(
    job: str,
    wait: bool,
    timeout: float | None,
    take_over: bool,
    as_json: bool,
    workspace: Path | None,
) -> int:
    """Cancel a job: stop its run, or mark it cancelled when nothing runs it.

    A running job gets the cancel file `<workspace>/.marianne-cancel-<job>`: its run kills
    the attempts in flight (and their children), saves the job cancelled and exits 4. A
    paused, failed or dead job (its run was killed) is marked cancelled at once, under its
    run lock. A job another host marks running is left alone (exit 75) unless --take-over:
    then it is marked cancelled here, and the take-over recorded. Cancelled sheets run
    again on `mzt resume`. JOB is a job id or the score file.

    \b
    Exit status:
      0  cancel requested, or the job is (already) cancelled
      1  --wait timed out; the request stays in place
      2  the job is completed (nothing to cancel), or cannot be found
      5  the checkpoint is unreadable (left untouched)
      75 another host marks the job running (pass --take-over once that run is gone)
    \b
    Example:
      mzt cancel nightly-review --wait
    """
    from mzt import api
    from mzt.api import read_job

    view = read_job(job, workspace=workspace)
    wait = wait or timeout is not None
    if wait:
        outcome = api.cancel_and_wait(
            view,
            timeout=timeout if timeout is not None else api.DEFAULT_WAIT_TIMEOUT,
            take_over=take_over,
        )
    else:
        outcome = api.request_cancel(view, take_over=take_over)
    if as_json:
        console.emit_json(_cancel_json(outcome, wait))
        return ExitCode.OK
    if outcome.taken_over is not None:
        console.out(f"{outcome.job_id}: {outcome.taken_over.describe()}")
    for item in outcome.stopped:
        console.out(f"{item.what_was_done()} of the run that died: {item.describe()}")
    if outcome.action == "requested":
        console.out(
            f"cancel requested for {outcome.job_id}: its run stops the sheets in flight "
            f"and exits ({outcome.signal_file})"
        )
    elif outcome.action == "already_cancelled":
        console.out(f"{outcome.job_id} is already cancelled")
    elif outcome.previous_status.value == "running":
        console.out(f"{outcome.job_id} cancelled")
    else:
        console.out(f"{outcome.job_id} cancelled (it was {outcome.previous_status.value})")
    if outcome.action != "requested":
        console.out(f"run it again with `{_resume_command(outcome.job_id, outcome.workspace)}`")
    return ExitCode.OK


def _cancel_json(outcome: CancelOutcome, waited: bool) -> dict[str, Any]:
    progress = None
    if outcome.state is not None:
        done, total = outcome.state.get_progress()
        progress = {"completed": done, "total": total}
    return {
        "schema": "mzt.cancel/1",
        "job_id": outcome.job_id,
        "workspace": str(outcome.workspace),
        "action": outcome.action,
        "previous_status": outcome.previous_status.value,
        "status": outcome.status.value,
        "signal_file": str(outcome.signal_file) if outcome.signal_file else None,
        "waited": waited,
        "progress": progress,
        "stopped_attempts": [item.to_json() for item in outcome.stopped],
        "taken_over": outcome.taken_over.model_dump() if outcome.taken_over else None,
    }


@click.command()
@click.option(
    "--job",
    "job",
    metavar="JOB",
    help="Only this job: an id (in every workspace) or a score file (its workspace).",
)
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(["completed", "failed", "cancelled"]),
    help="Only jobs with this status (repeatable; default: all three).",
)
@click.option(
    "--older-than",
    metavar="DURATION",
    help="Only jobs last updated at least this long ago: 30m, 12h, 7d, 2w…",
)
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@take_over_option
@json_option
def clear(
    job: str | None,
    statuses: tuple[str, ...],
    older_than: str | None,
    yes: bool,
    take_over: bool,
    as_json: bool,
) -> int:
    """Delete the files of finished jobs and forget registry records that point nowhere.

    Removes the checkpoint, history, logs, outputs, Slurm attempt folders, lock file and
    registry record of completed, failed and cancelled jobs, found through the registry
    and in ./.marianne/. A job whose run is alive is never touched, nor a paused one, nor
    one another host marks running: `--job JOB --take-over` clears that one. Asks before
    deleting when stdin is a terminal; otherwise -y is required.

    \b
    Exit status:
      0  done (or nothing to clear)
      1  you declined, or some files could not be removed
      2  bad option, or confirmation needed and stdin is not a terminal (pass -y)
      5  the job --job names has an unusable checkpoint (left untouched)
      75 the job named by --job is marked running by another host (see --take-over)
    \b
    Examples:
      mzt clear --status completed --older-than 7d
      mzt clear --job nightly-review -y
    """
    from mzt import api
    from mzt.api import UsageError

    age = api.parse_duration(older_than) if older_than is not None else None
    where = None
    if job is not None and Path(job).suffix in (".yaml", ".yml") and Path(job).is_file():
        from mzt.api import locate_job as locate

        found = locate(job)
        job, where = found.job_id, found.workspace

    def select(dry_run: bool) -> ClearReport:
        return api.clear_jobs(
            job=job,
            workspace=where,
            statuses=statuses,
            older_than=age,
            dry_run=dry_run,
            take_over=take_over,
        )

    named = job is not None
    if not yes:
        preview = select(dry_run=True)
        if preview.empty:
            return _clear_done(preview, as_json, named=named)
        if not sys.stdin.isatty():
            if not as_json:
                _clear_lines(preview)
            names = ", ".join(j.job_id for j in preview.removed[:5])
            more = "…" if len(preview.removed) > 5 else ""
            listed = f" ({names}{more})" if names else ""
            raise UsageError(
                f"Not removing anything: {_clear_count(preview)}{listed} would be removed, "
                "and confirmation cannot be asked because stdin is not a terminal.",
                hint="Pass -y/--yes to clear without asking.",
            )
        _clear_lines(preview, stream=sys.stderr if as_json else None)
        if not click.confirm(f"Remove {_clear_count(preview)}?", default=False, err=True):
            raise api.DeclinedError("Nothing was removed.")
    report = select(dry_run=False)
    return _clear_done(report, as_json, named=named)


def _clear_count(report: ClearReport) -> str:
    parts = []
    if report.removed:
        n = len(report.removed)
        parts.append(f"{n} job{'s' if n != 1 else ''}")
    if report.pruned:
        n = len(report.pruned)
        parts.append(f"{n} dead registry record{'s' if n != 1 else ''}")
    return " and ".join(parts) or "nothing"


def _clear_lines(report: ClearReport, stream: Any = None, *, refused: bool = False) -> None:
    out = stream or sys.stdout
    verb = "would remove" if report.dry_run else "removed"
    prune = "would prune" if report.dry_run else "pruned"
    for job_id, item in report.stopped:
        out.write(f"{item.what_was_done()} of {job_id}'s run that died: {item.describe()}\n")
    for job in report.removed:
        size = _size(job.bytes)
        status = job.status
        if job.taken_over_from:
            status += f" on {job.taken_over_from}, taken over"
        out.write(f"{verb}: {job.job_id} ({status}, {size}) in {job.workspace}\n")
    for record in report.pruned:
        out.write(f"{prune}: {record.job_id} record ({record.reason}: {record.workspace})\n")
    for passed in report.skipped:
        if not (refused and passed.refusal):  # those are said as the error
            out.write(f"skipped: {passed.job_id} in {passed.workspace}: {passed.reason}\n")
    for failed in report.failed:
        out.write(f"could not remove: {failed.job_id} in {failed.workspace}: {failed.reason}\n")


def _clear_done(report: ClearReport, as_json: bool, *, named: bool) -> int:
    """Say what was done; a job named by --job that another host marks running is an error
    (exit 75) said after the rest, which was done all the same, and one whose checkpoint
    cannot even be judged is an error (exit 5) instead of a report."""
    unusable = [s.error for s in report.skipped if s.error is not None]
    if named and report.empty and not report.failed and unusable:
        raise unusable[0]
    refusals = [s.refusal for s in report.skipped if s.refusal] if named else []
    code = ExitCode.FAILED if report.failed else ExitCode.OK
    if as_json:
        if refusals:
            raise refusals[0]
        console.emit_json({"schema": "mzt.clear/1", **report.to_json()})
        return code
    if report.empty and not report.skipped and not report.failed:
        console.out("nothing to clear")
        return code
    _clear_lines(report, refused=bool(refusals))
    if refusals:
        raise refusals[0]
    return code


def _size(count: int) -> str:
    size = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{count} B"


@click.command()
@json_option
def doctor(as_json: bool) -> int:
    """Check that this machine can run scores, and say what to fix.

    Reports Python and package versions, MZT_HOME and its permissions, each instrument's
    program on PATH and the environment variables it reads (names and whether they are
    set, never their values), inotify limits (used by `mzt watch`) and whether the
    current folder's file system supports the locks runs take.

    \b
    Exit status:
      0  no problem found (warnings allowed)
      1  at least one problem
    """
    from mzt.api import doctor as check_installation

    report = check_installation()
    code = ExitCode.FAILED if report.verdict == "problem" else ExitCode.OK
    if as_json:
        console.emit_json({"schema": "mzt.doctor/1", **report.to_json()})
        return code
    _doctor_lines(report)
    return code


_MARKS = {"ok": ("ok", "green"), "warning": ("warning", "yellow"), "problem": ("problem", "red")}


def _doctor_lines(report: DoctorReport) -> None:
    for check in report.checks:
        word, colour = _MARKS[check.verdict]
        mark = console.style(word.ljust(7), colour)
        console.out(f"{mark}  {check.area:<11} {check.message}")
    warnings, problems = report.count("warning"), report.count("problem")
    console.out()
    console.out(
        f"{problems} problem{'s' if problems != 1 else ''}, "
        f"{warnings} warning{'s' if warnings != 1 else ''}"
    )


COMMANDS: list[click.Command] = [pause, cancel, clear, doctor]
