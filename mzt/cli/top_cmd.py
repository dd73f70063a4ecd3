"""`mzt top`: every job on the machine, live (frames from :mod:`mzt.views.top`)."""

from __future__ import annotations

import shutil
import sys

import click

from mzt.api import ExitCode
from mzt.cli import console
from mzt.cli.options import json_option
from mzt.cli.top_text import block, screen

# Clear the screen and go home: each frame replaces the whole previous one.
_CLEAR = "\x1b[H\x1b[2J"


@click.command()
@json_option
@click.option("--once", is_flag=True, help="Show one frame, then exit.")
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1),
    default=1.0,
    show_default=True,
    metavar="S",
    help="Look again at least every S seconds (file changes show at once).",
)
@click.option("-a", "--all", "show_all", is_flag=True, help="Include completed and cancelled jobs.")
def top(as_json: bool, once: bool, interval: float, show_all: bool) -> int:
    """Show every registered job live: running and waiting sheets, rate limits, circuits
    and who holds the machine's slots.

    On a terminal the screen is redrawn at each change and every S seconds; otherwise a
    block of lines is printed per change; with --json, one JSON object per change.
    Ctrl-C ends it (exit 130). MZT_WATCH_POLL=1 makes it poll instead of waiting for
    file events.

    \b
    Examples:
      mzt top
      mzt top --once --json | jq .totals
    """
    from mzt import api

    tty = not as_json and sys.stdout.isatty()
    shown = None
    try:
        for frame in api.top_frames(interval=interval, include_all=show_all):
            changed = frame.key != shown
            shown = frame.key
            if as_json:
                if changed or once:
                    console.emit_json(frame.to_json())
            elif tty:
                size = shutil.get_terminal_size((100, 24))
                sys.stdout.write(_CLEAR)
                for line in screen(frame, size.columns, size.lines):
                    console.out(line)
            elif changed or once:
                for line in block(frame):
                    console.out(line)
            sys.stdout.flush()
            if once:
                return ExitCode.OK
    except KeyboardInterrupt:
        return 130  # the user's own way out: no message
    return ExitCode.OK


COMMANDS: list[click.Command] = [top]
