"""Click's command line, run so that every failure gets the right message and exit code."""

from __future__ import annotations

import sys

import click

from mzt.api import ExitCode
from mzt.cli import console
from mzt.cli.failures import guarded, json_error, json_mode


def run_guarded(group: click.Group, argv: list[str] | None) -> int:
    args = sys.argv[1:] if argv is None else argv

    def call() -> int:
        try:
            result = group.main(args=argv, prog_name="mzt", standalone_mode=False)
        except click.exceptions.Exit as exc:
            return exc.exit_code
        except click.Abort:
            console.err("mzt: aborted")
            return 130
        except click.ClickException as exc:
            # A usage error can stop parsing before --json is seen; look for it by hand.
            if json_mode.get() or any(a in ("-j", "--json") for a in args):
                json_error("USAGE", exc.format_message(), None)
            else:
                exc.show()
            return ExitCode.USAGE
        return int(result or 0)

    return guarded(call, args)
