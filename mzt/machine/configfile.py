"""Reading ``config.yaml`` itself: its bytes, its YAML, and each problem with key and line.

Imported only when the file exists, so a machine without one never loads the YAML
reader for it.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

from mzt.machine.config import (
    MAX_CONFIG_BYTES,
    InstrumentLimit,
    MachineConfig,
    MachineConfigError,
    ModelLimit,
    config_path,
)
from mzt.support import records
from mzt.support.errors import Issue
from mzt.support.fsutil import kind_of, read_regular_file
from mzt.support.hints import closest
from mzt.support.strictmodel import ErrorDetails, StrictModel, ValidationError
from mzt.support.yamlsafe import DataPath, Document, YamlProblem, decode, parse

Lines = dict[tuple[str | int, ...], int]


def parse_config(path: Path) -> tuple[MachineConfig, Lines]:
    """Read and check the file; raises :class:`MachineConfigError` naming key and line."""
    source = str(path)
    raw = _read(path)
    try:
        document = parse(decode(raw))
    except YamlProblem as problem:
        raise MachineConfigError(
            source, Issue("YAML", problem.message, line=problem.line, column=problem.column)
        ) from None
    return check_document(document, source)


def check_document(document: Document, source: str) -> tuple[MachineConfig, Lines]:
    """Check parsed data against the model (an empty file is all defaults)."""
    data = {} if document.data is None else document.data
    if not isinstance(data, dict):
        raise MachineConfigError(
            source,
            Issue(
                "SCHEMA",
                f"the configuration is a {type(data).__name__}, not a mapping of keys",
                line=1,
                hint="write keys such as `max_concurrent_sheets: 10`, one per line",
            ),
        )
    try:
        config = MachineConfig.model_validate(data)
    except ValidationError as exc:
        raise MachineConfigError(source, _issues(exc, document)) from None
    lines = {place: where[0] for place, where in document.locations.items()}
    return config, lines


def _read(path: Path) -> bytes:
    try:
        raw = read_regular_file(path, MAX_CONFIG_BYTES + 1, follow=True)
    except FileNotFoundError:
        raise _error(path, "does not exist", "check the path") from None
    except PermissionError:
        raise _error(path, "cannot be read (permission denied)", "chmod 600 it") from None
    except IsADirectoryError:
        raise _error(path, "is a folder, not a file", _MOVE) from None
    except OSError as exc:
        if exc.errno in (errno.EINVAL, errno.ENXIO, errno.ENODEV):
            raise _error(path, f"is {_kind(path)}, not a regular file", _MOVE) from None
        raise _error(path, f"cannot be read: {exc.strerror or exc}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise _error(path, f"is larger than {MAX_CONFIG_BYTES // 1024} KiB")
    return raw


_MOVE = "move it aside and write the configuration as a plain YAML file"


def _kind(path: Path) -> str:
    # What the path reaches: a symlink to a FIFO is a FIFO here, since symlinks are followed.
    try:
        return kind_of(path, path.stat().st_mode)
    except OSError:
        return "something else"


def _error(path: Path, what: str, hint: str | None = None) -> MachineConfigError:
    return MachineConfigError(str(path), Issue("FILE", f"the configuration file {what}", hint=hint))


def _issues(exc: ValidationError, document: Document) -> list[Issue]:
    issues = []
    for error in exc.errors():
        loc = tuple(p for p in error["loc"] if p != "[key]")
        path: DataPath = tuple(loc)
        issues.append(document.schema_issue(path, *_describe(error, path)))
    return issues


def _describe(error: ErrorDetails, path: DataPath) -> tuple[str, str | None]:
    kind = error["type"]
    key = str(path[-1]) if path else ""
    if kind == "extra_forbidden":
        return f"unknown key {key!r}", _typo_hint(path[:-1], key)
    if kind == "missing":
        return f"the required key {key!r} is missing", None
    text = error["msg"][:1].lower() + error["msg"][1:]
    return f"{text} (got {_show(error.get('input'))})", None


def _show(value: Any) -> str:
    if isinstance(value, dict | list):
        return f"a {'mapping' if isinstance(value, dict) else 'list'}"
    text = f"the string {value!r}" if isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "…"


def _typo_hint(parent: DataPath, key: str) -> str | None:
    model: type[StrictModel] = MachineConfig
    if parent[:1] == ("instruments",):
        model = InstrumentLimit
    elif parent[:1] == ("models",):
        model = ModelLimit
    allowed = sorted(model.model_fields)
    close = closest(key, allowed)
    if close:
        return f"did you mean `{close}`?"
    return "allowed keys here: " + ", ".join(allowed)


@records.record(frozen=True, slots=True)
class ConfigCheck:
    """The verdict on one configuration file: usable or not, and every problem found."""

    path: Path
    present: bool
    errors: tuple[Issue, ...]

    @property
    def valid(self) -> bool:
        return not self.errors

    def to_json(self) -> dict[str, Any]:
        """The body of a ``mzt.config-check/1`` document."""
        return {
            "valid": self.valid,
            "source": str(self.path),
            "file": "present" if self.present else "absent",
            "errors": [issue.to_json() for issue in self.errors],
            "warnings": [],
        }


def check_file(path: Path | None = None, *, home: Path | None = None) -> ConfigCheck:
    """Check ``path`` (default: the machine's file, where absent means valid defaults)."""
    target = path or config_path(home)
    if path is None and not os.path.lexists(target):
        return ConfigCheck(target, False, ())
    try:
        parse_config(target)
    except MachineConfigError as exc:
        return ConfigCheck(target, os.path.lexists(target), tuple(exc.issues))
    return ConfigCheck(target, True, ())
