"""Attempts on the wire: an `AttemptSpec` out to another process, its `AttemptReport` back.

An executor that runs attempts elsewhere (a Slurm job on another node) hands the spec to
a separate `mzt` process and reads its report back from a file. Both travel as JSON with
a few tags, so what comes back is what went out: tuples stay tuples, paths stay paths,
mappings keep their integer keys, bytes survive, and records are rebuilt by name.

Only the classes listed in :data:`RECORDS` (and validation rules and instrument profiles,
re-checked by their own models) can be rebuilt: a tampered file can at worst name one of
them with wrong values, never make this process run code.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mzt.execute.attempt import AttemptReport, AttemptSpec, Published
from mzt.instruments.classify import ErrorInfo
from mzt.instruments.command import Instrument
from mzt.instruments.parsing import InstrumentResult
from mzt.instruments.profile import InstrumentProfile
from mzt.score.models import ValidationRule
from mzt.support import records
from mzt.support.process import Outcome, StopRequest
from mzt.validation.report import RuleResult, ValidationReport

SCHEMA = "mzt.attempt.v1"

RECORDS: dict[str, type] = {
    kind.__name__: kind
    for kind in (
        AttemptSpec,
        AttemptReport,
        Published,
        Outcome,
        StopRequest,
        InstrumentResult,
        ErrorInfo,
        ValidationReport,
        RuleResult,
    )
}


class WireError(ValueError):
    """A spec or report file that this mzt cannot read back."""


def dumps(value: AttemptSpec | AttemptReport, *, where: Mapping[str, str] | None = None) -> bytes:
    """The document; ``where`` says for people which job and node ran the attempt."""
    document: dict[str, Any] = {"schema": SCHEMA, "value": _encode(value)}
    if where:
        document["where"] = dict(where)
    return json.dumps(document, separators=(",", ":")).encode()


def load_spec(data: bytes) -> AttemptSpec:
    spec = _loads(data)
    if not isinstance(spec, AttemptSpec):
        raise WireError("the file holds no attempt spec")
    return spec


def load_report(data: bytes, spec: AttemptSpec | None = None) -> AttemptReport:
    """The report in ``data``; with ``spec``, carrying that very spec (the one sent)."""
    report = _loads(data)
    if not isinstance(report, AttemptReport):
        raise WireError("the file holds no attempt report")
    return records.replace(report, spec=spec) if spec is not None else report


def _loads(data: bytes) -> Any:
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WireError(f"not JSON ({exc})") from None
    if not isinstance(document, dict) or document.get("schema") != SCHEMA:
        raise WireError(f"not an {SCHEMA} document")
    try:
        return _decode(document.get("value"))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise WireError(f"a damaged value ({type(exc).__name__}: {exc})") from None


def _encode(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list):
        return [_encode(item) for item in value]
    if isinstance(value, tuple):
        return {"$tuple": [_encode(item) for item in value]}
    if isinstance(value, frozenset | set):
        kind = "$frozenset" if isinstance(value, frozenset) else "$set"
        return {kind: [_encode(item) for item in sorted(value, key=repr)]}
    if isinstance(value, Path):
        return {"$path": str(value)}
    if isinstance(value, bytes):
        return {"$bytes": base64.b64encode(value).decode("ascii")}
    if isinstance(value, Mapping):
        if all(isinstance(key, str) and not key.startswith("$") for key in value):
            return {key: _encode(item) for key, item in value.items()}
        return {"$map": [[_encode(key), _encode(item)] for key, item in value.items()]}
    if isinstance(value, ValidationRule):
        return {"$rule": _encode(value.model_dump())}
    if isinstance(value, Instrument):
        return {"$instrument": _encode(value.profile.model_dump()), "source": str(value.source)}
    name = type(value).__name__
    if RECORDS.get(name) is type(value):
        fields = {f.name: _encode(getattr(value, f.name)) for f in records.fields(value)}
        return {"$record": name, "fields": fields}
    raise TypeError(f"cannot send a {name} to another process")


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(item) for item in value]
    if not isinstance(value, dict):
        return value
    if "$tuple" in value:
        return tuple(_decode(item) for item in value["$tuple"])
    if "$frozenset" in value:
        return frozenset(_decode(item) for item in value["$frozenset"])
    if "$set" in value:
        return {_decode(item) for item in value["$set"]}
    if "$path" in value:
        return Path(str(value["$path"]))
    if "$bytes" in value:
        return base64.b64decode(str(value["$bytes"]), validate=True)
    if "$map" in value:
        return {_decode(key): _decode(item) for key, item in value["$map"]}
    if "$rule" in value:
        return ValidationRule.model_validate(_decode(value["$rule"]))
    if "$instrument" in value:
        profile = InstrumentProfile.model_validate(_decode(value["$instrument"]))
        source = str(value["source"])
        return Instrument(profile, "built-in" if source == "built-in" else Path(source))
    if "$record" in value:
        kind = RECORDS[str(value["$record"])]
        return kind(**{str(k): _decode(v) for k, v in dict(value["fields"]).items()})
    return {key: _decode(item) for key, item in value.items()}
