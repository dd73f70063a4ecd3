"""`mzt validate`'s answer: checked first, then printed, with or without click.

:mod:`mzt.cli.fast` answers a plain `mzt validate SCORE` without importing click (a
share of that answer's whole time); the click command says the same through these two
steps, so both print the very same bytes and return the same exit code. Checking
prints nothing, so a fast path that meets an exception can still hand over to click.
"""

from __future__ import annotations

from pathlib import Path

from mzt.api import ExitCode
from mzt.cli import console, render

TYPE_CHECKING = False  # not `typing`: a share of the answer's start-up

if TYPE_CHECKING:
    from mzt.api import Preview, Validation


def check(
    score: Path, *, workspace: Path | None, verbose: bool
) -> tuple[Validation, Preview | None]:
    """The score's validation and, for ``verbose``, its first sheet's preview."""
    from mzt import api

    result = api.validate_score(score, workspace=workspace)
    preview = None
    if verbose and result.valid and result.loaded and result.plan and result.workspace:
        preview = api.preview_prompt(
            result.loaded, result.plan, result.plan.sheet(1), result.workspace
        )
        if preview.problem:
            result.warnings.append(preview.problem)
    return result, preview


def show(
    checked: tuple[Validation, Preview | None], *, as_json: bool, verbose: bool, quiet: bool
) -> int:
    """Print the validation as the flags ask; the exit code (0 valid, 2 not)."""
    result, preview = checked
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
        console.err(f"{result.source}: invalid ({console.counted(count, 'error')})")
        return ExitCode.USAGE
    if not quiet:
        console.out(f"{result.source}: valid — {render.summary(result.plan, result.workspace)}")
    if verbose:
        render.plan_and_preview(result.plan, preview)
    return ExitCode.OK
