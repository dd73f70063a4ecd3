"""Everything that fills values into score text.

Three mechanisms, kept apart on purpose:

* prompts are Jinja2 templates, rendered in a sandbox with undefined names as errors;
* validation `path` and `working_directory` take ``{name}`` fields (single braces);
* validation and skip commands take ``{name}`` too, but values never become shell
  text: each known field is replaced by a reference to an environment variable that
  holds the value, quoted for where it stands, so no value can inject shell syntax.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any, TypeAlias

from mzt.score.bounds import (
    LIMIT_CODE,
    RENDER_SECONDS,
    Budget,
    LimitError,
    RenderStopped,
    bounded_chunks,
)
from mzt.score.fields import (
    TemplateError,
)
from mzt.score.models import Score
from mzt.score.plan import Plan, SheetPlan
from mzt.support import records

if TYPE_CHECKING:
    import jinja2
    from jinja2.sandbox import ImmutableSandboxedEnvironment

# Names the renderer provides for every sheet; they win over same-named user variables.
BUILTIN_VARIABLES = frozenset(
    {
        "sheet_num",
        "total_sheets",
        "start_item",
        "end_item",
        "workspace",
        "stage",
        "movement",
        "instance",
        "voice",
        "fan_count",
        "voice_count",
        "total_stages",
        "total_movements",
        "stakes",
        "thinking_method",
        "previous_outputs",
        "previous_files",
        "skipped_upstream",
        "injected_context",
        "injected_skills",
        "injected_tools",
        "instrument_name",
    }
)


@records.record(frozen=True, slots=True)
class PlainText:
    """A template without Jinja markup, which renders to its own text.

    Many `cli` scores run a fixed command; for them a run never loads Jinja, its
    sandbox or its compiler (a tenth of a small run's start).
    """

    text: str


Template: TypeAlias = "jinja2.Template | PlainText"


def is_plain(text: str) -> bool:
    """Whether Jinja would render ``text`` unchanged: every tag, expression and comment
    starts with ``{`` (line statements are off), and the only other change Jinja makes is
    turning carriage returns (CR LF, a lone CR) into line feeds."""
    return "{" not in text and "\r" not in text


@lru_cache(maxsize=1)
def environment() -> ImmutableSandboxedEnvironment:
    """The Jinja2 environment: sandboxed and bounded, strict about undefined names."""
    import jinja2

    from mzt.score.sandbox import Sandbox

    return Sandbox(undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)


def jinja_globals() -> frozenset[str]:
    return frozenset(environment().globals)


def compile_template(text: str) -> Template:
    """The template of ``text``, compiled once per text (syntax errors raise)."""
    return PlainText(text) if is_plain(text) else _prepared(text)[0]


def loop_product(text: str) -> int:
    """How many iterations the template's nested literal ``range`` loops ask for at most."""
    return 1 if is_plain(text) else _prepared(text)[2]


def undeclared_variables(text: str) -> set[str]:
    """Names a template reads without defining them anywhere (syntax errors raise).

    Names the template assigns anywhere (``{% set %}``, loop variables, macro
    parameters) and names only read through ``| default(...)`` or ``is defined``
    tests are not reported: both are ordinary ways to handle optional values.
    """
    return set() if is_plain(text) else set(_prepared(text)[1])


# A run checks its template before the first sheet and renders it for every sheet, and
# `mzt validate` asks three questions of it: each text is parsed and compiled once
# (5–7 ms for a page of template) and its facts found on that one tree.
@lru_cache(maxsize=16)
def _prepared(text: str) -> tuple[jinja2.Template, frozenset[str], int]:
    """The compiled template, the names it reads undeclared, its literal loop product."""
    import jinja2
    from jinja2 import meta, nodes

    from mzt.score.sandbox import literal_loop_product

    env = environment()
    try:
        tree = env.parse(text)
        # Counted before the code generator runs: its optimizer folds constants in place.
        loops = literal_loop_product(tree)
        template = env.template_class.from_code(env, env.compile(tree), env.make_globals(None))
        undeclared = set(meta.find_undeclared_variables(tree))
    except jinja2.TemplateSyntaxError as exc:  # also an unknown filter or test
        raise TemplateError(f"line {exc.lineno}: {exc.message}") from None
    stored = {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")}
    stored |= {arg.name for macro in tree.find_all(nodes.Macro) for arg in macro.args}
    guarded = {
        filt.node.name
        for filt in tree.find_all(nodes.Filter)
        if filt.name in ("default", "d") and isinstance(filt.node, nodes.Name)
    }
    guarded |= {
        test.node.name
        for test in tree.find_all(nodes.Test)
        if test.name in ("defined", "undefined", "none") and isinstance(test.node, nodes.Name)
    }
    return template, frozenset(undeclared - stored - guarded), loops


def undefined_variables(text: str, defined: Iterable[str]) -> set[str]:
    """Names the template reads that neither mzt's built-ins, Jinja's globals nor
    ``defined`` (the score's ``prompt.variables``) provide: V101 of `mzt validate`."""
    names = undeclared_variables(text) - BUILTIN_VARIABLES
    return names - jinja_globals() - set(defined) if names else names


def render(
    template: Template,
    variables: Mapping[str, Any],
    *,
    seconds: float = RENDER_SECONDS,
    stop: Callable[[], bool] = lambda: False,
) -> str:
    """Render under a budget of ``seconds``; raises `RenderStopped` once ``stop()`` is true."""
    if isinstance(template, PlainText):
        try:
            return bounded_chunks((template.text,), Budget(seconds, stop))
        except LimitError as exc:
            raise TemplateError(str(exc), code=LIMIT_CODE) from None
    import jinja2

    try:
        return bounded_chunks(
            template.root_render_func(template.new_context(dict(variables))),
            Budget(seconds, stop),
        )
    except RenderStopped:
        raise
    except (LimitError, OverflowError) as exc:  # OverflowError: the sandbox's range limit
        raise TemplateError(str(exc), code=LIMIT_CODE) from None
    except RecursionError:
        raise TemplateError("the template recurses too deeply", code=LIMIT_CODE) from None
    except MemoryError:
        raise TemplateError("rendering needs more memory than there is", code=LIMIT_CODE) from None
    except jinja2.UndefinedError as exc:
        raise TemplateError(f"{exc.message}") from None
    except jinja2.TemplateError as exc:
        raise TemplateError(str(exc)) from None
    except TemplateError:
        raise
    except (ArithmeticError, TypeError, ValueError, LookupError, AttributeError) as exc:
        raise TemplateError(f"{type(exc).__name__}: {exc}") from None


def default_prompt(plan: Plan, sheet: SheetPlan, score: Score) -> str:
    """The prompt of a score without a template."""
    lines = [
        f"Processing sheet {sheet.num} of {plan.total_sheets} "
        f"(items {sheet.item_start}-{sheet.item_end})"
    ]
    lines += [text for text in (score.prompt.stakes, score.prompt.thinking_method) if text]
    return "\n\n".join(lines)


def prompt_variables(
    plan: Plan,
    sheet: SheetPlan,
    score: Score,
    workspace: str,
    *,
    instrument_name: str | None = None,
    previous_outputs: Mapping[int, str] | None = None,
    previous_files: Mapping[str, str] | None = None,
    skipped_upstream: Iterable[int] = (),
    injected: Mapping[str, list[str]] | None = None,
) -> dict[str, Any]:
    """Template variables for ``sheet``: user variables, then built-ins on top."""
    injected = injected or {}
    return {
        **score.prompt.variables,
        **plan.variables(sheet),
        "workspace": workspace,
        "stakes": score.prompt.stakes or "",
        "thinking_method": score.prompt.thinking_method or "",
        "previous_outputs": dict(previous_outputs or {}),
        "previous_files": dict(previous_files or {}),
        "skipped_upstream": list(skipped_upstream),
        "injected_context": list(injected.get("context", [])),
        "injected_skills": list(injected.get("skill", [])),
        "injected_tools": list(injected.get("tool", [])),
        "instrument_name": instrument_name or sheet.instrument.name,
    }


def validation_context(
    plan: Plan, sheet: SheetPlan, score: Score, workspace: str, instrument_name: str | None = None
) -> dict[str, Any]:
    """Values for validation paths, commands and conditions; built-ins win."""
    return {
        **score.prompt.variables,
        **plan.variables(sheet),
        "workspace": workspace,
        "instrument_name": instrument_name or sheet.instrument.name,
    }
