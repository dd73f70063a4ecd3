"""`mzt config path|show|check`: the machine configuration, ``$MZT_HOME/config.yaml``.

The facts come from `mzt.machine`; this module only renders them.
"""

from __future__ import annotations

from pathlib import Path

import click

from mzt.api import ExitCode
from mzt.cli import console, render
from mzt.cli.options import json_option


@click.group("config")
def config() -> None:
    """Show and check the machine configuration, $MZT_HOME/config.yaml.

    The file sets the limits every run on this machine is to share (attempts and jobs
    running at once, per instrument and per model, memory and processes); an absent file
    means the defaults. This version reads, checks and shows them but does not enforce
    them yet. MZT_MAX_CONCURRENT_SHEETS, MZT_MAX_CONCURRENT_JOBS, MZT_MAX_MEMORY_MB
    and MZT_MAX_PROCESSES override single values.

    \b
    Examples:
      mzt config path
      mzt config show
      mzt config check ~/my-config.yaml
    """


@config.command("path")
def path() -> int:
    """Print where the machine configuration file is (whether or not it exists)."""
    from mzt.api import machine_config_path

    console.out(str(machine_config_path()))
    return ExitCode.OK


@config.command("show")
@json_option
def show(as_json: bool) -> int:
    """Print the effective configuration: each value and where it comes from.

    SOURCE is `file` (with its line), `env` (the variable that overrides it) or
    `default`. Exit status 0, or 2 when the file or an override variable is unusable.
    """
    from mzt.api import effective_machine_config, sanitize_terminal

    found = effective_machine_config()
    if as_json:
        console.emit_json({"schema": "mzt.config/1", **found.to_json()})
        return ExitCode.OK
    state = "" if found.present else " (absent: defaults apply)"
    console.out(f"{found.path}{state}")
    rows = []
    for setting in found.settings:
        if setting.source == "file":
            where = f"file, line {setting.line}" if setting.line else "file"
        elif setting.source == "env":
            where = f"env {setting.variable}"
        else:
            where = "default"
        # Instrument and model names are the file's text: no escape reaches the terminal.
        rows.append([sanitize_terminal(setting.key), str(setting.value), where])
    for line in console.table(rows, ["KEY", "VALUE", "SOURCE"]):
        console.out(line)
    return ExitCode.OK


@config.command("check")
@click.argument("file", required=False, type=click.Path(path_type=Path, dir_okay=True))
@json_option
def check(file: Path | None, as_json: bool) -> int:
    """Check FILE (default: the machine's file) as a machine configuration.

    An absent machine file is valid (the defaults apply); a FILE named here must exist.

    \b
    Exit status:
      0  valid
      2  invalid: each problem is printed with its key and line
    """
    from mzt.api import check_machine_config

    result = check_machine_config(file)
    if as_json:
        console.emit_json({"schema": "mzt.config-check/1", **result.to_json()})
        return ExitCode.OK if result.valid else ExitCode.USAGE
    source = str(result.path)
    if not result.valid:
        render.issue_lines(list(result.errors), source)
        console.err(f"{source}: invalid ({console.counted(len(result.errors), 'error')})")
        return ExitCode.USAGE
    console.out(f"{source}: {'valid' if result.present else 'absent (the defaults apply)'}")
    return ExitCode.OK


COMMANDS: list[click.Command] = [config]
