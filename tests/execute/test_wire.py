"""Specs and reports sent to another process come back as they went out, and nothing else."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mzt.execute import wire
from mzt.execute.attempt import AttemptReport, Published, execute
from mzt.score.models import ValidationRule
from mzt.support import records
from tests.execute.specs import shell_spec


def rich_spec(tmp_path: Path) -> object:
    rule = ValidationRule.model_validate(
        {"type": "content_contains", "path": "{workspace}/out.txt", "pattern": "done"}
    )
    return records.replace(
        shell_spec(tmp_path, "echo done > out.txt"),
        rules=((0, rule),),
        context={"workspace": str(tmp_path), "sheet_num": 1, "items": [1, 2], "$odd": "key"},
        baseline={0: 12.5},
        rate_limit_patterns=("slow down",),
        output_path=tmp_path / "sheet-1.md",
        config={"timeout_seconds": 30, 7: "int key"},
    )


def test_a_spec_comes_back_equal_with_its_types(tmp_path: Path) -> None:
    spec = rich_spec(tmp_path)
    back = wire.load_spec(wire.dumps(spec))  # type: ignore[arg-type]
    for field in records.fields(spec):
        if field.name != "instrument":
            assert getattr(back, field.name) == getattr(spec, field.name), field.name
    assert back.baseline == {0: 12.5} and isinstance(back.rules, tuple)
    assert back.instrument is not None and spec.instrument is not None  # type: ignore[attr-defined]
    assert back.instrument.profile == spec.instrument.profile  # type: ignore[attr-defined]
    assert back.instrument.source == spec.instrument.source  # type: ignore[attr-defined]


def test_a_real_report_comes_back_equal(tmp_path: Path) -> None:
    spec = rich_spec(tmp_path)
    report = execute(spec, lambda: None)  # type: ignore[arg-type]
    assert report.validation is not None and report.validation.all_passed
    report = records.replace(report, published=Published(tmp_path / "x", b"\x00\xffbytes"))
    data = wire.dumps(report, where={"slurm_job_id": "12", "node": "n1"})
    back = wire.load_report(data, spec)  # type: ignore[arg-type]
    assert isinstance(back, AttemptReport) and back.spec is spec
    for name in ("outcome", "result", "validation", "error", "published"):
        assert getattr(back, name) == getattr(report, name), name
    assert json.loads(data)["where"] == {"slurm_job_id": "12", "node": "n1"}


@pytest.mark.parametrize(
    "document",
    [
        b"not json",
        b'{"schema": "other", "value": 1}',
        b'{"schema": "mzt.attempt.v1", "value": {"$record": "Popen", "fields": {}}}',
        b'{"schema": "mzt.attempt.v1", "value": {"$record": "Outcome", "fields": {"x": 1}}}',
        b'{"schema": "mzt.attempt.v1", "value": {"$bytes": "not base64!"}}',
        b'{"schema": "mzt.attempt.v1", "value": [1, 2]}',
    ],
)
def test_anything_else_is_refused_without_running_code(document: bytes) -> None:
    with pytest.raises(wire.WireError):
        wire.load_report(document)


def test_values_that_cannot_travel_are_named() -> None:
    with pytest.raises(TypeError, match="cannot send a object"):
        wire._encode(object())
