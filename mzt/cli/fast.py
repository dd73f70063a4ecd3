"""Answers given before click is imported, for the commands cron and scripts repeat.

Importing click and the command modules costs more than the whole answer to
`mzt run score.yaml` for a job that already completed. `answer` handles exactly that
shape — ``run SCORE`` with at most ``-q``/``--quiet`` and ``-j``/``--json`` — and only
when `mzt.api.answer_noop_run` knows the job has nothing to do; for anything else it
returns ``None`` and the click command line runs as usual, so its parsing, messages and
exit codes stay the only ones.
"""

from __future__ import annotations

from pathlib import Path

_RUN_FLAGS = frozenset({"-q", "--quiet", "-j", "--json"})


def answer(argv: list[str]) -> int | None:
    """The exit code, when this command line was answered here; None to go on with click."""
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
