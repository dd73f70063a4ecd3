"""Answers given before click is imported, for the commands cron and scripts repeat.

Importing click and the command modules costs more than the whole answer to
`mzt run score.yaml` for a job that already completed, or to `mzt status`. `answer`
handles exactly these shapes:

* ``run SCORE`` with at most ``-q``/``--quiet`` and ``-j``/``--json``, only when
  `mzt.api.answer_noop_run` knows the job has nothing to do;
* ``status`` with at most ``-j``/``--json``: the overview of every registered job.

For anything else, or when gathering the answer raises, it returns ``None`` before
printing anything and the click command line runs as usual, so its parsing, messages
and exit codes stay the only ones.
"""

from __future__ import annotations

import sys
from pathlib import Path

_RUN_FLAGS = frozenset({"-q", "--quiet", "-j", "--json"})


def answer(argv: list[str]) -> int | None:
    """The exit code, when this command line was answered here; None to go on with click."""
    if argv[:1] == ["status"]:
        return _status(argv[1:])
    if len(argv) < 2 or argv[0] != "run":
        return None
    flags = [a for a in argv[1:] if a.startswith("-")]
    scores = [a for a in argv[1:] if not a.startswith("-")]
    if len(scores) != 1 or not set(flags) <= _RUN_FLAGS:
        return None
    from mzt.api import answer_noop_run

    result = answer_noop_run(Path(scores[0]))
    if result is None:
        return None
    from mzt.cli.outcome import finish_run

    as_json = "-j" in flags or "--json" in flags
    quiet = "-q" in flags or "--quiet" in flags
    return finish_run(result, as_json=as_json, quiet=quiet)


def _status(flags: list[str]) -> int | None:
    if not set(flags) <= {"-j", "--json"}:
        return None
    from mzt.api import overview_document

    try:
        document = overview_document()
    except Exception:  # the click path reports it the usual way, with the usual code
        return None
    from mzt.cli import console

    try:
        if flags:
            console.emit_json(document)
        else:
            from mzt.cli.status_text import _render_overview

            _render_overview(document)
        sys.stdout.flush()
    except BrokenPipeError:
        from mzt.cli.errors import quiet_stdout

        quiet_stdout()
    except Exception as exc:  # as the click path: a crash report, never a traceback
        from mzt.cli.errors import report_unexpected

        return report_unexpected(exc)
    return 0
