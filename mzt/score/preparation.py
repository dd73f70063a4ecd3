"""From a score file to a checked plan: validation, preparation, previews.

Nothing here prints or writes; `mzt.api` re-exports what programs need.
"""

from __future__ import annotations

from pathlib import Path

from mzt.score.catalog import Catalog, load_catalog
from mzt.score.checks import check_score
from mzt.score.fields import TemplateError
from mzt.score.loader import LoadedScore, load_score
from mzt.score.plan import Plan, SheetPlan, build_plan
from mzt.score.templating import compile_template, default_prompt, prompt_variables, render
from mzt.support import records
from mzt.support.errors import Issue, ScoreError


@records.record(frozen=True)
class Validation:
    """The outcome of checking a score: what was understood, and what is wrong."""

    source: str
    loaded: LoadedScore | None = None
    plan: Plan | None = None
    workspace: Path | None = None
    errors: list[Issue] = records.field(default_factory=list)
    warnings: list[Issue] = records.field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.errors


@records.record(frozen=True)
class PreparedScore:
    """A score that passed every check: ready to run."""

    loaded: LoadedScore
    plan: Plan
    workspace: Path
    warnings: list[Issue]

    @property
    def job_id(self) -> str:
        return self.loaded.job_id


def resolve_workspace(loaded: LoadedScore, override: Path | None) -> Path:
    """``--workspace`` (relative to the current folder) beats the score's own setting."""
    if override is not None:
        return override.expanduser().resolve()
    return loaded.default_workspace()


def validate_score(
    path: Path, *, workspace: Path | None = None, catalog: Catalog | None = None
) -> Validation:
    """Load, expand and check the score at ``path``; never raises for score problems."""
    try:
        loaded = load_score(path)
    except ScoreError as exc:
        return Validation(source=str(path), errors=exc.issues)
    return check_loaded(loaded, workspace=workspace, catalog=catalog)


def check_loaded(
    loaded: LoadedScore, *, workspace: Path | None = None, catalog: Catalog | None = None
) -> Validation:
    """Expand and check an already loaded score."""
    catalog = catalog or load_catalog()
    try:
        plan = build_plan(loaded, default_timeout=catalog.default_timeout)
    except ScoreError as exc:
        return Validation(source=loaded.source, loaded=loaded, errors=exc.issues)
    ws = resolve_workspace(loaded, workspace)
    found = check_score(loaded, plan, ws, catalog)
    return Validation(
        source=loaded.source,
        loaded=loaded,
        plan=plan,
        workspace=ws,
        errors=found.errors,
        warnings=found.warnings,
    )


def prepared_or_raise(result: Validation) -> PreparedScore:
    """The prepared score of a check, or the `ScoreError` listing what is wrong."""
    if not result.valid or result.loaded is None or result.plan is None:
        raise ScoreError(result.source, result.errors)
    assert result.workspace is not None
    return PreparedScore(result.loaded, result.plan, result.workspace, result.warnings)


def prepare_score(path: Path, *, workspace: Path | None = None) -> PreparedScore:
    """Like `validate_score`, but raise `ScoreError` unless the score is usable."""
    return prepared_or_raise(validate_score(path, workspace=workspace))


@records.record(frozen=True)
class Preview:
    """A sheet's rendered template, or why it cannot be rendered before the run."""

    text: str | None
    problem: Issue | None


def preview_prompt(loaded: LoadedScore, plan: Plan, sheet: SheetPlan, workspace: Path) -> Preview:
    """The sheet's rendered template (no preamble or injections), as a preview shows it.

    Rendering can legitimately fail before a run (a template reading `previous_outputs`
    of sheets that have not run yet), so a failure is returned as a warning, not raised.
    """
    if loaded.template is None:
        return Preview(default_prompt(plan, sheet, loaded.score), None)
    variables = prompt_variables(plan, sheet, loaded.score, str(workspace))
    try:
        return Preview(render(compile_template(loaded.template), variables), None)
    except TemplateError as exc:
        problem = Issue(
            "V109",
            f"sheet {sheet.num}'s prompt cannot be rendered before the run: {exc}",
            "prompt",
            loaded.locate(("prompt",)),
            severity="warning",
        )
        return Preview(None, problem)
