"""The `mzt logs` command: a sheet attempt's instrument output, printed or followed live."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from mzt.api import ExitCode
from mzt.cli import console
from mzt.cli.inspect_cmd import _clean, sheet_option
from mzt.cli.options import complete_job, workspace_option

if TYPE_CHECKING:
    from mzt.api import AttemptLogs, LogChunk


@click.command()
@click.argument("job", shell_complete=complete_job)
@sheet_option
@click.option("--attempt", type=click.IntRange(min=1), metavar="K", help="Attempt K.")
@click.option("-f", "-F", "--follow", is_flag=True, help="Keep printing output as it is written.")
@click.option(
    "-n",
    "--lines",
    type=click.IntRange(min=0),
    metavar="N",
    default=50,
    show_default=True,
    help="Show the last N lines of each stream (0: all).",
)
@workspace_option
def logs(
    job: str,
    sheet: int | None,
    attempt: int | None,
    follow: bool,
    lines: int,
    workspace: Path | None,
) -> int:
    """Instrument output (stdout and stderr) of a sheet's attempt.

    Default: the latest attempt of the sheet running now, else of the sheet that wrote
    output last. With -f on a running job it follows every attempt of the current run as
    it writes (lines prefixed [sheet N] when sheets run in parallel) and ends with the
    run; with --sheet it follows that sheet's attempts one after another, with --attempt
    that attempt only.

    \b
    Examples:
      mzt logs nightly-review --sheet 3 -n 0
      mzt logs nightly-review -f
    """
    from mzt.api import await_attempt, follow_job_logs, open_view, read_tail, select_attempt
    from mzt.api import follow_logs as follow_output

    view = open_view(job, workspace=workspace)
    if follow and sheet is None and attempt is None and view.alive is True:
        state = view.state
        console.err(f"following the running attempts of job '{view.job_id}' (Ctrl-C stops)")
        job_chunks = follow_job_logs(view, lines=lines)
        if state.parallel_enabled and state.parallel_max_concurrent > 1:
            _print_prefixed(job_chunks)
        else:
            _print_follow(job_chunks)
        return ExitCode.OK
    if follow:
        view, target = await_attempt(view, sheet=sheet, attempt=attempt)
    else:
        target = select_attempt(view, sheet=sheet, attempt=attempt)
    if not follow:
        _print_attempt(target, {s: read_tail(target.path(s), lines) for s in ("stdout", "stderr")})
        return ExitCode.OK
    chunks = follow_output(
        view,
        target,
        lines=lines,
        pinned_sheet=sheet is not None,
        pinned_attempt=attempt is not None,
    )
    console.err(f"following sheet {target.sheet_num}, attempt {target.attempt} (Ctrl-C stops)")
    _print_follow(chunks)
    return ExitCode.OK


def _header(sheet: int, attempt: int, stream: str, extra: str = "") -> str:
    return f"==> sheet {sheet}, attempt {attempt}: {stream}{extra} <=="


def _print_attempt(target: AttemptLogs, texts: dict[str, str]) -> None:
    sizes = {f.stream: f for f in target.files}
    shown = False
    for stream, text in texts.items():
        if stream not in sizes:
            continue
        extra = f" ({sizes[stream].path}, {sizes[stream].size} bytes)"
        console.out(_header(target.sheet_num, target.attempt, stream, extra))
        if text:
            sys.stdout.write(_clean(text) if text.endswith("\n") else _clean(text) + "\n")
        shown = True
    if not shown:
        state = "has written nothing yet" if target.running else "wrote no output"
        console.out(f"sheet {target.sheet_num}, attempt {target.attempt} {state}")


def _print_follow(chunks: Iterable[LogChunk]) -> None:
    """Print chunks as they come, with a header whenever the attempt or stream changes."""
    where: tuple[int, int, str] | None = None
    at_line_start = True
    for chunk in chunks:
        if chunk.stream == "attempt":
            where = None
            console.err(f"following sheet {chunk.sheet_num}, attempt {chunk.attempt}")
            continue
        here = (chunk.sheet_num, chunk.attempt, chunk.stream)
        if here != where:
            if not at_line_start:  # a partial line was shown; keep the header on its own
                sys.stdout.write("\n")
            console.out(_header(*here))
            where = here
        text = _clean(chunk.text)
        sys.stdout.write(text)
        at_line_start = text.endswith("\n")
        # Whoever reads a pipe (a script, `grep --line-buffered`) sees each line at once.
        sys.stdout.flush()


def _print_prefixed(chunks: Iterable[LogChunk]) -> None:
    """Print each line as it comes, prefixed with its sheet (and stream, for stderr)."""
    for chunk in chunks:
        if chunk.stream == "attempt":
            console.err(f"following sheet {chunk.sheet_num}, attempt {chunk.attempt}")
            continue
        stream = "" if chunk.stream == "stdout" else f" {chunk.stream}"
        label = f"[sheet {chunk.sheet_num}{stream}]"
        lines = _clean(chunk.text).split("\n")
        if lines[-1] == "":
            lines.pop()  # the newline ending the last line starts no other one
        sys.stdout.write("".join(f"{label} {line}\n" for line in lines))
        sys.stdout.flush()


COMMANDS: list[click.Command] = [logs]
