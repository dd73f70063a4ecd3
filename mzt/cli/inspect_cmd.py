"""The inspecting commands: errors, diagnose, history.

Each parses its flags, asks :mod:`mzt.views.history` or :mod:`mzt.views.diagnose` for the
data and renders it (`mzt logs` lives in :mod:`mzt.cli.logs_cmd`). Every piece of text that
came from a child process goes through ``sanitize_terminal`` before it is printed, so an
agent's escape sequences can never drive the user's terminal.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from mzt.api import ExitCode
from mzt.cli import console
from mzt.cli.hook_text import hook_lines
from mzt.cli.options import complete_job, flag, json_option, workspace_option

if TYPE_CHECKING:
    from mzt.api import Diagnosis, ErrorEntry, ErrorsReport, HistoryReport

TAIL_LINES = 20  # lines of each output tail shown under an error
TIMELINE_LINES = 40  # timeline entries diagnose prints (JSON has more)
LOG_FILES_SHOWN = 30

# -b as upstream's (its -s means other things elsewhere).
sheet_option = click.option(
    "-b", "--sheet", type=click.IntRange(min=1), metavar="N", help="Only this sheet."
)


def _clean(text: str) -> str:
    from mzt.api import sanitize_terminal

    return sanitize_terminal(text)


def _when(moment: datetime | str | None) -> str:
    """``2026-05-01 10:00:00`` (UTC) from a datetime or an ISO string."""
    if moment is None:
        return "-"
    text = moment if isinstance(moment, str) else moment.isoformat()
    return text.replace("T", " ")[:19]


def _tail(label: str, text: str | None, indent: str, lines: int = TAIL_LINES) -> list[str]:
    """A labelled, indented, terminal-safe block with the last ``lines`` lines of ``text``."""
    if not text or not text.strip():
        return []
    body = _clean(text).rstrip("\n").split("\n")
    shown = body[-lines:]
    more = f", last {len(shown)} of {len(body)} lines" if len(body) > len(shown) else ""
    return [f"{indent}{label}{more}:"] + [f"{indent}  | {line}" for line in shown]


def _lines(lines: Iterable[str]) -> None:
    for line in lines:
        console.out(line)


# --- errors -------------------------------------------------------------------------------------


@click.command()
@click.argument("job", shell_complete=complete_job)
@sheet_option
@click.option("-c", "--code", metavar="CODE", help="Only errors with this code (e.g. E001).")
@click.option(
    "-t",
    "--type",
    "error_type",
    type=click.Choice(["transient", "rate_limit", "permanent"]),
    help="Only errors of this type.",
)
@click.option("-v", "-V", "--verbose", is_flag=True, help="Show the output tails too.")
@json_option
@workspace_option
@click.pass_context
def errors(
    ctx: click.Context,
    job: str,
    sheet: int | None,
    code: str | None,
    error_type: str | None,
    verbose: bool,
    as_json: bool,
    workspace: Path | None,
) -> int:
    """Errors of a job by sheet: code, category, message (and output tails with -v).

    JOB is a job id or the score file.

    \b
    Examples:
      mzt errors nightly-review
      mzt errors nightly-review --sheet 3 --code E009 -v
    """
    from mzt.api import errors_report, open_view

    view = open_view(job, workspace=workspace)
    report = errors_report(view, sheet=sheet, code=code, error_type=error_type)
    verbose = flag(ctx, "verbose", verbose)
    if as_json:
        console.emit_json(report.to_json(tails=verbose))
    else:
        _lines(errors_lines(report, verbose=verbose, filtered=bool(sheet or code or error_type)))
    return ExitCode.OK


def errors_lines(report: ErrorsReport, *, verbose: bool, filtered: bool) -> list[str]:
    """The human rendering of `mzt errors`."""
    if not report.errors:
        if filtered and report.total:
            return [f"{report.job_id}: no errors match ({report.total} in all)"]
        return [f"{report.job_id}: no errors"]
    count = len(report.errors)
    sheets = sorted({e.sheet_num for e in report.errors})
    lines = [
        f"{report.job_id} ({report.status}): {console.counted(count, 'error')} "
        f"in {console.counted(len(sheets), 'sheet')}"
    ]
    for num in sheets:
        lines.append(f"sheet {num}")
        for entry in (e for e in report.errors if e.sheet_num == num):
            lines.append(_error_line(entry, "  "))
            if verbose:
                lines += _tail("stdout", entry.stdout_tail, "    ")
                lines += _tail("stderr", entry.stderr_tail, "    ")
    return lines


_TYPE_COLOURS = {"permanent": "red", "rate_limit": "yellow", "transient": "dim"}


def _error_line(entry: ErrorEntry, indent: str) -> str:
    kind = entry.category or entry.error_type
    label = console.style(kind, _TYPE_COLOURS.get(entry.error_type, "dim"))
    message = _clean(entry.message).replace("\n", " ")
    attempt = f"attempt {entry.attempt}" if entry.attempt else "not run"
    return (
        f"{indent}{attempt}  {_when(entry.timestamp)}  "
        f"{entry.error_code or '-'}  {label}  {message}"
    )


# --- diagnose -----------------------------------------------------------------------------------


@click.command()
@click.argument("job", shell_complete=complete_job)
@click.option("--include-logs", is_flag=True, help="Add the last 50 lines of every attempt log.")
@click.option("--resources", is_flag=True, help="Add the run's memory and CPU, disk space, load.")
@json_option
@workspace_option
def diagnose(
    job: str, include_logs: bool, resources: bool, as_json: bool, workspace: Path | None
) -> int:
    """One report for a failed, stuck or dead job.

    Liveness and the lock holder, a timeline from the history, every error with its
    output tails, the log files, validation failures, rate-limit records, and the exact
    command that continues the job.

    \b
    Example:
      mzt diagnose nightly-review
    """
    from mzt import api

    report = api.diagnose(api.open_view(job, workspace=workspace))
    extra: dict[str, Any] = {}
    if include_logs:
        extra["log_tails"] = api.log_tails(report.logs)
    if resources:
        extra["resources"] = api.job_resources(report.view)
    if as_json:
        console.emit_json({**report.to_json(), **extra})
    else:
        _lines(diagnose_lines(report) + _extra_lines(extra))
    return ExitCode.OK


def _extra_lines(extra: dict[str, Any]) -> list[str]:
    """The --include-logs and --resources sections."""
    lines = []
    for item in extra.get("log_tails", []):
        name = Path(item["path"]).name
        lines += ["", f"Log {name} ({item['size']} bytes)"]
        lines += _tail("last lines", item["tail"], "  ", 50) or ["  (empty)"]
    found = extra.get("resources")
    if found is not None:
        proc = found["process"]
        lines += ["", "Resources"]
        if proc:
            lines.append(
                f"  run         pid {proc['pid']}: {_mib(proc['rss_bytes'])} resident, "
                f"{proc['cpu_seconds']:g}s CPU, {proc['threads']} threads; "
                f"{proc['children']} processes under it using {_mib(proc['children_rss_bytes'])}"
            )
        else:
            lines.append("  run         no live run on this host")
        for key, label in (("workspace_disk", "workspace"), ("home_disk", "MZT_HOME")):
            disk = found[key]
            if disk:
                lines.append(
                    f"  {label:<11} {_mib(disk['free_bytes'])} free of "
                    f"{_mib(disk['total_bytes'])} ({disk['path']})"
                )
        lines.append(
            f"  job files   {_mib(found['job_files_bytes'])} state and history, "
            f"{_mib(found['logs_bytes'])} logs"
        )
        if found["load_average"]:
            load = " ".join(f"{x:g}" for x in found["load_average"])
            lines.append(f"  load        {load} on {found['cpu_count']} CPUs")
    return lines


def _mib(count: int) -> str:
    return f"{count / (1 << 20):.1f} MiB"


def diagnose_lines(report: Diagnosis) -> list[str]:
    """The human rendering of `mzt diagnose`."""
    doc = report.to_json()
    holder = doc["liveness"]["holder"]
    who = (
        f"pid {holder['pid']} on {holder['host']}, started {holder['started_at'] or '?'}"
        if holder
        else "no process recorded"
    )
    verdicts = {
        "alive": f"running: the run lock is held by {who}",
        "dead": f"dead: {doc['liveness']['reason']}",
        "foreign": f"unknown: {doc['liveness']['reason']}",
        "idle": f"not running (last writer {who})",
    }
    progress = doc["progress"]
    counts = ", ".join(f"{k} {v}" for k, v in doc["sheets_by_status"].items())
    lines = [
        f"Job {doc['job_id']}: {doc['status']}",
        f"  workspace   {doc['workspace']}",
        f"  checkpoint  {doc['state_path']}",
        f"  score       {doc['score_path'] or 'unknown'}",
        f"  run         {verdicts.get(doc['liveness']['verdict'], '?')}",
        f"  progress    {progress['completed']}/{progress['total']} sheets completed "
        f"({progress['percent']:g}%); {counts or 'no sheets'}",
        f"  retries     {doc['total_retry_count']}; rate-limit waits {doc['rate_limit_waits']}; "
        f"quota waits {doc['quota_waits']}",
        f"  updated     {_when(doc['timing']['updated_at'])}",
    ]
    if doc["error_message"]:
        lines.append(f"  message     {_clean(doc['error_message'])}")
    for item in report.leftovers:
        lines.append(f"  leftover    {item.describe()} (the next run, resume or cancel stops it)")
    if report.slurm_attempts:
        from mzt.cli.status_text import slurm_text

        lines += [f"  slurm       {slurm_text(item)}" for item in report.slurm_attempts]
    if report.findings:
        lines += ["", "Findings"] + [f"  - {_clean(f)}" for f in report.findings]
    lines += _timeline_lines(report)
    if report.errors:
        lines += ["", f"Errors ({len(report.errors)})"]
        for entry in report.errors:
            lines.append(_error_line(entry, f"  sheet {entry.sheet_num} "))
            lines += _tail("stdout", entry.stdout_tail, "      ", 10)
            lines += _tail("stderr", entry.stderr_tail, "      ", 10)
    for failure in report.validation_failures:
        lines += ["", f"Validation failures of sheet {failure['sheet_num']} ({failure['status']})"]
        for detail in failure["details"]:
            what = detail.get("description") or detail.get("rule_type") or "validation"
            where = f" {detail['path']}" if detail.get("path") else ""
            why = detail.get("failure_reason") or detail.get("error_message") or "failed"
            fix = f" (fix: {detail['suggested_fix']})" if detail.get("suggested_fix") else ""
            lines.append(_clean(f"  - {what}{where}: {why}{fix}"))
    lines += hook_lines(doc, every=True)
    lines += _log_lines(report)
    if report.rate_limits:
        lines += ["", "Rate-limit records"]
        for record in report.rate_limits:
            state = f"active, {record['seconds_left']:g}s left" if record["active"] else "expired"
            mark = " (this job's instruments)" if record["affects_job"] else ""
            lines.append(
                f"  {record['instrument']}: until {record['limited_until']} ({state}){mark}, "
                f"set by {record['set_by_job']}: {_clean(record['reason'])}"
            )
    from mzt.cli.circuit_text import circuit_lines

    block = circuit_lines(report.circuits, verbose=True)
    lines += ["", *block] if block else []
    lines.append("")
    if report.next_command:
        lines.append(f"To continue: {report.next_command}")
    elif report.view.alive:
        lines.append(f"Follow it with: mzt logs {report.view.job_id} -f")
    else:
        lines.append("Nothing to continue.")
    return lines


def _timeline_lines(report: Diagnosis) -> list[str]:
    if not report.timeline:
        return ["", "Timeline: no history recorded"]
    shown = report.timeline[-TIMELINE_LINES:]
    earlier = len(report.timeline) - len(shown) + report.timeline_omitted
    title = f"Timeline (last {len(shown)}; {earlier} earlier)" if earlier else "Timeline"
    lines = ["", title]
    for entry in shown:
        where = f"sheet {entry.sheet_num}" if entry.sheet_num is not None else "job"
        if entry.attempt is not None:
            where += f" #{entry.attempt}"
        lines.append(f"  {_when(entry.ts)}  {where:<14} {entry.event:<22} {_clean(entry.detail)}")
    return lines


def _log_lines(report: Diagnosis) -> list[str]:
    if not report.logs:
        return ["", "Log files: none"]
    total = sum(f.size for f in report.logs)
    folder = report.logs[0].path.parent
    lines = ["", f"Log files ({len(report.logs)}, {total} bytes) in {folder}"]
    shown = sorted(report.logs, key=lambda f: f.modified)[-LOG_FILES_SHOWN:]
    for f in sorted(shown, key=lambda f: (f.sheet_num, f.attempt, f.stream)):
        lines.append(f"  {f.path.name:<32} {f.size:>9}  {_when(f.modified)}")
    if len(shown) < len(report.logs):
        lines.append(f"  … {len(report.logs) - len(shown)} older files")
    return lines


# --- history ------------------------------------------------------------------------------------


@click.command()
@click.argument("job", shell_complete=complete_job)
@sheet_option
@click.option(
    "-n",
    "--limit",
    type=click.IntRange(min=0),
    metavar="N",
    default=50,
    show_default=True,
    help="Show the newest N attempts (0: all).",
)
@json_option
@workspace_option
def history(job: str, sheet: int | None, limit: int, as_json: bool, workspace: Path | None) -> int:
    """Attempt records of a job from its history file, newest last.

    \b
    Example:
      mzt history nightly-review --sheet 2
    """
    from mzt.api import history_report, open_view

    report = history_report(open_view(job, workspace=workspace), sheet=sheet, limit=limit)
    if as_json:
        console.emit_json(report.to_json())
    else:
        _lines(history_lines(report))
    return ExitCode.OK


def history_lines(report: HistoryReport) -> list[str]:
    """The human rendering of `mzt history`."""
    if not report.attempts:
        return [f"{report.job_id}: no attempts recorded"]
    rows = []
    for a in report.attempts:
        duration = f"{a.duration_seconds:.1f}s" if a.duration_seconds is not None else "-"
        exit_code = "-" if a.exit_code is None else str(a.exit_code)
        rows.append(
            [
                str(a.sheet_num),
                str(a.attempt),
                _when(a.started_at or a.finished_at),
                duration,
                exit_code,
                a.instrument or "-",
                a.outcome,
                a.error_code or "",
            ]
        )
    headers = ["SHEET", "ATTEMPT", "STARTED (UTC)", "DURATION", "EXIT", "INSTRUMENT"]
    lines = console.table(rows, [*headers, "OUTCOME", "ERROR"])
    if report.total > len(report.attempts):
        lines.append(f"({len(report.attempts)} newest of {report.total}; -n 0 shows all)")
    return lines


COMMANDS: list[click.Command] = [errors, diagnose, history]
