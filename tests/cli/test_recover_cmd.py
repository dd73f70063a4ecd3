"""How `mzt recover` reads: what passed, what still fails and why, and what to do next."""

from __future__ import annotations

from pathlib import Path

from mzt.cli.recover_cmd import recover_lines
from mzt.run.recovery import RecoveryReport, SheetRecovery

WS = Path("/ws")


def test_a_dry_run_says_would_and_names_each_failure() -> None:
    report = RecoveryReport(
        "job",
        WS,
        True,
        "failed",
        "failed",
        (
            SheetRecovery(2, True, 1, 1),
            SheetRecovery(3, False, 0, 1, ("The file out-3 does not exist\x1b[31m",)),
        ),
    )
    lines = recover_lines(report)
    assert lines[0] == "sheet 2: 1/1 validations pass: would be completed"
    assert lines[1] == "sheet 3: 0/1 validations pass: stays failed"
    assert "\x1b" not in lines[2] and "out-3 does not exist" in lines[2]
    assert lines[-1] == "job job: failed (dry run: nothing changed)"
    assert report.exit_code == 1


def test_blocked_sheets_left_point_at_resume() -> None:
    report = RecoveryReport(
        "job", WS, False, "failed", "failed", (SheetRecovery(2, True, 1, 1),), waiting=(3,)
    )
    assert recover_lines(report)[-1] == "continue it with `mzt resume job -w /ws`"
    assert report.exit_code == 0
    nothing = RecoveryReport("job", WS, False, "failed", "failed", (), waiting=(3,))
    assert recover_lines(nothing) == [
        "job (failed): no failed sheets to recover",
        "continue it with `mzt resume job -w /ws`",
    ]


def test_a_sheet_without_validations_says_why() -> None:
    reason = "the sheet has no validations that could show its work"
    report = RecoveryReport(
        "job", WS, False, "failed", "failed", (SheetRecovery(1, False, 0, 0, reason=reason),)
    )
    assert recover_lines(report)[0] == f"sheet 1: {reason}: stays failed"


def test_completing_the_job_shows_the_change() -> None:
    report = RecoveryReport(
        "job", WS, False, "failed", "completed", (SheetRecovery(1, True, 2, 2),)
    )
    assert recover_lines(report)[-1] == "job job: failed -> completed"
    assert report.to_json()["recovered"] == [1]
