"""The `mzt` command line: a thin shell over `mzt.api`.

Each command parses its flags, calls one api function and renders the result. Errors
the user can act on arrive as `MztError` and are rendered once, here, as a paragraph
and a hint (or a JSON error document under --json); anything unexpected becomes a
one-line summary plus a crash report file, never a bare traceback.
"""

from __future__ import annotations

import sys

import click

from mzt import __version__
from mzt.cli import commands
from mzt.cli.errors import run_guarded


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(
    __version__, "-V", "--version", prog_name="mzt", message="%(prog)s %(version)s"
)
@click.option("-v", "--verbose", is_flag=True, help="Show more detail.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
@click.pass_context
def cli(ctx: click.Context, verbose: bool, quiet: bool) -> None:
    """Run AI agent CLIs through YAML scores, durably and without a daemon.

    \b
    Examples:
      mzt validate score.yaml
      mzt run --dry-run score.yaml
      mzt init my-score
    """
    ctx.ensure_object(dict)
    ctx.obj["verbose"] = verbose
    ctx.obj["quiet"] = quiet


commands.register(cli)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    sys.exit(run_guarded(cli, argv))
