"""Read a score file into a validated `Score`, or fail with located, actionable issues.

This module owns the file I/O of scores (the score itself and its template file); the
models, the plan and the checks stay pure.
"""

from __future__ import annotations

import json
import types
import typing
from pathlib import Path
from typing import Any

from mzt.score.models import Score
from mzt.support import records
from mzt.support.errors import Issue, ScoreError
from mzt.support.fsutil import read_regular_file
from mzt.support.hints import closest
from mzt.support.paths import job_id_from_name, sha256_hex
from mzt.support.strictmodel import ErrorDetails, StrictModel, ValidationError
from mzt.support.yamlsafe import DataPath, Document, YamlProblem, decode, parse

MAX_SCORE_BYTES = 1 << 20
_MINIMUM = "a score needs at least `name`, `sheet` (with `size` and `total_items`) and `prompt`"

# Keys people often write for another one; checked before fuzzy matching.
_NEAR_MISSES: dict[str, str] = {
    "retries": "retry",
    "retry_policy": "retry",
    "validation": "validations",
    "checks": "validations",
    "paralel": "parallel",
    "parralel": "parallel",
    "sheets": "sheet",
    "max_retries": "retry.max_retries",
    "timeout": "instrument_config.timeout_seconds (attempt timeout) or "
    "stale_detection.idle_timeout_seconds (silence timeout)",
    "timeout_seconds": "instrument_config.timeout_seconds",
    "dependencies": "sheet.dependencies",
    "fan_out": "sheet.fan_out",
    "template": "prompt.template",
    "variables": "prompt.variables",
    "model": "instrument_config.model",
    "fallbacks": "instrument_fallbacks",
    "instrument_fallback": "instrument_fallbacks",
    "file": "path",
    "regex": "pattern",
    "cmd": "command",
}


@records.record(frozen=True, slots=True)
class LoadedScore:
    """A validated score with what was read alongside it."""

    score: Score
    source: str  # how to name the score in messages: its path, or "<snapshot>"
    base_dir: Path  # folder relative paths in the score resolve against
    document: Document
    template: str | None  # template text, inline or read from `template_file`
    template_path: Path | None  # resolved `template_file`, if any
    job_id: str
    digest: str
    file_digest: str | None = None  # SHA-256 of the file's bytes (None for a snapshot)

    def default_workspace(self) -> Path:
        """The score's `workspace`, resolved against the score's folder."""
        return (self.base_dir / self.score.workspace).resolve()

    def locate(self, path: DataPath) -> int | None:
        where = self.document.locate(path)
        return where[0] if where else None


def load_score(path: Path) -> LoadedScore:
    """Read, parse and validate the score at ``path``."""
    source = str(path)
    try:
        size = path.stat().st_size
        if path.is_dir():
            raise _file_error(source, "is a folder, not a score file")
        if size > MAX_SCORE_BYTES:
            raise _file_error(
                source,
                f"is {size / (1 << 20):.1f} MiB; score files are limited to 1 MiB",
                "move large data into files the prompt reads or injects",
            )
        raw = read_regular_file(path, MAX_SCORE_BYTES + 1, follow=True)
    except FileNotFoundError:
        raise _file_error(source, "does not exist", "check the path") from None
    except PermissionError:
        raise _file_error(source, "cannot be read (permission denied)") from None
    except OSError as exc:
        raise _file_error(source, f"cannot be read: {exc.strerror}") from None
    if len(raw) > MAX_SCORE_BYTES:  # grew between stat and read
        raise _file_error(source, "is larger than 1 MiB")
    try:
        document = parse(decode(raw))
    except YamlProblem as problem:
        raise ScoreError(
            source, Issue("YAML", problem.message, line=problem.line, column=problem.column)
        ) from None
    return validate_document(
        document, source=source, base_dir=path.resolve().parent, file_digest=bytes_digest(raw)
    )


def bytes_digest(raw: bytes) -> str:
    """SHA-256 of a score file's bytes: equal bytes mean the same score, same comments."""
    return sha256_hex(raw)


def validate_document(
    document: Document,
    *,
    source: str,
    base_dir: Path,
    lax: bool = False,
    file_digest: str | None = None,
) -> LoadedScore:
    """Turn parsed data into a `LoadedScore`.

    ``lax`` accepts the string keys that a JSON round trip leaves behind (score
    snapshots stored in checkpoints); files are always validated strictly.
    """
    data = document.data
    if not isinstance(data, dict):
        kind = "empty" if data is None else f"a {type(data).__name__}, not a mapping"
        raise ScoreError(
            source,
            Issue(
                "SCHEMA",
                f"the score is {kind}",
                hint=f"a score is a YAML mapping; {_MINIMUM}",
            ),
        )
    try:
        score = Score.model_validate(data, strict=False if lax else None)
    except ValidationError as exc:
        raise ScoreError(source, _issues_from(exc, document)) from None
    job_id = job_id_from_name(score.name)
    if not job_id.strip("_"):
        name_at = document.locate(("name",))
        raise ScoreError(
            source,
            Issue(
                "SCHEMA",
                f"the name {score.name!r} gives no usable job id",
                path="name",
                line=name_at[0] if name_at else None,
                hint="use letters, digits, '-' or '_' in `name`",
            ),
        )
    template, template_path = _read_template(score, base_dir)
    return LoadedScore(
        score=score,
        source=source,
        base_dir=base_dir,
        document=document,
        template=template,
        template_path=template_path,
        job_id=job_id,
        digest=digest(data),
        file_digest=file_digest,
    )


def digest(data: Any) -> str:
    """SHA-256 of the score's data in a canonical JSON form (comments and order don't count)."""
    canonical = json.dumps(_string_keys(data), sort_keys=True, separators=(",", ":"))
    return sha256_hex(canonical.encode())


def snapshot(data: Any) -> Any:
    """The score's data as JSON-compatible values, for storing in a checkpoint."""
    return _string_keys(data)


def _string_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _string_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_string_keys(v) for v in value]
    return value


def _read_template(score: Score, base_dir: Path) -> tuple[str | None, Path | None]:
    if score.prompt.template_file is None:
        return score.prompt.template, None
    path = (base_dir / score.prompt.template_file).resolve()
    try:
        raw = read_regular_file(path, MAX_SCORE_BYTES + 1, follow=True)
        return decode(raw[:MAX_SCORE_BYTES]), path
    except (OSError, YamlProblem):
        # Reported by the checks as V003 with the path; nothing to render until fixed.
        return None, path


def _file_error(source: str, what: str, hint: str | None = None) -> ScoreError:
    return ScoreError(source, Issue("FILE", f"the score file {what}", hint=hint))


# --- model errors → issues ------------------------------------------------------


def _issues_from(exc: ValidationError, document: Document) -> list[Issue]:
    grouped: dict[DataPath, list[ErrorDetails]] = {}
    for error in exc.errors():
        path = _data_path(error["loc"], document.data)
        if error["type"] == "missing" and isinstance(error["loc"][-1], str):
            path = (*path, error["loc"][-1])
        grouped.setdefault(path, []).append(error)
    issues = []
    for path, errors in grouped.items():
        issues.append(document.schema_issue(path, *_describe(path, errors)))
    return issues


def _data_path(loc: tuple[int | str, ...], data: Any) -> DataPath:
    """Keep the parts of a problem's location that name real places in the data."""
    path: list[str | int] = []
    current = data
    for part in loc:
        in_list = isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current)
        if in_list or (isinstance(current, dict) and part in current):
            current = current[part]
            path.append(part)
        elif isinstance(current, dict) and part == "[key]":
            break
        # Anything else is a union branch or model marker, not a place in the file.
    return tuple(path)


def _describe(path: DataPath, errors: list[ErrorDetails]) -> tuple[str, str | None]:
    first = errors[0]
    kind = first["type"]
    if kind == "extra_forbidden":
        key = first["loc"][-1]
        return f"unknown key {key!r}", _typo_hint(path[:-1], str(key))
    if kind == "missing":
        key = first["loc"][-1]
        hint = _MINIMUM if len(path) == 1 else None
        return f"the required key {key!r} is missing", hint
    if kind == "value_error" or kind == "assertion_error":
        return first["msg"].removeprefix("Value error, "), None
    if "[key]" in first["loc"]:
        return f"key {first['loc'][-2]!r}: {_lower(first['msg'])}", None
    messages = list(dict.fromkeys(_lower(e["msg"]) for e in errors))
    text = " or ".join(messages)
    return f"{text} (got {_show(first.get('input'))})", None


def _lower(msg: str) -> str:
    return msg[:1].lower() + msg[1:]


def _show(value: Any) -> str:
    text = repr(value) if not isinstance(value, dict | list) else type(value).__name__
    if isinstance(value, str):
        text = f"the string {text}"
    return text if len(text) <= 60 else text[:57] + "…"


def _typo_hint(parent: DataPath, key: str) -> str | None:
    allowed = _allowed_keys(parent)
    if key in _NEAR_MISSES and _NEAR_MISSES[key].split(".")[0].split(" ")[0] != key:
        target = _NEAR_MISSES[key]
        if target in allowed or "." in target or " " in target:
            return f"did you mean `{target}`?"
    close = closest(key, sorted(allowed))
    if close:
        return f"did you mean `{close}`?"
    if allowed:
        return "allowed keys here: " + ", ".join(sorted(allowed))
    return None


def _allowed_keys(parent: DataPath) -> set[str]:
    model = _model_at(parent)
    if model is None:
        return set()
    keys = set()
    for name, field in model.model_fields.items():
        keys.add(field.alias or name)
    return keys


def _model_at(path: DataPath) -> type[StrictModel] | None:
    """The model class that validates the mapping at ``path`` (None if not a model)."""
    annotation: Any = Score
    for part in path:
        annotation = _unwrap(annotation)
        origin = typing.get_origin(annotation)
        if origin in (dict, list):
            annotation = typing.get_args(annotation)[-1]
            continue
        if isinstance(annotation, type) and issubclass(annotation, StrictModel):
            field = next(
                (f for n, f in annotation.model_fields.items() if part in (n, f.alias)), None
            )
            if field is None:
                return None
            annotation = field.annotation
            continue
        return None
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, StrictModel):
        return annotation
    return None


def _unwrap(annotation: Any) -> Any:
    """Strip Optional/Annotated; from a union of a model and others, pick the model."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            models = [a for a in args if isinstance(a, type) and issubclass(a, StrictModel)]
            annotation = models[0] if models else args[0]
        else:
            return annotation
