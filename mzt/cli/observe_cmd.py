"""The observing commands: status, list, watch.

Each parses its flags, asks :mod:`mzt.views.status` or :mod:`mzt.views.watch` for the data and
renders it. They read files only: no lock is taken and nothing is written, so they can run
as often as anyone likes beside a live run. Text that came from a child process (error
messages) goes through ``sanitize_terminal`` before it reaches a terminal.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from mzt.api import ExitCode, parse_moment
from mzt.cli import console
from mzt.cli.formatting import bar, clean, colored, duration, num_ranges, slurm_place, stamp
from mzt.cli.options import (
    complete_job,
    flag,
    json_option,
    quiet_option,
    verbose_option,
    workspace_option,
)
from mzt.cli.status_text import (
    LIST_STATUSES,
    _render_overview,
    _render_status,
    print_list,
    view_limits,
)

if TYPE_CHECKING:
    from mzt.api import WatchFrame


def _flush() -> None:
    sys.stdout.flush()


# --- status ----------------------------------------------------------------------------------


@click.command()
@click.argument("job", required=False, shell_complete=complete_job)
@workspace_option
@json_option
@verbose_option
@click.pass_context
def status(
    ctx: click.Context, job: str | None, workspace: Path | None, as_json: bool, verbose: bool
) -> int:
    """Show one job in detail, or every registered job at a glance.

    JOB is a job id or the score file. The view reads the job's files only: the run is
    never disturbed. Above 50 sheets the table shows one row per movement (-v: every
    sheet).

    \b
    Examples:
      mzt status
      mzt status nightly-review -w ./review-workspace
      mzt status score.yaml --json
    """
    from mzt import api

    verbose = flag(ctx, "verbose", verbose)
    if job is None:
        overview = api.overview_document()
        if as_json:
            console.emit_json(overview)
        else:
            _render_overview(overview)
        return ExitCode.OK
    # A terminal shows big jobs by movement, so it needs no per-sheet entries.
    sheets, movements = view_limits(as_json=as_json, verbose=verbose)
    document = api.job_status(job, workspace=workspace, sheet_limit=sheets, movement_rows=movements)
    if as_json:
        console.emit_json(document)
    else:
        _render_status(document, verbose=verbose)
    return ExitCode.OK


@click.command("list")
@click.option(
    "-s",
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(LIST_STATUSES),
    help="Only jobs in this status (repeatable).",
)
@click.option("-a", "--all", "show_all", is_flag=True, help="Include completed and cancelled jobs.")
@click.option(
    "-l",
    "--limit",
    type=click.IntRange(min=0),
    default=0,
    metavar="N",
    help="Only the newest N jobs (default 0: all).",
)
@click.option(
    "-w",
    "--workspace",
    type=click.Path(path_type=Path, file_okay=False),
    help="Only jobs in this workspace folder.",
)
@json_option
@quiet_option
@click.pass_context
def list_jobs(
    ctx: click.Context,
    statuses: tuple[str, ...],
    show_all: bool,
    limit: int,
    workspace: Path | None,
    as_json: bool,
    quiet: bool,
) -> int:
    """List registered jobs across workspaces, newest first.

    By default completed and cancelled jobs are left out. ALIVE is "live" while a run
    holds the job's lock, "dead" when the state says running but its run is gone.

    \b
    Examples:
      mzt list
      mzt list --all --json
      mzt list --status failed --status paused
    """
    from mzt import api

    document = api.list_document(statuses=statuses or None, include_all=show_all)
    jobs = document["jobs"]
    if workspace is not None:
        wanted = str(workspace.expanduser().resolve())
        jobs = [row for row in jobs if row["workspace"] == wanted]
    document["jobs"] = jobs[:limit] if limit else jobs
    if as_json:
        console.emit_json(document)
        return ExitCode.OK
    filtered = bool(show_all or statuses or workspace)
    print_list(document, filtered=filtered, quiet=flag(ctx, "quiet", quiet))
    return ExitCode.OK


# --- watch -----------------------------------------------------------------------------------


@click.command()
@click.argument("job", shell_complete=complete_job)
@workspace_option
@json_option
@quiet_option
@click.pass_context
def watch(
    ctx: click.Context,
    job: str,
    workspace: Path | None,
    as_json: bool,
    quiet: bool,
) -> int:
    """Follow a job live until it finishes, then exit as its run did.

    The view changes whenever the job's checkpoint or history changes. On a terminal it
    is redrawn in place; otherwise one line is printed per change; with --json, one JSON
    object per change. The exit status is the one `mzt run` gives for the final status:
    0 completed, 1 failed, 3 paused (or its run died), 4 cancelled. A job that is not
    running is shown once and the command exits at once. MZT_WATCH_POLL=1 makes it
    poll the files instead of waiting for change events.

    \b
    Examples:
      mzt watch nightly-review -w ./review-workspace
      mzt watch score.yaml --json | jq -c .progress
    """
    from mzt import api

    quiet = flag(ctx, "quiet", quiet)
    ref = api.find_watch_target(job, workspace=workspace)
    tty = not as_json and sys.stdout.isatty()
    drawn = 0
    last: WatchFrame | None = None
    for frame in api.watch_job(ref):
        last = frame
        if as_json:
            console.emit_json(frame.to_json())
        elif tty:
            drawn = _redraw(frame, drawn)
        elif not quiet or frame.final:
            console.out(_frame_line(frame))
        _flush()
    if last is None or not last.final:
        return ExitCode.OK
    return int(last.exit_code or 0)


def _frame_line(frame: WatchFrame) -> str:
    clock = frame.ts.astimezone().strftime("%H:%M:%S")
    percent = f" ({frame.completed / frame.total * 100:.0f}%)" if frame.total else ""
    parts = [f"{clock} {frame.job_id} {frame.status} {frame.completed}/{frame.total}{percent}"]
    if frame.failed:
        parts.append(f"failed {frame.failed}")
    if frame.running_sheets:
        parts.append(f"running sheet {num_ranges(list(frame.running_sheets))}")
    parts.extend(_slot_waits(frame))
    parts.extend(_slurm_jobs(frame))
    if frame.final:
        parts.append(f"finished (exit {frame.exit_code})")
        if frame.error_message and frame.status != "completed":
            parts.append(clean(frame.error_message, 200))
    return " · ".join(parts)


def _slot_waits(frame: WatchFrame) -> list[str]:
    """``sheet 3: waiting for a cli slot: 4/4 held by job a``, as the run's own output says."""
    return [
        clean(text, 200) if sheet is None else f"sheet {sheet}: {clean(text, 200)}"
        for sheet, _limit, text in frame.slot_waits
    ]


def _slurm_jobs(frame: WatchFrame) -> list[str]:
    """``sheet 3: Slurm job 812 RUNNING on node07``: where each running attempt is."""
    return [
        f"sheet {job.sheet_num}: Slurm {slurm_place(job.to_json())}" for job in frame.slurm_jobs
    ]


def _redraw(frame: WatchFrame, previous_lines: int) -> int:
    """Replace the last drawing with this frame; returns the lines drawn."""
    columns = shutil.get_terminal_size((100, 24)).columns
    started = parse_moment(frame.started_at)
    elapsed = (
        duration((frame.ts - started).total_seconds())
        if started and frame.status == "running"
        else ""
    )
    if frame.final:
        who = "finished"
    elif frame.alive:
        who = "running now" if frame.status == "running" else "its run is exiting"
    else:
        who = "not running"
    header = f"{console.style(frame.job_id, 'bold')} — {colored(frame.status)} ({who}"
    header += f", pid {frame.pid}" if frame.pid else ""
    header += f", {elapsed})" if elapsed else ")"
    percent = f" ({frame.completed / frame.total * 100:.0f}%)" if frame.total else ""
    lines = [
        header,
        f"{bar(frame.completed, frame.total)} {frame.completed}/{frame.total}{percent}"
        + (f", {frame.failed} failed" if frame.failed else ""),
        "running: "
        + (f"sheet {num_ranges(list(frame.running_sheets))}" if frame.running_sheets else "-"),
        *_slot_waits(frame),
        *_slurm_jobs(frame),
        f"updated {stamp(frame.updated_at)[11:] if frame.updated_at else '-'}"
        + (f" · {frame.event}" if frame.event else ""),
    ]
    if frame.final:
        lines.append(f"finished: exit {frame.exit_code}")
        if frame.error_message and frame.status != "completed":
            lines.append(clean(frame.error_message, columns - 1))
    if previous_lines:
        sys.stdout.write(f"\x1b[{previous_lines}F\x1b[J")
    for line in lines:
        console.out(line[: columns + 20])  # a little slack for colour codes
    sys.stdout.flush()
    return len(lines)


COMMANDS: list[click.Command] = [status, list_jobs, watch]
