"""Flags shared by several commands, declared once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from mzt.cli.failures import json_mode

if TYPE_CHECKING:
    from click.shell_completion import CompletionItem

F = TypeVar("F", bound=Callable[..., Any])


def _set_json(_ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    if value:
        json_mode.set(True)
    return value


def json_option(func: F) -> F:
    return click.option(
        "-j",
        "--json",
        "as_json",
        is_flag=True,
        is_eager=True,
        callback=_set_json,
        help="Print one JSON document instead of text.",
    )(func)


def quiet_option(func: F) -> F:
    return click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")(func)


def verbose_option(func: F) -> F:
    return click.option("-v", "--verbose", is_flag=True, help="Show more detail.")(func)


def workspace_option(func: F) -> F:
    return click.option(
        "-w",
        "--workspace",
        type=click.Path(path_type=Path, file_okay=False),
        help="Workspace folder (overrides the score's `workspace`; relative to here).",
    )(func)


def take_over_option(func: F) -> F:
    return click.option(
        "--take-over",
        is_flag=True,
        help="Take over a job another host marks running, once you know that run is gone.",
    )(func)


def executor_option(func: F) -> F:
    return click.option(
        "--executor",
        type=click.Choice(["local", "slurm"]),
        envvar="MZT_EXECUTOR",
        help="Where attempts run: processes here (local) or one Slurm job each (slurm); "
        "default: MZT_EXECUTOR, else the machine configuration's executor, else local.",
    )(func)


def no_queue_option(func: F) -> F:
    return click.option(
        "--no-queue",
        is_flag=True,
        help="Exit 75 at once, changing nothing, when the machine already runs "
        "max_concurrent_jobs jobs (default: wait for one to end).",
    )(func)


def score_argument(func: F) -> F:
    return click.argument("score", type=click.Path(path_type=Path, dir_okay=True))(func)


def flag(ctx: click.Context, name: str, local: bool) -> bool:
    """A flag given to the command or to `mzt` itself."""
    return local or bool((ctx.obj or {}).get(name))


# --- shell completion ------------------------------------------------------------------------
# A completion runs inside the user's shell at every Tab: it must be quick and never fail
# loudly, so a problem reading the files completes nothing rather than printing a traceback.


def complete_job(
    ctx: click.Context, _param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """Job ids known here (the workspace given with -w, else this folder) and registered."""
    from click.shell_completion import CompletionItem

    from mzt import api

    workspace = ctx.params.get("workspace")
    try:
        names = api.known_jobs(Path(workspace) if workspace else Path.cwd())
    except Exception:
        return []
    return [CompletionItem(name) for name in sorted(set(names)) if name.startswith(incomplete)]


def complete_instrument(
    _ctx: click.Context, _param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """Names of the instruments mzt knows here (built-in and the user's profiles)."""
    from click.shell_completion import CompletionItem

    from mzt import api

    try:
        names = [instrument.name for instrument in api.load_instruments()]
    except Exception:
        return []
    return [CompletionItem(name) for name in sorted(set(names)) if name.startswith(incomplete)]
