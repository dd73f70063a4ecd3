"""What a validation run found (`mzt.validation.report`)."""

from __future__ import annotations

from pathlib import Path

from mzt.validation.engine import run_validations
from mzt.validation.report import ValidationReport


def test_no_rules_is_the_empty_report_and_it_passes(tmp_path: Path) -> None:
    # An attempt without rules makes this report itself rather than load the engine.
    found = run_validations([], {}, workspace=tmp_path, baseline={}, environ={})
    assert found == ValidationReport(())
    assert found.all_passed and found.pass_percent == 100.0 and found.failed_indices == ()
