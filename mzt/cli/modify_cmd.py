"""`mzt modify`: check a new score, pause the job, and continue it with the new score.

The steps are the library's own: `check_modification` (nothing is touched when the new
score cannot continue the job), `request_pause` and `wait_for_status` (the pause file a
person could `touch`), then `resume_job` with the new score in this process, exactly as
`mzt resume JOB -c NEW.yaml` runs it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from mzt.api import ExitCode
from mzt.cli import console
from mzt.cli.options import (
    complete_job,
    flag,
    json_option,
    quiet_option,
    take_over_option,
    workspace_option,
)

if TYPE_CHECKING:
    from mzt.api import Modification, RunResult


@click.command()
@click.argument("job", shell_complete=complete_job)
@click.option(
    "-c",
    "--config",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="The new score (same job name, same number of sheets).",
)
@click.option("-r", "--resume", "resume", is_flag=True, help="Continue the job with it now, here.")
@click.option("--wait", is_flag=True, help="Wait until a running job has paused.")
@click.option(
    "-t",
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    metavar="S",
    help="Give up waiting after S seconds (default 60).",
)
@take_over_option
@json_option
@quiet_option
@workspace_option
@click.pass_context
def modify(
    ctx: click.Context,
    job: str,
    config: Path,
    resume: bool,
    wait: bool,
    timeout: float | None,
    take_over: bool,
    as_json: bool,
    quiet: bool,
    workspace: Path | None,
) -> int:
    """Continue a job with a new version of its score.

    The new score is checked first (an invalid one, another job's, or one with another
    number of sheets changes nothing: exit 2). A running job is asked to pause (its pause
    file); --wait waits until it has. With --resume the job then continues here with the
    new score, as `mzt resume JOB -c NEW.yaml` would (waiting for the pause first);
    without it the command that does so is printed.

    \b
    Exit status:
      0  checked (and paused, or pause requested); with --resume: the run's code
      1  --wait timed out (the pause request stays in place)
      2  invalid new score, another job, another sheet count, or nothing to continue
      75 another host marks the job running (see --take-over)
    \b
    Examples:
      mzt modify nightly-review -c review-v2.yaml --wait
      mzt modify nightly-review -c review-v2.yaml --resume
    """
    from mzt import api

    plan = api.check_modification(job, config=config, workspace=workspace, take_over=take_over)
    view = api.read_job(plan.job_id, workspace=plan.workspace)
    # A run another host marks running is being taken over: it is not asked to pause.
    running = view.alive is True and not plan.foreign
    if running:
        api.request_pause(view)
    waited = running and (wait or resume or timeout is not None)
    if waited:
        limit = timeout if timeout is not None else api.DEFAULT_WAIT_TIMEOUT
        view = api.wait_for_status(view.location, api.STOPPED_STATUSES, limit)
    if not resume:
        return _report(plan, view.status.value, running, waited, None, as_json=as_json)
    quiet = flag(ctx, "quiet", quiet)
    if not as_json and not quiet:
        console.out(f"{plan.job_id}: continuing with {plan.config}")
    from mzt.cli.outcome import reporter_for

    with reporter_for(as_json, quiet) as reporter:
        result = api.resume_job(
            plan.job_id,
            workspace=plan.workspace,
            config=plan.config,
            take_over=take_over,
            reporter=reporter,
        )
    if as_json:
        return _report(plan, result.status, running, waited, result, as_json=True)
    from mzt.cli.outcome import finish_run

    return finish_run(result, as_json=False, quiet=quiet)


def _report(
    plan: Modification,
    status: str,
    running: bool,
    waited: bool,
    result: RunResult | None,
    *,
    as_json: bool,
) -> int:
    if as_json:
        from mzt.cli.outcome import run_document

        console.emit_json(
            {
                "schema": "mzt.modify/1",
                "job_id": plan.job_id,
                "workspace": str(plan.workspace),
                "config": str(plan.config),
                "total_sheets": plan.total_sheets,
                "previous_status": plan.status,
                "status": status,
                "pause_requested": running,
                "waited": waited,
                "resumed": result is not None,
                "resume_command": plan.resume_command,
                "run": run_document(result) if result is not None else None,
            }
        )
        return result.exit_code if result is not None else ExitCode.OK
    console.out(f"{plan.config}: valid, {plan.total_sheets} sheets, job {plan.job_id}")
    if running and not waited:
        console.out(f"pause requested: {plan.job_id} stops after the sheets it is running")
        console.out(f"once it has paused, continue it with `{plan.resume_command}`")
    else:
        console.out(f"{plan.job_id} is {status}; continue it with `{plan.resume_command}`")
    return ExitCode.OK
