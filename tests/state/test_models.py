"""SheetState and the status enums: budgets, fallback, output capture, bounded histories."""

from __future__ import annotations

import copy

import pytest

from mzt.state.models import (
    MAX_ATTEMPT_RESULTS,
    MAX_ERROR_HISTORY,
    MAX_INSTRUMENT_FALLBACK_HISTORY,
    UNKNOWN_FAILURE,
    JobStatus,
    SheetState,
    SheetStatus,
)
from mzt.state.records import CheckpointErrorRecord
from tests.state.conftest import Outcome

TERMINAL = {"completed", "failed", "skipped", "cancelled"}


def test_sheet_status_has_the_eleven_contract_values() -> None:
    assert [s.value for s in SheetStatus] == [
        "pending",
        "ready",
        "dispatched",
        "in_progress",
        "waiting",
        "retry_scheduled",
        "fermata",
        "completed",
        "failed",
        "skipped",
        "cancelled",
    ]


@pytest.mark.parametrize("status", list(SheetStatus))
def test_is_terminal_and_is_active(status: SheetStatus) -> None:
    assert status.is_terminal == (status.value in TERMINAL)
    assert status.is_active == (status.value in {"dispatched", "in_progress"})
    assert not (status.is_terminal and status.is_active)


def test_job_statuses_match_the_contract() -> None:
    assert {s.value for s in JobStatus} == {
        "pending",
        "running",
        "completed",
        "failed",
        "paused",
        "cancelled",
    }
    assert {s.value for s in JobStatus if s.is_terminal} == {"completed", "failed", "cancelled"}


# --- record_attempt -----------------------------------------------------------------------


def test_failed_attempt_consumes_retry_budget_and_adds_cost() -> None:
    sheet = SheetState(sheet_num=1)
    sheet.record_attempt(Outcome(cost_usd=0.5, duration_seconds=2.0, exit_code=1))
    assert sheet.normal_attempts == 1
    assert sheet.total_cost_usd == 0.5
    assert sheet.total_duration_seconds == 2.0
    assert sheet.attempt_results[-1]["exit_code"] == 1


@pytest.mark.parametrize(
    "outcome",
    [Outcome(execution_success=True), Outcome(rate_limited=True)],
    ids=["success", "rate-limited"],
)
def test_success_and_rate_limit_do_not_consume_budget(outcome: Outcome) -> None:
    sheet = SheetState(sheet_num=1)
    outcome.cost_usd = 0.25
    sheet.record_attempt(outcome)
    assert sheet.normal_attempts == 0
    assert len(sheet.attempt_results) == 1  # still recorded for history
    assert sheet.total_cost_usd == 0.25


def test_attempt_results_are_bounded() -> None:
    sheet = SheetState(sheet_num=1, max_retries=1000)
    for _ in range(MAX_ATTEMPT_RESULTS + 7):
        sheet.record_attempt(Outcome(rate_limited=True))
    assert len(sheet.attempt_results) == MAX_ATTEMPT_RESULTS


# --- budgets --------------------------------------------------------------------------------


def test_max_retries_is_the_total_number_of_failed_runs() -> None:
    sheet = SheetState(sheet_num=1, max_retries=3)
    runs = 0
    while sheet.can_retry:
        runs += 1
        sheet.record_attempt(Outcome())
    assert runs == 3
    assert not sheet.can_retry


@pytest.mark.parametrize("max_retries", [0, 1])
def test_zero_or_one_retry_allows_a_single_run(max_retries: int) -> None:
    sheet = SheetState(sheet_num=1, max_retries=max_retries)
    runs = 0
    while runs == 0 or sheet.can_retry:
        runs += 1
        sheet.record_attempt(Outcome())
    assert runs == 1


def test_completion_budget_and_exhaustion() -> None:
    sheet = SheetState(sheet_num=1, max_retries=1, max_completion=2)
    assert sheet.can_complete and not sheet.is_exhausted
    sheet.completion_attempts = 2
    assert not sheet.can_complete
    assert not sheet.is_exhausted  # retries remain
    sheet.normal_attempts = 1
    assert sheet.is_exhausted
    assert sheet.total_attempts == 3


# --- fallback -----------------------------------------------------------------------------------


def test_advance_fallback_switches_instrument_with_fresh_budgets() -> None:
    sheet = SheetState(
        sheet_num=1,
        instrument_name="claude",
        model="opus",
        fallback_chain=["codex", "gemini"],
        normal_attempts=3,
        completion_attempts=2,
    )
    assert sheet.has_fallback_available
    assert sheet.advance_fallback("rate_limit_exhausted") == "codex"
    assert sheet.instrument_name == "codex"
    assert sheet.model is None  # a fallback runs with its own default model
    assert (sheet.normal_attempts, sheet.completion_attempts) == (0, 0)
    assert sheet.fallback_attempts == {"claude": 3}
    record = sheet.instrument_fallback_history[-1]
    assert (record["from"], record["to"], record["reason"]) == (
        "claude",
        "codex",
        "rate_limit_exhausted",
    )
    assert sheet.advance_fallback("auth_failure") == "gemini"
    assert not sheet.has_fallback_available
    assert sheet.advance_fallback("again") is None
    assert sheet.instrument_name == "gemini"
    assert sheet.current_instrument_index == 2


def test_fallback_history_is_bounded() -> None:
    sheet = SheetState(sheet_num=1)
    for n in range(MAX_INSTRUMENT_FALLBACK_HISTORY + 5):
        sheet.add_fallback_to_history({"from": "a", "to": "b", "reason": str(n), "timestamp": ""})
    assert len(sheet.instrument_fallback_history) == MAX_INSTRUMENT_FALLBACK_HISTORY
    assert sheet.instrument_fallback_history[-1]["reason"] == str(
        MAX_INSTRUMENT_FALLBACK_HISTORY + 4
    )


def test_error_history_keeps_the_newest() -> None:
    sheet = SheetState(sheet_num=1)
    for n in range(MAX_ERROR_HISTORY + 3):
        sheet.add_error_to_history(CheckpointErrorRecord(error_message=f"e{n}", attempt_number=n))
    assert len(sheet.error_history) == MAX_ERROR_HISTORY
    assert sheet.error_history[0].error_message == "e3"
    assert sheet.error_history[-1].error_message == f"e{MAX_ERROR_HISTORY + 2}"


# --- capture_output ---------------------------------------------------------------------------


def test_capture_output_short_streams_are_kept_whole() -> None:
    sheet = SheetState(sheet_num=1)
    sheet.capture_output("hello\n", "")
    assert sheet.stdout_tail == "hello\n"
    assert sheet.stderr_tail is None
    assert not sheet.output_truncated


def test_capture_output_keeps_the_tail_and_flags_truncation() -> None:
    sheet = SheetState(sheet_num=1)
    sheet.capture_output("a" * 50 + "END", "err", max_bytes=10)
    assert sheet.stdout_tail == "aaaaaaaEND"
    assert sheet.stderr_tail == "err"
    assert sheet.output_truncated


def test_capture_output_exact_limit_is_not_truncated() -> None:
    sheet = SheetState(sheet_num=1)
    sheet.capture_output("x" * 10, "y" * 10, max_bytes=10)
    assert not sheet.output_truncated


@pytest.mark.parametrize("limit", range(1, 13))
def test_capture_output_never_splits_a_character(limit: int) -> None:
    sheet = SheetState(sheet_num=1)
    sheet.capture_output("é€😀ü", "", max_bytes=limit)  # 2 + 3 + 4 + 2 bytes
    tail = sheet.stdout_tail or ""
    assert "\ufffd" not in tail
    assert len(tail.encode()) <= limit
    assert "é€😀ü".endswith(tail)


def test_capture_output_redacts_before_cutting() -> None:
    key = "sk-ant-api03-" + "Q" * 60
    sheet = SheetState(sheet_num=1)
    # The cut falls in the middle of the key: only its second half would survive a
    # cut-then-redact, and that half alone no longer looks like a key.
    sheet.capture_output("start " + key + " end", key, max_bytes=40)
    assert "Q" not in (sheet.stdout_tail or "") + (sheet.stderr_tail or "")
    assert sheet.output_truncated


# --- model invariants and helpers ---------------------------------------------------------------


def test_status_invariants_on_validation() -> None:
    done = SheetState.model_validate({"sheet_num": 1, "status": "completed"})
    assert done.completed_at is not None
    running = SheetState.model_validate({"sheet_num": 2, "status": "in_progress"})
    assert running.started_at is not None
    failed = SheetState.model_validate({"sheet_num": 3, "status": "failed"})
    assert failed.error_message == UNKNOWN_FAILURE


def test_sheet_numbers_start_at_one() -> None:
    with pytest.raises(ValueError, match="greater than or equal to 1"):
        SheetState(sheet_num=0)


def test_applied_pattern_accessors_stay_in_step() -> None:
    sheet = SheetState(sheet_num=1)
    sheet.applied_pattern_ids = ["p1", "p2"]
    sheet.applied_pattern_descriptions = ["first", "second"]
    assert sheet.applied_patterns == [
        {"id": "p1", "description": "first"},
        {"id": "p2", "description": "second"},
    ]
    sheet.applied_pattern_ids = ["p3"]
    assert sheet.applied_pattern_descriptions == ["first"]


def test_to_dict_round_trip_keeps_extra_keys_of_free_form_records() -> None:
    sheet = SheetState(
        sheet_num=4,
        validation_details=[{"passed": True, "rule_type": "file_exists", "custom": 1}],
    )
    sheet.add_error_to_history(CheckpointErrorRecord(error_message="x", context={"exit_code": 2}))
    again = SheetState.from_dict(sheet.to_dict())
    assert again == sheet
    assert again.validation_details == [{"passed": True, "rule_type": "file_exists", "custom": 1}]


def test_attempt_summary_leaves_out_what_goes_without_saying() -> None:
    sheet = SheetState(sheet_num=1)
    sheet.attempt_count = 1
    sheet.record_attempt(Outcome(execution_success=True, duration_seconds=0.25))
    summary = sheet.attempt_results[-1]
    assert set(summary) == {"attempt", "success", "duration_seconds", "timestamp"}
    assert summary["timestamp"].endswith("Z")
    sheet.record_attempt(Outcome(rate_limited=True, cost_usd=0.5, exit_code=2))
    assert sheet.attempt_results[-1]["rate_limited"] is True
    assert sheet.attempt_results[-1]["cost_usd"] == 0.5
    assert sheet.attempt_results[-1]["exit_code"] == 2


def test_reset_fields_are_left_out_of_the_encoding() -> None:
    sheet = SheetState(sheet_num=1, total_duration_seconds=float("2.5"), execution_mode="retry")
    sheet.own_list("attempt_results").append({"attempt": 1})
    sheet.reset("total_duration_seconds", "execution_mode", "attempt_results")
    assert sheet.model_dump_json() == '{"sheet_num":1,"status":"pending"}'


def test_untouched_list_fields_share_one_object_that_cannot_change() -> None:
    first, second = SheetState(sheet_num=1), SheetState(sheet_num=2)
    assert first.error_history is second.error_history == []
    assert first.fallback_attempts is second.fallback_attempts == {}
    with pytest.raises(TypeError, match="shared empty default"):
        first.error_history.append({"error_type": "transient"})
    with pytest.raises(TypeError, match="shared empty default"):
        first.fallback_attempts["cli"] = 1
    first.own_list("fallback_chain").append("cli")
    first.own_dict("fallback_attempts")["cli"] = 1
    assert first.fallback_chain == ["cli"] and second.fallback_chain == []
    assert first.fallback_attempts == {"cli": 1} and second.fallback_attempts == {}
    # Copies and decoded sheets keep sharing it, so encoding still leaves it out.
    assert copy.deepcopy(second).error_history is second.error_history
    assert (
        SheetState.model_validate_json('{"sheet_num":3}').passed_validations
        is first.passed_validations
    )


def test_an_empty_list_of_its_own_is_stored_as_the_default_is() -> None:
    sheet = SheetState(sheet_num=1, passed_validations=[], fallback_attempts={})
    assert sheet.sharing_empties().model_dump_json() == '{"sheet_num":1,"status":"pending"}'
    assert sheet.sharing_empties() is not sheet and sheet.passed_validations == []
    shared = SheetState(sheet_num=1)
    assert shared.sharing_empties() is shared


def test_captured_output_is_redacted_cut_and_cleared_by_a_silent_attempt(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MZT_TEST_API_KEY", "s3cr3t-value-987654")
    sheet = SheetState(sheet_num=1)
    sheet.capture_output("x" * 50 + " s3cr3t-value-987654", "err", max_bytes=40)
    assert sheet.stdout_tail is not None and "s3cr3t" not in sheet.stdout_tail
    assert len(sheet.stdout_tail.encode()) <= 40 and sheet.stderr_tail == "err"
    assert sheet.output_truncated
    sheet.capture_output("", None)  # the next attempt printed nothing
    assert (sheet.stdout_tail, sheet.stderr_tail, sheet.output_truncated) == (None, None, False)
