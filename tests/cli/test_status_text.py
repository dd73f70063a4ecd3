"""`mzt status` as text for a big job whose run died: interrupted sheets, none running."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from mzt.cli.status_text import COMPACT_ABOVE, MOVEMENT_ROWS, _render_status
from mzt.state import CheckpointState, JobStatus, SheetState, SheetStatus, reading
from mzt.views.liveness import Liveness
from mzt.views.status_document import status_document

WHEN = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)
TOTAL = COMPACT_ABOVE + 10
RUNNING = range(51, 56)


def _big_job(tmp_path: Path) -> reading.Checkpoint:
    state = CheckpointState(job_id="big", job_name="big", total_sheets=TOTAL)
    state.status = JobStatus.RUNNING
    for num in range(1, TOTAL + 1):
        status = SheetStatus.COMPLETED if num < RUNNING[0] else SheetStatus.PENDING
        if num in RUNNING:
            status = SheetStatus.IN_PROGRESS
        state.sheets[num] = SheetState(
            sheet_num=num, status=status, movement=1, started_at=WHEN, attempt_count=1
        )
    return reading.Checkpoint(reading.JobRef("big", tmp_path), state)


@pytest.mark.parametrize("verdict", ["dead", "alive"])
def test_the_movement_view_shows_a_dead_runs_sheets_as_interrupted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], verdict: str
) -> None:
    doc, _ = status_document(
        _big_job(tmp_path),
        Liveness(verdict == "alive", verdict, "probed", None),
        was_running=True,
        now=WHEN,
        sheet_limit=COMPACT_ABOVE,
        movement_rows=MOVEMENT_ROWS,
    )
    assert doc["sheets_omitted"]
    _render_status({**doc, "leftover_attempts": []}, verbose=False)
    out = capsys.readouterr().out
    header, row = next(
        (line.split(), next_line.split())
        for line, next_line in zip(out.splitlines(), out.splitlines()[1:], strict=False)
        if line.startswith("MOVEMENT")
    )
    running = row[header.index("RUNNING")]
    if verdict == "dead":
        assert "interrupted — its run died" in out
        assert "5 interrupted" in out and "in_progress" not in out
        assert "interrupted: sheets 51-55" in out
        assert running == "0"
    else:
        assert "in_progress: sheets 51-55" in out and "interrupted" not in out
        assert running == "5"
