"""Where `mzt --log-level/--log-file/--log-format` send the library's log records.

Without any of them (or their `MZT_LOG_*` variables) nothing is configured and mzt logs
nothing, as before. Once one is given, the ``mzt`` logger gets handlers:

* the records go to ``--log-file`` when given (appended, created 0600, never through a
  symlink), else to standard error;
* ``console`` writes ``time level logger: message`` lines, ``json`` one JSON object a
  line (``ts, level, logger, message``), and ``both`` console lines on standard error
  plus JSON lines in the log file (without a log file, console lines only);
* the level is ``--log-level`` (default ``warning``).

Every record is redacted before it is written, like everything else mzt writes.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from mzt.support.errors import UsageError
from mzt.support.redact import redact

LEVELS = ("debug", "info", "warning", "error")
FORMATS = ("console", "json", "both")


class _Console(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        text = f"{when} {record.levelname.lower()} {record.name}: {record.getMessage()}"
        return redact(text)


class _Json(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC).isoformat().replace("+00:00", "Z")
        doc = {
            "ts": when,
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        return redact(json.dumps(doc))


def configure_logging(
    level: str | None = None, file: Path | None = None, fmt: str | None = None
) -> None:
    """Attach the handlers the flags ask for to the ``mzt`` logger (see the module text)."""
    if level is None and file is None and fmt is None:
        return
    level = (level or "warning").lower()
    fmt = (fmt or "console").lower()
    if level not in LEVELS:
        raise UsageError(f"unknown log level {level!r}", hint=f"use one of {', '.join(LEVELS)}")
    if fmt not in FORMATS:
        raise UsageError(f"unknown log format {fmt!r}", hint=f"use one of {', '.join(FORMATS)}")
    logger = logging.getLogger("mzt")
    logger.setLevel(level.upper())
    if file is None:
        _add(logger, sys.stderr, _Json() if fmt == "json" else _Console())
        return
    _add(logger, _open(file), _Console() if fmt == "console" else _Json())
    if fmt == "both":
        _add(logger, sys.stderr, _Console())


class _OwnFile(logging.StreamHandler):  # type: ignore[type-arg]
    """A handler on a file it opened itself, closed with it (at exit, by logging)."""

    def close(self) -> None:
        try:
            self.stream.close()
        finally:
            super().close()


def _add(logger: logging.Logger, stream: TextIO, formatter: logging.Formatter) -> None:
    handler = _OwnFile(stream) if stream is not sys.stderr else logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    logger.addHandler(handler)


def _open(path: Path) -> TextIO:
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(path.expanduser(), flags, 0o600)
    except OSError as exc:
        raise UsageError(
            f"cannot open the log file {path}: {exc.strerror or exc}",
            hint="give a path in a folder that exists and that you may write to",
        ) from None
    return os.fdopen(fd, "a", encoding="utf-8", buffering=1)
