"""The records commands answer with are values: equal by value, hashable, immutable."""

from __future__ import annotations

from pathlib import Path

import pytest

from mzt.run.results import RunOptions, RunResult
from mzt.support.errors import Issue


def test_equal_by_value_and_hashable() -> None:
    assert RunOptions() == RunOptions()
    assert RunOptions(fresh=True) != RunOptions()
    assert RunOptions() != object()
    assert hash(Issue("V001", "x", line=3)) == hash(Issue("V001", "x", line=3))
    assert len({Issue("V001", "x"), Issue("V001", "x"), Issue("V002", "x")}) == 2


def test_immutable() -> None:
    issue = Issue("V001", "x")
    with pytest.raises(AttributeError, match="cannot"):
        issue.code = "V002"  # type: ignore[misc]
    with pytest.raises(AttributeError, match="cannot"):
        del issue.code  # type: ignore[misc]
    with pytest.raises(AttributeError):
        issue.other = 1  # type: ignore[attr-defined]


def test_repr_names_every_field() -> None:
    result = RunResult(
        job_id="j",
        status="completed",
        exit_code=0,
        completed=1,
        total=1,
        failed_sheets=[],
        duration=0.5,
        workspace=Path("/ws"),
    )
    text = repr(result)
    assert text.startswith("RunResult(") and "job_id='j'" in text and "failures=()" in text
