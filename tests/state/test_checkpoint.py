"""CheckpointState: sheet transitions, job status, progress, zombies, records, migrations."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from mzt.state import CheckpointState, JobStatus, SheetStatus, WriterInfo
from mzt.state.checkpoint import (
    CURRENT_SCHEMA_VERSION,
    MAX_CIRCUIT_BREAKER_HISTORY,
    MAX_HOOK_RESULTS,
)
from mzt.state.liveness import current_identity
from mzt.state.migrations import MIGRATIONS, upgrade
from mzt.state.models import ErrorCategory
from mzt.support.errors import FutureSchemaError
from tests.state.conftest import make_state


@pytest.fixture(scope="module")
def dead_pid() -> int:
    """A pid that certainly belonged to a process that has exited and been reaped."""
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(child.stdout)


# --- sheet transitions ----------------------------------------------------------------------


def test_mark_sheet_started_sets_running_and_clears_stale_fields() -> None:
    state = make_state(2)
    sheet = state.sheets[1]
    sheet.error_message, sheet.exit_code, sheet.execution_mode = "old", 3, "retry"
    state.mark_sheet_started(1)
    assert state.status == JobStatus.RUNNING
    assert state.current_sheet == 1
    assert state.started_at is not None and state.completed_at is None
    assert sheet.status == SheetStatus.IN_PROGRESS
    assert sheet.attempt_count == 1
    assert (sheet.error_message, sheet.exit_code, sheet.execution_mode) == (None, None, None)
    state.mark_sheet_started(1)
    assert sheet.attempt_count == 2


def test_mark_sheet_started_creates_a_missing_sheet() -> None:
    state = CheckpointState(job_id="j", job_name="j", total_sheets=5)
    state.mark_sheet_started(4)
    assert state.sheets[4].status == SheetStatus.IN_PROGRESS


def test_watermark_never_retreats() -> None:
    state = make_state(5)
    state.mark_sheet_completed(4)
    assert state.last_completed_sheet == 4
    state.mark_sheet_completed(2)
    assert state.last_completed_sheet == 4
    assert state.current_sheet is None


def test_job_completes_only_when_every_sheet_is_completed() -> None:
    state = make_state(3)
    state.set_running_pid()
    state.mark_sheet_completed(3)  # out of order: the highest first
    assert state.status != JobStatus.COMPLETED
    state.mark_sheet_completed(1)
    state.mark_sheet_skipped(2, "skip rule")
    assert state.status != JobStatus.COMPLETED  # skipped is not completed
    state.mark_sheet_completed(2)
    assert state.status == JobStatus.COMPLETED
    assert state.completed_at is not None
    assert state.pid is None


def test_job_with_missing_sheet_states_is_not_complete() -> None:
    state = CheckpointState(job_id="j", job_name="j", total_sheets=3)
    state.mark_sheet_completed(1)
    state.mark_sheet_completed(2)
    assert state.status == JobStatus.PENDING


def test_mark_sheet_completed_records_validation() -> None:
    state = make_state(2)
    details = [{"passed": True, "rule_type": "file_exists"}]
    state.mark_sheet_completed(
        1, validation_passed=True, validation_details=details, execution_duration_seconds=1.5
    )
    sheet = state.sheets[1]
    assert (sheet.exit_code, sheet.validation_passed, sheet.execution_duration_seconds) == (
        0,
        True,
        1.5,
    )
    assert sheet.validation_details == details
    assert sheet.completed_at is not None


def test_mark_sheet_failed_records_everything() -> None:
    state = make_state(1)
    state.mark_sheet_started(1)
    state.mark_sheet_failed(
        1,
        "timed out",
        error_category="timeout",
        exit_code=None,
        exit_signal=9,
        exit_reason="timeout",
        execution_duration_seconds=60,
        error_code="E001",
    )
    sheet = state.sheets[1]
    assert sheet.status == SheetStatus.FAILED
    assert sheet.error_category == ErrorCategory.TIMEOUT
    assert (sheet.exit_signal, sheet.exit_reason, sheet.error_code) == (9, "timeout", "E001")
    assert state.total_retry_count == 1
    assert state.current_sheet is None


def test_mark_sheet_failed_drops_an_unknown_category() -> None:
    state = make_state(1)
    state.mark_sheet_failed(1, "x", error_category="no-such-category")
    assert state.sheets[1].error_category is None
    again = CheckpointState.model_validate(state.model_dump(mode="json"))
    assert again.sheets[1].status == SheetStatus.FAILED


def test_mark_sheet_skipped_keeps_reason() -> None:
    state = make_state(2)
    state.mark_sheet_skipped(2, "Blocked by failed dependency: sheet 1")
    assert state.sheets[2].status == SheetStatus.SKIPPED
    assert state.sheets[2].error_message == "Blocked by failed dependency: sheet 1"
    state.mark_sheet_skipped(1)
    assert state.sheets[1].error_message is None


# --- job status ---------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["fail", "pause", "cancel"])
def test_failing_pausing_cancelling_clear_the_pid(method: str) -> None:
    state = make_state(2)
    state.mark_job_running(pid=4242)
    if method == "fail":
        state.mark_job_failed("boom")
        assert (state.status, state.error_message) == (JobStatus.FAILED, "boom")
        assert state.completed_at is not None
    elif method == "pause":
        state.mark_job_paused()
        assert state.status == JobStatus.PAUSED
    else:
        state.mark_job_cancelled("user asked")
        assert state.status == JobStatus.CANCELLED
        assert all(s.status == SheetStatus.CANCELLED for s in state.sheets.values())
    assert state.pid is None
    assert not state.is_zombie()


def test_mark_job_running_resets_start_and_stale_completion() -> None:
    state = make_state(1)
    state.mark_job_failed("x")
    old_start = state.started_at
    state.mark_job_running()
    assert state.status == JobStatus.RUNNING
    assert state.completed_at is None
    assert state.started_at is not None and state.started_at != old_start
    assert state.pid == os.getpid()


def test_running_state_loaded_with_stale_completion_is_cleaned() -> None:
    data = make_state(1).model_dump(mode="json")
    data.update(status="running", completed_at="2026-01-01T00:00:00Z", started_at=None)
    state = CheckpointState.model_validate(data)
    assert state.completed_at is None
    assert state.started_at is not None


def test_set_running_pid_defaults_to_this_process() -> None:
    state = make_state(1)
    state.set_running_pid()
    assert state.pid == os.getpid()
    state.set_running_pid(77)
    assert state.pid == 77


# --- next sheet and progress ----------------------------------------------------------------


def test_get_next_sheet() -> None:
    state = make_state(3)
    assert state.get_next_sheet() == 1
    state.mark_sheet_started(1)
    assert state.get_next_sheet() == 1  # the interrupted sheet comes first
    state.mark_sheet_completed(1)
    assert state.get_next_sheet() == 2
    state.mark_sheet_failed(2, "x")
    assert state.get_next_sheet() == 2  # failed sheets run again
    state.mark_sheet_completed(2)
    state.mark_sheet_skipped(3)
    assert state.get_next_sheet() is None


@pytest.mark.parametrize("status", [JobStatus.COMPLETED, JobStatus.CANCELLED])
def test_get_next_sheet_of_a_finished_job(status: JobStatus) -> None:
    state = make_state(2)
    state.status = status
    assert state.get_next_sheet() is None


def test_get_next_sheet_of_missing_sheet_states() -> None:
    state = CheckpointState(job_id="j", job_name="j", total_sheets=2)
    assert state.get_next_sheet() == 1


def test_progress() -> None:
    state = make_state(4)
    assert state.get_progress() == (0, 4)
    state.mark_sheet_completed(2)
    state.mark_sheet_skipped(3)
    assert state.get_progress() == (1, 4)
    assert state.get_progress_percent() == 25.0
    assert CheckpointState(job_id="j", job_name="j", total_sheets=0).get_progress_percent() == 0.0


# --- zombies --------------------------------------------------------------------------------------


def test_zombie_needs_running_status(dead_pid: int) -> None:
    for status in (JobStatus.PENDING, JobStatus.PAUSED, JobStatus.COMPLETED, JobStatus.FAILED):
        state = make_state(1)
        state.status, state.pid = status, dead_pid
        assert not state.is_zombie()


def test_zombie_predicate_by_pid(dead_pid: int) -> None:
    state = make_state(1)
    state.status = JobStatus.RUNNING
    state.pid = None
    assert not state.is_zombie()  # no pid: cannot judge by pid
    state.pid = os.getpid()
    assert not state.is_zombie()  # own pid is alive
    state.pid = os.getppid()
    assert not state.is_zombie()  # a live pid
    state.pid = dead_pid
    assert state.is_zombie()


def test_zombie_survives_pid_reuse() -> None:
    me = current_identity()
    state = make_state(1)
    state.status, state.pid = JobStatus.RUNNING, me.pid
    state.writer = WriterInfo(
        pid=me.pid, start_time=(me.start_time or 0) - 3600, host=me.host, boot_id=me.boot_id
    )
    assert state.is_zombie()  # the pid is alive but is a different, later process
    state.writer = WriterInfo.current()
    assert not state.is_zombie()


def test_zombie_from_another_host_is_never_judged(dead_pid: int) -> None:
    state = make_state(1)
    state.status, state.pid = JobStatus.RUNNING, dead_pid
    state.writer = WriterInfo(pid=dead_pid, host="elsewhere.example", start_time=1.0)
    assert not state.is_zombie()


def test_mark_zombie_detected(dead_pid: int) -> None:
    state = make_state(3)
    state.mark_job_running(pid=dead_pid)
    state.mark_sheet_completed(1)
    state.mark_sheet_started(2)
    state.mark_zombie_detected("seen on load")
    assert state.status == JobStatus.PAUSED
    assert state.pid is None
    assert "stale running state" in (state.error_message or "")
    assert str(dead_pid) in (state.error_message or "")
    assert "seen on load" in (state.error_message or "")
    assert state.last_completed_sheet == 1
    assert state.sheets[1].status == SheetStatus.COMPLETED
    again = CheckpointState.model_validate_json(state.model_dump_json())
    assert again.status == JobStatus.PAUSED and again.error_message == state.error_message


def test_zombie_note_never_replaces_a_real_error() -> None:
    state = make_state(1)
    state.status, state.error_message = JobStatus.RUNNING, "sheet 1 failed: quota"
    state.mark_zombie_detected()
    assert state.error_message == "sheet 1 failed: quota"


# --- records ----------------------------------------------------------------------------------


def test_hook_results_and_breaker_history_are_bounded() -> None:
    state = make_state(1)
    before = state.updated_at
    for n in range(MAX_HOOK_RESULTS + 2):
        state.record_hook_result({"hook": n})
    for n in range(MAX_CIRCUIT_BREAKER_HISTORY + 2):
        state.record_circuit_breaker_change("open", "failure_recorded", n)
    assert len(state.hook_results) == MAX_HOOK_RESULTS
    assert state.hook_results[-1] == {"hook": MAX_HOOK_RESULTS + 1}
    assert len(state.circuit_breaker_history) == MAX_CIRCUIT_BREAKER_HISTORY
    last = state.circuit_breaker_history[-1]
    assert (last["state"], last["trigger"], last["consecutive_failures"]) == (
        "open",
        "failure_recorded",
        MAX_CIRCUIT_BREAKER_HISTORY + 1,
    )
    assert state.updated_at >= before


def test_add_synthesis_replaces_by_batch() -> None:
    state = make_state(1)
    state.add_synthesis("b1", {"status": "pending"})
    state.add_synthesis("b1", {"status": "done"})
    assert state.synthesis_results == {"b1": {"status": "done"}}


def test_reset_interrupted_sheets_keeps_budgets() -> None:
    state = make_state(4)
    state.mark_sheet_started(1)
    state.sheets[1].normal_attempts = 2
    state.sheets[2].status = SheetStatus.WAITING
    state.mark_sheet_completed(3)
    state.mark_sheet_failed(4, "x")
    assert state.reset_interrupted_sheets() == [1, 2]
    assert state.sheets[1].status == SheetStatus.PENDING
    assert state.sheets[1].attempt_count == 1 and state.sheets[1].normal_attempts == 2
    assert state.sheets[3].status == SheetStatus.COMPLETED
    assert state.sheets[4].status == SheetStatus.FAILED
    assert state.current_sheet is None


def test_new_states_carry_store_bookkeeping() -> None:
    a, b = make_state(1), make_state(1)
    assert a.schema_version == CURRENT_SCHEMA_VERSION
    assert a.seq == 0 and a.writer is None
    assert a.instance_id != b.instance_id


# --- migrations ----------------------------------------------------------------------------------


def legacy_document() -> dict[str, object]:
    return {
        "job_id": "old",
        "job_name": "old job",
        "total_sheets": 2,
        "status": "paused_at_chain",
        "pid": 1234,
        "last_completed_sheet": 1,
        "sheets": {
            "1": {"sheet_num": 1, "status": "completed", "learned_pattern": "x"},
            "2": {"sheet_num": 2, "status": "failed", "error_category": "mystery"},
        },
    }


def test_legacy_document_is_upgraded_in_order() -> None:
    assert [m.from_version for m in MIGRATIONS] == list(range(len(MIGRATIONS)))
    doc = upgrade(legacy_document(), job_id="old", path="old.json")
    assert doc["schema_version"] == CURRENT_SCHEMA_VERSION
    state = CheckpointState.model_validate(doc)
    assert state.status == JobStatus.PAUSED
    assert state.sheets[2].error_category is None
    assert state.writer is None and state.seq == 0


def test_current_document_passes_unchanged() -> None:
    doc = make_state(1).model_dump(mode="json")
    assert upgrade(dict(doc), job_id="job", path="p") == doc


def test_future_schema_is_refused_clearly() -> None:
    doc = make_state(1).model_dump(mode="json")
    doc["schema_version"] = CURRENT_SCHEMA_VERSION + 1
    with pytest.raises(FutureSchemaError) as caught:
        upgrade(doc, job_id="job", path="/x/job.json")
    assert caught.value.exit_code == 5
    assert f"schema version {CURRENT_SCHEMA_VERSION + 1}" in caught.value.message
    assert "Upgrade mzt" in (caught.value.hint or "")


@pytest.mark.parametrize("bad", ["1", -1, 1.5, True, None])
def test_malformed_schema_version_is_rejected(bad: object) -> None:
    doc = make_state(1).model_dump(mode="json")
    doc["schema_version"] = bad
    with pytest.raises(ValueError, match="schema_version"):
        upgrade(doc, job_id="job", path="p")
