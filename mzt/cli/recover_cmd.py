"""`mzt recover`: validate failed sheets again without running them (`mzt.run.recovery`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from mzt.cli import console
from mzt.cli.options import complete_job, json_option, take_over_option, workspace_option

if TYPE_CHECKING:
    from mzt.api import RecoveryReport


@click.command()
@click.argument("job", shell_complete=complete_job)
@click.option(
    "-s",
    "--sheet",
    type=click.IntRange(min=1),
    metavar="N",
    help="Only this failed sheet (default: every failed sheet).",
)
@click.option("-n", "--dry-run", is_flag=True, help="Check and report; change nothing.")
@take_over_option
@json_option
@workspace_option
def recover(
    job: str,
    sheet: int | None,
    dry_run: bool,
    take_over: bool,
    as_json: bool,
    workspace: Path | None,
) -> int:
    """Check failed sheets again without running their instrument.

    Runs the validations of the job's failed sheets (all, or --sheet N) as an attempt
    would; a sheet whose validations now pass becomes completed, the others stay failed
    with the new results. Once every sheet is done the job is completed. Takes the job's
    run lock: a running job is refused (exit 75). JOB is a job id or the score file.

    \b
    Exit status:
      0  every sheet checked passes (or none had failed)
      1  some sheets still fail their validations
      2  no such job or sheet, or the sheet is not failed
      75 the job is running (here, or on another host: see --take-over)
    \b
    Example:
      mzt recover nightly-review --sheet 3 --dry-run
    """
    from mzt.api import recover_job

    report = recover_job(
        job, workspace=workspace, sheet=sheet, dry_run=dry_run, take_over=take_over
    )
    if as_json:
        console.emit_json(report.to_json())
    else:
        for line in recover_lines(report):
            console.out(line)
    return report.exit_code


def recover_lines(report: RecoveryReport) -> list[str]:
    """The human rendering of `mzt recover`."""
    from mzt.api import sanitize_terminal

    resume = f"continue it with `mzt resume {report.job_id} -w {report.workspace}`"
    if not report.sheets:
        lines = [f"{report.job_id} ({report.status}): no failed sheets to recover"]
        return [*lines, resume] if report.waiting else lines
    would = "would be " if report.dry_run else ""
    lines = []
    for item in report.sheets:
        checks = f"{item.passed}/{item.total} validations pass"
        if item.recovered:
            lines.append(f"sheet {item.sheet_num}: {checks}: {would}completed")
            continue
        lines.append(f"sheet {item.sheet_num}: {item.reason or checks}: stays failed")
        lines += [f"  - {sanitize_terminal(text)}" for text in item.failures]
    change = (
        f"{report.previous_status} -> {report.status}"
        if report.status != report.previous_status
        else report.status
    )
    lines.append(f"job {report.job_id}: {change}{' (dry run: nothing changed)' * report.dry_run}")
    if report.status != "completed" and (report.waiting or not report.still_failed):
        lines.append(resume)
    if report.hooks_held:
        fires = "would fire" if report.dry_run else "fires"
        lines.append(
            f"its {report.hooks_held} on_success hook(s) have not run: "
            f"`mzt resume {report.job_id} -w {report.workspace}` {fires} them"
        )
    return lines
