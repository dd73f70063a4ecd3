"""Answers given before click is imported, for the commands cron and scripts repeat.

Importing click and the command modules costs more than the whole answer to
`mzt run score.yaml` for a job that already completed, or to `mzt status`. `answer`
handles exactly these shapes:

* ``run SCORE`` with at most ``-q``/``--quiet``, ``-j``/``--json``, ``--no-queue`` and
  one ``-w``/``--workspace DIR``: from the checkpoint's head alone when
  `mzt.api.answer_noop_run` knows the job has nothing to do, else the whole run, as the
  click command runs it (:mod:`mzt.cli.failures` reports its failures for both). With
  ``MZT_EXECUTOR`` set, only the first: click reads and checks that variable;
* ``status [JOB]`` with at most ``-j``/``--json`` and one ``-w``/``--workspace DIR``:
  the overview, or one job's view;
* ``list`` with at most ``-a``/``--all``, ``-j``/``--json`` and ``-q``/``--quiet``;
* ``validate SCORE`` with at most ``-q``/``--quiet``, ``-j``/``--json``,
  ``-v``/``--verbose`` and one ``-w``/``--workspace DIR`` (:mod:`mzt.cli.validation`);
* ``slurm-attempt FOLDER``, the command every Slurm job of ``--executor slurm`` runs.

With any of ``MZT_LOG_LEVEL``, ``MZT_LOG_FILE`` or ``MZT_LOG_FORMAT`` set it answers
nothing: logging is set up by the click group. For anything else, or when gathering a
view's answer raises, it returns ``None`` before printing anything and the click command
line runs as usual, so its parsing, messages and exit codes stay the only ones. Once
``status``, ``list`` or ``validate`` has printed its answer, the process ends there (see
:func:`_end`).
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
from collections.abc import Callable
from pathlib import Path

# Not `typing`: importing it is a visible share of `mzt status`'s whole answer.
TYPE_CHECKING = False

if TYPE_CHECKING:
    from typing import Any, NoReturn

_OUTPUT_FLAGS = frozenset({"-q", "--quiet", "-j", "--json"})
_RUN_FLAGS = _OUTPUT_FLAGS | {"--no-queue"}
_VALIDATE_FLAGS = _OUTPUT_FLAGS | {"-v", "--verbose"}
_JSON = frozenset({"-j", "--json"})
_LOG_ENV = frozenset({"MZT_LOG_LEVEL", "MZT_LOG_FILE", "MZT_LOG_FORMAT"})
_EXECUTOR_ENV = "MZT_EXECUTOR"


def answer(argv: list[str]) -> int | None:
    """The exit code, when this command line was answered here; None to go on with click."""
    if _LOG_ENV.intersection(os.environ):
        return None  # logging was asked for: click's group sets it up
    if argv[:1] in (["status"], ["list"]):
        # A read-only view is short-lived and its objects (a big job is tens of thousands
        # of them) form no cycles: collecting would only walk them again and again.
        gc.disable()
        try:
            code = _status(argv[1:]) if argv[0] == "status" else _list(argv[1:])
        finally:
            gc.enable()
        if code is not None:
            _end(code)
        return code
    if argv[:1] == ["slurm-attempt"]:
        code = _attempt(argv[1:])
        if code is not None:
            _end(code)  # the report is on disk; Slurm starts one of these per attempt
        return code
    if argv[:1] == ["validate"]:
        code = _validate(argv[1:])
        if code is not None:
            _end(code)  # like the views: it wrote nothing, so nothing is left to finish
        return code
    if len(argv) < 2 or argv[0] != "run":
        return None
    rest, workspace = _take_workspace(argv[1:])
    flags = [a for a in rest if a.startswith("-")]
    scores = [a for a in rest if not a.startswith("-")]
    if len(scores) != 1 or not set(flags) <= _RUN_FLAGS:
        return None
    if workspace is not None and workspace.exists() and not workspace.is_dir():
        return None  # click says what is wrong with it
    as_json = "-j" in flags or "--json" in flags
    quiet = "-q" in flags or "--quiet" in flags
    if _EXECUTOR_ENV in os.environ:  # --executor's variable: click reads it and checks it
        return _noop(Path(scores[0]), workspace, as_json, quiet)
    return _run(argv, Path(scores[0]), workspace, "--no-queue" in flags, as_json, quiet)


def _noop(score: Path, workspace: Path | None, as_json: bool, quiet: bool) -> int | None:
    """The answer for a job with nothing to do (it needs no executor); None for click."""
    from mzt.api import answer_noop_run
    from mzt.cli.outcome import finish_run

    try:
        result = answer_noop_run(score, workspace=workspace)
    except Exception:  # the click path meets it and reports it
        return None
    return None if result is None else finish_run(result, as_json=as_json, quiet=quiet)


def _run(
    argv: list[str], score: Path, workspace: Path | None, no_queue: bool, as_json: bool, quiet: bool
) -> int:
    """``run SCORE`` as the click command runs it, with the flags `answer` accepts."""
    from mzt import api
    from mzt.cli.failures import guarded
    from mzt.cli.outcome import finish_run, reporter_for

    def call() -> int:
        options = api.RunOptions(no_queue=no_queue)
        with reporter_for(as_json, quiet) as reporter:
            result = api.run_score(score, workspace=workspace, options=options, reporter=reporter)
        return finish_run(result, as_json=as_json, quiet=quiet)

    return guarded(call, argv, as_json=as_json)


def _take_workspace(args: list[str]) -> tuple[list[str], Path | None]:
    """``args`` without one ``-w DIR`` / ``--workspace DIR`` / ``--workspace=DIR``.

    Anything unusual (the option twice, no value, ``--``) leaves a flag behind that no
    fast answer accepts, so click parses the line instead.
    """
    rest: list[str] = []
    workspace: Path | None = None
    items = iter(args)
    for arg in items:
        value: str | None = None
        if arg in ("-w", "--workspace"):
            value = next(items, None)
        elif arg.startswith("--workspace="):
            value = arg.partition("=")[2]
        else:
            rest.append(arg)
            continue
        if workspace is not None or not value or value.startswith("-"):
            return [*rest, "--"], None
        workspace = Path(value)
    return rest, workspace


def _validate(args: list[str]) -> int | None:
    args, workspace = _take_workspace(args)
    flags = {a for a in args if a.startswith("-")}
    scores = [a for a in args if not a.startswith("-")]
    if len(scores) != 1 or not flags <= _VALIDATE_FLAGS:
        return None
    if workspace is not None and workspace.exists() and not workspace.is_dir():
        return None  # click says what is wrong with it
    from mzt.cli.validation import check, show

    verbose = bool(flags & {"-v", "--verbose"})
    try:
        checked = check(Path(scores[0]), workspace=workspace, verbose=verbose)
    except Exception:  # the click path reports it the usual way, with the usual code
        return None
    as_json, quiet = bool(flags & _JSON), bool(flags & {"-q", "--quiet"})
    return _printed(lambda: show(checked, as_json=as_json, verbose=verbose, quiet=quiet))


def _attempt(args: list[str]) -> int | None:
    """``slurm-attempt FOLDER``: one attempt on a Slurm node, started once per attempt."""
    if len(args) != 1 or args[0].startswith("-") or not Path(args[0]).is_dir():
        return None  # click names the problem
    from mzt import api

    folder = Path(args[0])
    try:
        spec = api.load_attempt_folder(folder)
    except api.MztError:
        return None  # nothing ran: the click path says what is wrong, as usual
    try:
        return api.run_attempt_folder(folder, spec)
    except api.MztError as exc:  # the report could not be written: the conductor sees none
        sys.stderr.write(f"error: {exc.message}\n")
        return int(exc.exit_code)


def _status(args: list[str]) -> int | None:
    args, workspace = _take_workspace(args)
    as_json = any(a in _JSON for a in args)
    jobs = [a for a in args if not a.startswith("-")]
    if len(jobs) > 1 or not {a for a in args if a.startswith("-")} <= _JSON:
        return None
    if workspace is not None and workspace.exists() and not workspace.is_dir():
        return None  # click says what is wrong with it
    from mzt import api

    try:
        if not jobs:
            document = api.empty_overview() or api.overview_document()
        else:
            from mzt.cli.status_text import view_limits

            sheets, movements = view_limits(as_json=as_json, verbose=False)
            document = api.job_status(
                jobs[0], workspace=workspace, sheet_limit=sheets, movement_rows=movements
            )
    except Exception:  # the click path reports it the usual way, with the usual code
        return None

    def text() -> None:
        from mzt.cli import status_text

        if jobs:
            status_text._render_status(document, verbose=False)
        else:
            status_text._render_overview(document)

    return _printed(_document_or(document if as_json else None, text))


def _list(args: list[str]) -> int | None:
    if not set(args) <= {"-a", "--all", *_JSON, "-q", "--quiet"}:
        return None
    show_all = "-a" in args or "--all" in args
    from mzt import api

    try:
        document = api.list_document(statuses=None, include_all=show_all)
    except Exception:  # the click path reports it the usual way, with the usual code
        return None

    def text() -> None:
        from mzt.cli.status_text import print_list

        print_list(document, filtered=show_all, quiet="-q" in args or "--quiet" in args)

    return _printed(_document_or(document if any(a in _JSON for a in args) else None, text))


def _document_or(as_json: dict[str, Any] | None, text: Callable[[], None]) -> Callable[[], int]:
    """Printing the JSON document if there is one, else the text; exit code 0."""

    def emit() -> int:
        if as_json is not None:
            from mzt.cli import console

            console.emit_json(as_json)
        else:
            text()
        return 0

    return emit


def _printed(emit: Callable[[], int]) -> int:
    """Print through ``emit``; as the click path does, never a traceback."""
    try:
        code = emit()
        sys.stdout.flush()
    except BrokenPipeError:
        from mzt.cli.failures import quiet_stdout

        quiet_stdout()
        return 0
    except Exception as exc:
        from mzt.cli.failures import report_unexpected

        return report_unexpected(exc)
    return code


def _end(code: int) -> NoReturn:
    """End the process now that the answer is printed and flushed, with ``code``.

    All that is left is freeing what the view read, and the interpreter's shutdown does
    it object by object and module by module: for a big job, a tenth of the whole answer,
    for memory the system takes back at once anyway. Nothing of mzt's waits for exit
    (no exit hooks, no buffered log files); the standard streams are flushed here.
    """
    for stream in (sys.stdout, sys.stderr):
        # A reader gone or a stream closed: nothing is left to keep.
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)
