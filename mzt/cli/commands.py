"""The score commands: validate, run (dry run so far), init."""

from __future__ import annotations

from pathlib import Path

import click

from mzt import console
from mzt.cli import render
from mzt.cli.options import (
    flag,
    json_option,
    quiet_option,
    score_argument,
    verbose_option,
    workspace_option,
)
from mzt.errors import UsageError
from mzt.exitcodes import ExitCode


def register(group: click.Group) -> None:
    for command in (validate, run, init):
        group.add_command(command)


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
    from mzt import api

    verbose, quiet = flag(ctx, "verbose", verbose), flag(ctx, "quiet", quiet)
    result = api.validate_score(score, workspace=workspace)
    preview = None
    if verbose and result.valid and result.loaded and result.plan and result.workspace:
        preview = api.preview_prompt(
            result.loaded, result.plan, result.plan.sheet(1), result.workspace
        )
        if preview.problem:
            result.warnings.append(preview.problem)
    if as_json:
        document = {
            "schema": "mzt.validate/1",
            "valid": result.valid,
            "source": result.source,
            "job_id": result.loaded.job_id if result.loaded else None,
            "workspace": str(result.workspace) if result.workspace else None,
            "total_sheets": result.plan.total_sheets if result.plan else None,
            "errors": [i.to_json() for i in result.errors],
            "warnings": [i.to_json() for i in result.warnings],
        }
        if verbose and result.plan:
            document["sheets"] = render.plan_json(result.plan)
            document["preview"] = preview.text if preview else None
        console.emit_json(document)
        return ExitCode.OK if result.valid else ExitCode.USAGE
    render.issue_lines(result.errors, result.source)
    if not quiet:
        render.issue_lines(result.warnings, result.source)
    if not result.valid or result.plan is None or result.workspace is None:
        count = len(result.errors)
        console.err(f"{result.source}: invalid ({count} error{'s' if count != 1 else ''})")
        return ExitCode.USAGE
    if not quiet:
        console.out(f"{result.source}: valid — {render.summary(result.plan, result.workspace)}")
    if verbose:
        render.plan_and_preview(result.plan, preview)
    return ExitCode.OK


@click.command()
@score_argument
@workspace_option
@click.option("--fresh", is_flag=True, help="Discard the job's previous state and start over.")
@click.option("-s", "--start-sheet", type=click.IntRange(min=1), help="Start at sheet N.")
@click.option("-n", "--dry-run", is_flag=True, help="Show the plan; run nothing, write nothing.")
@click.option("--instrument", help="Run every sheet on this instrument instead.")
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
    as_json: bool,
    quiet: bool,
) -> int:
    """Run a score in the foreground until every sheet is done.

    \b
    Example:
      mzt run --dry-run examples/hello.yaml
    """
    from mzt import api

    quiet = flag(ctx, "quiet", quiet)
    prepared = api.prepare_score(score, workspace=workspace)
    if not dry_run:
        raise UsageError(
            "this version of mzt can check and plan scores but not execute them yet",
            hint=f"use `mzt run --dry-run {score}` to see the plan",
        )
    plan = prepared.plan
    if as_json:
        console.emit_json(
            {
                "schema": "mzt.run/1",
                "dry_run": True,
                "job_id": prepared.job_id,
                "job_name": prepared.loaded.score.name,
                "total_sheets": plan.total_sheets,
                "workspace": str(prepared.workspace),
                "sheets": render.plan_json(plan),
            }
        )
        return ExitCode.OK
    if not quiet:
        preview = api.preview_prompt(prepared.loaded, plan, plan.sheet(1), prepared.workspace)
        warnings = [*prepared.warnings, *([preview.problem] if preview.problem else [])]
        render.issue_lines(warnings, prepared.loaded.source)
        console.out(f"{prepared.job_id}: {render.summary(plan, prepared.workspace)} (dry run)")
        render.plan_and_preview(plan, preview)
    return ExitCode.OK


@click.command()
@click.argument("name", default="my-score")
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
    ctx: click.Context, name: str, folder: Path, force: bool, as_json: bool, quiet: bool
) -> int:
    """Write a starter score NAME.yaml that validates.

    \b
    Example:
      mzt init nightly-review && mzt validate nightly-review.yaml
    """
    from mzt import api

    path = api.init_score(name, folder=folder, force=force)
    if as_json:
        console.emit_json({"schema": "mzt.init/1", "path": str(path), "name": name})
    elif not flag(ctx, "quiet", quiet):
        console.out(f"wrote {path}; check it with `mzt validate {path}`")
    return ExitCode.OK
