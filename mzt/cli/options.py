"""Flags shared by several commands, declared once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from mzt.cli.errors import json_mode

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


def score_argument(func: F) -> F:
    return click.argument("score", type=click.Path(path_type=Path, dir_okay=True))(func)


def flag(ctx: click.Context, name: str, local: bool) -> bool:
    """A flag given to the command or to `mzt` itself."""
    return local or bool((ctx.obj or {}).get(name))
