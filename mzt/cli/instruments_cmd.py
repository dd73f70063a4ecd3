"""`mzt instruments list` and `mzt instruments check NAME`: which instruments can run here.

The facts come from `mzt.instruments.info`; this module only renders them.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import click

from mzt.api import ExitCode
from mzt.cli import console
from mzt.cli.options import complete_instrument, flag, json_option, quiet_option

if TYPE_CHECKING:
    from mzt.api import InstrumentInfo


@click.group("instruments")
def instruments() -> None:
    """Show the instrument profiles mzt knows and whether each can run here.

    \b
    Examples:
      mzt instruments list
      mzt instruments check claude-code
    """


@instruments.command("list")
@json_option
def list_instruments(as_json: bool) -> int:
    """List every instrument: kind, status, default model and where its profile comes from.

    STATUS is `ready` (the program is on PATH), `not found` (it is not) or `http` (an
    HTTP API; its key variable is named when unset). CIRCUIT is the shared circuit
    breaker: `closed`, `open until T` or `half_open` (the next attempt is a trial).
    Profile files that could not be read are listed under the table and skipped; the
    others still work. Exit status 0.
    """
    from mzt.api import circuit_records, load_instruments, problem_json
    from mzt.api import gather_instruments as gather
    from mzt.cli.circuit_text import state_text

    registry = load_instruments()
    infos = gather(registry)
    circuits = {c["instrument"]: c for c in circuit_records()}
    if as_json:
        console.emit_json(
            {
                "schema": "mzt.instruments/1",
                "instruments": [
                    {**i.to_json(), "circuit": circuits.get(i.name, {"state": "closed"})}
                    for i in infos
                ],
                "problems": [problem_json(p) for p in registry.problems],
            }
        )
        return ExitCode.OK
    rows = [
        [
            info.name,
            info.kind,
            _status_text(info),
            info.default_model or "-",
            state_text(circuits.get(info.name)),
            info.source + (" (overrides built-in)" if info.overrides_builtin else ""),
        ]
        for info in infos
    ]
    header = ["NAME", "KIND", "STATUS", "DEFAULT MODEL", "CIRCUIT", "SOURCE"]
    for line in console.table(rows, header):
        console.out(line)
    if registry.problems:
        count = len(registry.problems)
        console.out()
        console.out(f"{console.counted(count, 'profile file')} skipped:")
        for problem in registry.problems:
            console.out(f"  {problem}")
    return ExitCode.OK


@instruments.command("check")
@click.argument("name", shell_complete=complete_instrument)
@json_option
@quiet_option
@click.pass_context
def check(ctx: click.Context, name: str, as_json: bool, quiet: bool) -> int:
    """Show one instrument in detail and whether it can be used here.

    NAME may be an alias (`claude_cli` is `claude-code`). Shows the profile's source,
    the program and where it was found on PATH, the models with context windows and
    prices, the capabilities and the environment variables it reads (names and whether
    they are set, never their values).

    \b
    Exit status:
      0  ready: the program is on PATH (for an HTTP instrument: its key variable is set)
      1  known but not usable here: program not found, or key variable not set
      2  no instrument has that name
    """
    from mzt.api import describe_instrument as describe
    from mzt.api import load_instruments

    info = describe(load_instruments(), name)
    code = ExitCode.OK if info.ready else ExitCode.FAILED
    if as_json:
        console.emit_json({"schema": "mzt.instrument/1", **info.to_json(detail=True)})
    elif not flag(ctx, "quiet", quiet):
        for line in _detail_lines(info):
            console.out(line)
    return code


def _status_text(info: InstrumentInfo) -> str:
    if info.status == "not_found":
        return "not found"
    if info.status == "http" and info.auth_set is False:
        return f"http ({info.auth_env_var} unset)"
    return info.status


def _detail_lines(info: InstrumentInfo) -> list[str]:
    """The `check` view: a labelled block, the models table, then the verdict."""
    header = f"{info.name} — {info.display_name}"
    lines = [console.style(header, "bold")]
    if info.description:
        lines.append(f"  {info.description}")
    fields: list[tuple[str, str]] = [("kind", info.kind), ("source", info.source)]
    if info.overrides_builtin:
        fields.append(("", "(replaces the built-in profile of the same name)"))
    if info.aliases:
        fields.append(("aliases", ", ".join(info.aliases)))
    if info.kind == "cli":
        found = info.binary_path or "not found"
        fields.append(("program", f"{info.executable} → {found}"))
        if info.binary_path is None:
            fields.append(("PATH searched", os.pathsep.join(info.path_searched) or "(empty)"))
    else:
        fields.append(("endpoint", info.endpoint or "-"))
        if info.auth_env_var:
            state = "set" if info.auth_set else "not set"
            fields.append(("API key", f"{info.auth_env_var} ({state})"))
        if not info.runnable:
            fields.append(("", "mzt describes this HTTP instrument but cannot call it yet"))
    fields.append(("default model", info.default_model or "(the instrument's own default)"))
    fields.append(("timeout", f"{info.default_timeout_seconds:g} s"))
    fields.append(("capabilities", ", ".join(info.capabilities) or "-"))
    width = max(len(label) for label, _ in fields) + 1
    lines += [f"  {(label + ':') if label else '':<{width}} {value}" for label, value in fields]

    passed = [e for e in info.env if e.role == "passed"]
    other = [e for e in info.env if e.role == "referenced"]
    if passed:
        lines.append("  environment: only these variables reach it (plus PATH, HOME, locale…):")
        lines += [f"    {e.name:<32} {'set' if e.set else '-'}" for e in passed]
    if other:
        lines.append("  environment: its profile reads")
        lines += [f"    {e.name:<32} {'set' if e.set else 'not set'}" for e in other]

    if info.models:
        lines.append("  models:")
        rows = [
            [
                m.name + (" (default)" if m.default else ""),
                f"{m.context_window:,}",
                _price(m.cost_per_1k_input),
                _price(m.cost_per_1k_output),
                f"{m.max_output_tokens:,}" if m.max_output_tokens else "-",
                str(m.max_concurrent),
            ]
            for m in info.models
        ]
        headers = ["MODEL", "CONTEXT", "$/1K IN", "$/1K OUT", "MAX OUT", "AT ONCE"]
        lines += [f"    {line}" for line in console.table(rows, headers)]

    if info.ready:
        lines.append(console.style("ready", "green"))
    else:
        lines.append(console.style(f"not usable: {info.problem}", "red"))
        if info.status == "not_found":
            lines.append(
                f"hint: install `{info.executable}` or add its folder to PATH; a profile in "
                "$MZT_HOME/instruments/ may also give the program's absolute path"
            )
        else:
            lines.append(f"hint: export {info.auth_env_var} before running mzt")
    return lines


def _price(value: float) -> str:
    return "free" if value == 0 else f"{value:g}"
