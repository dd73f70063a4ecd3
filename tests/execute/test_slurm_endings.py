"""A Slurm job that ended without a report gets the error a local attempt would."""

from __future__ import annotations

from pathlib import Path

import pytest

from mzt.execute import slurm_endings
from mzt.support.process import StopRequest
from tests.execute.specs import shell_spec


@pytest.mark.parametrize(
    ("state", "code", "retriable"),
    [
        ("TIMEOUT", "E001", True),
        ("NODE_FAIL", "E002", True),
        ("PREEMPTED", "E002", True),
        ("OUT_OF_MEMORY", "E005", False),
        ("CANCELLED", "E004", False),
        ("FAILED", "E999", True),
        ("", "E999", True),
    ],
)
def test_each_end_state_is_its_error(
    tmp_path: Path, state: str, code: str, retriable: bool
) -> None:
    report = slurm_endings.ended(shell_spec(tmp_path, "true"), "42", state, 3.0, "")
    assert report.error is not None
    assert (report.error.code, report.error.retriable) == (code, retriable)
    assert "42" in report.error.message
    assert report.outcome.reason == ("timeout" if code == "E001" else "error")
    assert not report.stopped and not report.execution_success


def test_the_output_tail_says_why_an_unknown_end_happened(tmp_path: Path) -> None:
    out = tmp_path / "slurm.out"
    out.write_text("x" * 10_000 + "\n/usr/bin/python3: No module named mzt\n")
    said = slurm_endings.tail(out)
    assert len(said) == 4096 and said.endswith("No module named mzt\n")
    report = slurm_endings.ended(shell_spec(tmp_path, "true"), "7", "FAILED", 1.0, said)
    assert report.error is not None and "No module named mzt" in report.error.message
    assert slurm_endings.tail(tmp_path / "missing") == ""


def test_a_stop_this_run_asked_for_is_a_stop(tmp_path: Path) -> None:
    spec = shell_spec(tmp_path, "true")
    for reason in ("cancelled", "interrupted"):
        report = slurm_endings.stopped(spec, StopRequest(reason), 2.0)  # type: ignore[arg-type]
        assert report.stopped and report.outcome.reason == reason
