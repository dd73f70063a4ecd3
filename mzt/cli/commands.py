"""The score commands: validate, run (dry run so far), init."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import TYPE_CHECKING

import click

from mzt.api import ExitCode
from mzt.cli import console, render
from mzt.cli.options import (
    complete_instrument,
    complete_job,
    executor_option,
    flag,
    json_option,
    no_queue_option,
    quiet_option,
    score_argument,
    take_over_option,
    verbose_option,
    workspace_option,
)
from mzt.cli.outcome import finish_run, reporter_for

if TYPE_CHECKING:
    from mzt.api import PreparedScore, RunRefused


@click.command()
@click.argument("job", shell_complete=complete_job)
@workspace_option
@click.option(
    "-c",
    "--config",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Score to continue with (default: the file the job was started with).",
)
@click.option("--no-reload", is_flag=True, help="Use the score stored in the checkpoint.")
@click.option("-f", "--force", is_flag=True, help="Run a completed job again from the start.")
@take_over_option
@no_queue_option
@executor_option
@json_option
@quiet_option
@click.pass_context
def resume(
    ctx: click.Context,
    job: str,
    workspace: Path | None,
    config: Path | None,
    no_reload: bool,
    force: bool,
    take_over: bool,
    no_queue: bool,
    executor: str | None,
    as_json: bool,
    quiet: bool,
) -> int:
    """Continue a paused, failed, cancelled or interrupted job.

    JOB is a job id or the score file. Failed, cancelled, interrupted and blocked sheets
    run again with fresh budgets; sheets skipped on purpose stay skipped. A job another
    host marks running is refused (exit 75) unless --take-over: then it goes on here as
    after a dead run (never signalling that host's processes), and the take-over is
    recorded. A run holding the job's lock on this machine always wins (exit 75).

    \b
    Example:
      mzt resume nightly-review -w ./review-workspace
    """
    from mzt import api

    quiet = flag(ctx, "quiet", quiet)
    with reporter_for(as_json, quiet) as reporter:
        result = api.resume_job(
            job,
            workspace=workspace,
            config=config,
            reload=not no_reload,
            force=force,
            take_over=take_over,
            no_queue=no_queue,
            executor=executor,
            reporter=reporter,
        )
    return finish_run(result, as_json=as_json, quiet=quiet)


@click.command()
@score_argument
@workspace_option
@json_option
@verbose_option
@quiet_option
@click.pass_context
def validate(
    ctx: click.Context,
    score: Path,
    workspace: Path | None,
    as_json: bool,
    verbose: bool,
    quiet: bool,
) -> int:
    """Check a score without running it.

    Exit status 0 when the score can run (warnings allowed), 2 when it cannot.

    \b
    Example:
      mzt validate examples/hello.yaml -v
    """
    from mzt.cli.validation import check, show

    verbose, quiet = flag(ctx, "verbose", verbose), flag(ctx, "quiet", quiet)
    checked = check(score, workspace=workspace, verbose=verbose)
    return show(checked, as_json=as_json, verbose=verbose, quiet=quiet)


@click.command()
@score_argument
@workspace_option
@click.option("--fresh", is_flag=True, help="Discard the job's previous state and start over.")
@click.option("-s", "--start-sheet", type=click.IntRange(min=1), help="Start at sheet N.")
@click.option("-n", "--dry-run", is_flag=True, help="Show the plan; run nothing, write nothing.")
@click.option(
    "--instrument",
    help="Run every sheet on this instrument instead.",
    shell_complete=complete_instrument,
)
@take_over_option
@no_queue_option
@executor_option
@json_option
@quiet_option
@click.pass_context
def run(
    ctx: click.Context,
    score: Path,
    workspace: Path | None,
    fresh: bool,
    start_sheet: int | None,
    dry_run: bool,
    instrument: str | None,
    take_over: bool,
    no_queue: bool,
    executor: str | None,
    as_json: bool,
    quiet: bool,
) -> int:
    """Run a score in the foreground until every sheet is done.

    Running the same command again continues an unfinished job, does nothing for a
    completed one, and starts fresh when the score changed after it completed. A job
    another host marks running is refused (exit 75) unless --take-over.

    \b
    Example:
      mzt run examples/hello.yaml
    """
    from mzt import api

    quiet = flag(ctx, "quiet", quiet)
    if not dry_run:
        options = api.RunOptions(
            fresh=fresh,
            start_sheet=start_sheet,
            instrument=instrument,
            take_over=take_over,
            no_queue=no_queue,
            executor=executor,
        )
        with reporter_for(as_json, quiet) as reporter:
            result = api.run_score(score, workspace=workspace, options=options, reporter=reporter)
        return finish_run(result, as_json=as_json, quiet=quiet)
    prepared = api.prepare_score(score, workspace=workspace)
    plan = prepared.plan
    refusal = _refusal(prepared, instrument)
    if as_json:
        console.emit_json(
            {
                "schema": "mzt.run/1",
                "dry_run": True,
                "job_id": prepared.job_id,
                "job_name": prepared.loaded.score.name,
                "total_sheets": plan.total_sheets,
                "workspace": str(prepared.workspace),
                "sheets": render.plan_json(plan, instrument),
                "refusal": refusal and {"message": refusal.causes, "hint": refusal.hint},
            }
        )
        return ExitCode.OK
    if refusal is not None:
        hint = f" Hint: {refusal.hint}" if refusal.hint else ""
        console.err(f"warning: a run would not start: {refusal.causes}.{hint}")
    if not quiet:
        preview = api.preview_prompt(prepared.loaded, plan, plan.sheet(1), prepared.workspace)
        warnings = [*prepared.warnings, *([preview.problem] if preview.problem else [])]
        render.issue_lines(warnings, prepared.loaded.source)
        console.out(f"{prepared.job_id}: {render.summary(plan, prepared.workspace)} (dry run)")
        render.plan_and_preview(plan, preview, instrument)
        parallel = prepared.loaded.score.parallel
        at_once = parallel.max_concurrent if parallel.enabled else 1
        note = render.pacing(
            plan.total_sheets, at_once, prepared.loaded.score.pause_between_sheets_seconds
        )
        if note:
            console.out()
            console.out(note)
    return ExitCode.OK


def _refusal(prepared: PreparedScore, instrument: str | None) -> RunRefused | None:
    """Why `mzt run` would refuse to start this score, as the dry run should say."""
    from mzt import api

    try:
        api.check_runnable(prepared, api.load_instruments(), override=instrument)
    except api.RunRefused as exc:
        return exc
    return None


@click.command()
@click.argument("name", required=False)
@click.option("-n", "--name", "name_option", metavar="NAME", help="The score's name (as NAME).")
@click.option(
    "-p",
    "--path",
    "folder",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path(),
    help="Folder to write the score into (default: here).",
)
@click.option("-f", "--force", is_flag=True, help="Overwrite an existing file.")
@json_option
@quiet_option
@click.pass_context
def init(
    ctx: click.Context,
    name: str | None,
    name_option: str | None,
    folder: Path,
    force: bool,
    as_json: bool,
    quiet: bool,
) -> int:
    """Write a starter score NAME.yaml that runs offline as it is (bash, no agent).

    Its comments say how to hand the work to an agent instead.

    \b
    Example:
      mzt init nightly-review && mzt run nightly-review.yaml
    """
    from mzt import api

    if name is not None and name_option is not None and name != name_option:
        raise click.UsageError(f"two names given: {name} and --name {name_option}")
    name = name if name is not None else name_option if name_option is not None else "my-score"
    path = api.init_score(name, folder=folder, force=force)
    next_step = f"mzt run {shlex.quote(str(path))}"
    if as_json:
        console.emit_json(
            {"schema": "mzt.init/1", "path": str(path), "name": name, "next_step": next_step}
        )
    elif not flag(ctx, "quiet", quiet):
        console.out(f"wrote {path}: a starter that runs offline with bash, no agent needed")
        console.out(f"next: {next_step}")
    return ExitCode.OK


@click.command("clear-rate-limits")
@click.argument("instrument", required=False, shell_complete=complete_instrument)
@click.option(
    "-i",
    "--instrument",
    "instrument_option",
    metavar="NAME",
    shell_complete=complete_instrument,
    help="Only this instrument's record (as INSTRUMENT).",
)
@json_option
@quiet_option
@click.pass_context
def clear_rate_limits(
    ctx: click.Context,
    instrument: str | None,
    instrument_option: str | None,
    as_json: bool,
    quiet: bool,
) -> int:
    """Forget recorded rate limits and circuit breakers: every instrument's, or INSTRUMENT's.

    Runs consult these records before starting a sheet; clear one when you know the
    limit has lifted early (a new plan, another account) or the instrument works again
    (its circuit breaker then reads closed).

    \b
    Example:
      mzt clear-rate-limits claude-code
    """
    from mzt import api

    if instrument and instrument_option and instrument != instrument_option:
        raise click.UsageError(f"two instruments given: {instrument} and -i {instrument_option}")
    instrument = instrument or instrument_option
    cleared = api.clear_rate_limits(instrument)
    circuits = api.clear_circuits(instrument)
    if as_json:
        console.emit_json(
            {"schema": "mzt.ratelimits/1", "cleared": cleared, "circuits_cleared": circuits}
        )
    elif not flag(ctx, "quiet", quiet):
        console.out("cleared: " + ", ".join(cleared) if cleared else "no rate-limit records")
        if circuits:
            console.out("circuits reset: " + ", ".join(circuits))
    return ExitCode.OK


@click.command("slurm-attempt", hidden=True)
@click.argument("folder", type=click.Path(path_type=Path, file_okay=False, exists=True))
def slurm_attempt(folder: Path) -> int:
    """Run the one attempt whose spec is in FOLDER and write its report (inside a Slurm
    job that `mzt run --executor slurm` submitted)."""
    from mzt import api

    return api.run_attempt_folder(folder)
