"""`mzt status` as text: a big job whose run died (interrupted sheets, none running), and
sheets waiting for machine slots."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mzt.cli.status_text import COMPACT_ABOVE, MOVEMENT_ROWS, _render_status
from mzt.machine import fairshare, slots
from mzt.state import CheckpointState, JobStatus, SheetState, SheetStatus, reading
from mzt.support import paths
from mzt.views.liveness import Liveness
from mzt.views.status_document import status_document
from tests.machine.slot_child import holding

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


@pytest.fixture
def queued(tmp_path: Path) -> Iterator[Callable[..., None]]:
    """Tickets in the machine's slot queues, as waiting attempts of job ``big`` hold them."""
    held: list[fairshare.Ticket] = []

    def join(limit: str, sheet: int | None) -> None:
        holder = slots.Holder("big", str(tmp_path), sheet, "cli")
        held.append(fairshare.join(limit, holder, home=paths.mzt_home()))

    yield join
    for ticket in held:
        ticket.leave()


@pytest.mark.parametrize("compact", [True, False])
def test_sheets_waiting_for_slots_are_named_in_the_runs_words(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], queued: Callable[..., None], compact: bool
) -> None:
    (paths.mzt_home() / "config.yaml").write_text("max_concurrent_sheets: 1\n")
    with holding(paths.mzt_home(), "other", "sheets:1"):
        for num in (56, 57, 59):
            queued("sheets", num)
        doc, _ = status_document(
            _big_job(tmp_path),
            Liveness(True, "alive", "probed", None),
            was_running=True,
            now=WHEN,
            sheet_limit=COMPACT_ABOVE if compact else None,
            movement_rows=MOVEMENT_ROWS if compact else None,
        )
    _render_status({**doc, "leftover_attempts": []}, verbose=False)
    out = capsys.readouterr().out
    assert "Waiting for machine slots:\n" in out
    assert "  sheets 56-57,59: waiting for a sheet slot: 1/1 held by job other\n" in out
    waiting_rows = [line.split()[:3] for line in out.splitlines() if "waiting (slot)" in line]
    assert waiting_rows == (
        []
        if compact
        else [["56", "waiting", "(slot)"], ["57", "waiting", "(slot)"], ["59", "waiting", "(slot)"]]
    )


def test_a_run_waiting_for_its_job_slot_says_so_among_its_fields(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], queued: Callable[..., None]
) -> None:
    (paths.mzt_home() / "config.yaml").write_text("max_concurrent_jobs: 1\n")
    with holding(paths.mzt_home(), "other", "jobs:1"):
        queued("jobs", None)
        doc, _ = status_document(
            _big_job(tmp_path), Liveness(True, "alive", "probed", None), was_running=True, now=WHEN
        )
    _render_status({**doc, "leftover_attempts": []}, verbose=False)
    out = capsys.readouterr().out
    assert "  waiting    waiting for a job slot: 1/1 held by job other\n" in out
    assert "Waiting for machine slots" not in out
