"""The `mzt` click group; each command's module is imported when that command runs."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import click

from mzt import __version__
from mzt.cli.errors import run_guarded

# Where each command is defined. A command's module is imported only when that command
# runs (or help lists them all), so `mzt status` never loads the score commands.
COMMANDS: dict[str, tuple[str, str]] = {
    "cancel": ("mzt.cli.manage_cmd", "cancel"),
    "clear": ("mzt.cli.manage_cmd", "clear"),
    "clear-rate-limits": ("mzt.cli.commands", "clear_rate_limits"),
    "config": ("mzt.cli.config_cmd", "config"),
    "diagnose": ("mzt.cli.inspect_cmd", "diagnose"),
    "doctor": ("mzt.cli.manage_cmd", "doctor"),
    "errors": ("mzt.cli.inspect_cmd", "errors"),
    "history": ("mzt.cli.inspect_cmd", "history"),
    "init": ("mzt.cli.commands", "init"),
    "instruments": ("mzt.cli.instruments_cmd", "instruments"),
    "list": ("mzt.cli.observe_cmd", "list_jobs"),
    "logs": ("mzt.cli.logs_cmd", "logs"),
    "modify": ("mzt.cli.modify_cmd", "modify"),
    "pause": ("mzt.cli.manage_cmd", "pause"),
    "recover": ("mzt.cli.recover_cmd", "recover"),
    "resume": ("mzt.cli.commands", "resume"),
    "run": ("mzt.cli.commands", "run"),
    "slurm-attempt": ("mzt.cli.commands", "slurm_attempt"),
    "status": ("mzt.cli.observe_cmd", "status"),
    "top": ("mzt.cli.top_cmd", "top"),
    "validate": ("mzt.cli.commands", "validate"),
    "watch": ("mzt.cli.observe_cmd", "watch"),
}


class LazyGroup(click.Group):
    """A group whose commands are imported from `COMMANDS` when first looked up."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            module, attribute = COMMANDS[cmd_name]
            command = getattr(importlib.import_module(module), attribute)
            self.add_command(command, cmd_name)
        return self.commands.get(cmd_name)


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(
    __version__, "-V", "--version", prog_name="mzt", message="%(prog)s %(version)s"
)
@click.option("-v", "--verbose", is_flag=True, help="Show more detail.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
@click.option(
    "-L",
    "--log-level",
    envvar="MZT_LOG_LEVEL",
    type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
    help="Log mzt's own records from this level up (default warning once logging is on).",
)
@click.option(
    "--log-file",
    envvar="MZT_LOG_FILE",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Append the log records to this file (0600) instead of standard error.",
)
@click.option(
    "--log-format",
    envvar="MZT_LOG_FORMAT",
    type=click.Choice(["console", "json", "both"], case_sensitive=False),
    help="console lines, JSON lines, or both (console on stderr, JSON in --log-file).",
)
@click.pass_context
def cli(
    ctx: click.Context,
    verbose: bool,
    quiet: bool,
    log_level: str | None,
    log_file: Path | None,
    log_format: str | None,
) -> None:
    """Run AI agent CLIs through YAML scores, durably and without a daemon.

    \b
    Examples:
      mzt validate score.yaml
      mzt run --dry-run score.yaml
      mzt init my-score
    """
    if log_level or log_file or log_format:
        from mzt.api import configure_logging

        configure_logging(log_level, log_file, log_format)
    ctx.ensure_object(dict)
    ctx.obj["verbose"] = verbose
    ctx.obj["quiet"] = quiet


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    sys.exit(run_guarded(cli, argv))
