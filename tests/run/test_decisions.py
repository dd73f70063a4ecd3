"""What follows an attempt: complete, completion mode, retry, fall back, fail or wait."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from mzt.instruments.classify import ErrorInfo
from mzt.run.decisions import AttemptVerdict, Decision, backoff, decide, retry_limit
from mzt.score.models import RetryConfig

RATE_LIMIT = ErrorInfo("E101", "rate_limit", True, "rate limited", 3600)
QUOTA = ErrorInfo("E104", "rate_limit", True, "usage quota exhausted", 7200)
CAPACITY = ErrorInfo("E103", "rate_limit", True, "the service is over capacity", 300)
EXIT_1 = ErrorInfo("E009", "transient", True, "exited with status 1", 10)
TIMEOUT = ErrorInfo("E001", "timeout", True, "timed out after 1800 s", 60)
STALE = ErrorInfo("E006", "timeout", True, "stopped: no output for too long", 120)
KILLED = ErrorInfo("E002", "signal", True, "killed by SIGTERM", 30)
CRASH = ErrorInfo("E003", "fatal", False, "crashed (SIGSEGV)")
OOM = ErrorInfo("E005", "fatal", False, "killed, apparently out of memory")
INTERRUPTED = ErrorInfo("E004", "signal", False, "interrupted (SIGINT)")
AUTH = ErrorInfo("E502", "auth", False, "authentication failed")
MISSING_BINARY = ErrorInfo("E505", "configuration", False, "Executable not found: claude")
VALIDATION = ErrorInfo("E201", "validation", True, "out.md does not exist", 5)


def no_rng() -> float:
    raise AssertionError("jitter must not be drawn here")


def fixed(value: float) -> Callable[[], float]:
    return lambda: value


def config(**overrides: object) -> RetryConfig:
    """Defaults of the score format, with jitter off so delays are exact."""
    values: dict[str, object] = {"jitter": False}
    values.update(overrides)
    return RetryConfig.model_validate(values)


def verdict(
    *,
    ok: bool = False,
    validations: int = 0,
    passed: int = 0,
    error: ErrorInfo | None = None,
) -> AttemptVerdict:
    return AttemptVerdict(execution_success=ok, validations=validations, passed=passed, error=error)


def run(
    v: AttemptVerdict,
    *,
    cfg: RetryConfig | None = None,
    failed: int = 0,
    completions: int = 0,
    fallback: bool = False,
    rng: Callable[[], float] = no_rng,
) -> Decision:
    return decide(
        v,
        config=cfg or config(),
        failed_executions=failed,
        completion_attempts=completions,
        has_fallback=fallback,
        rng=rng,
    )


# --- AttemptVerdict ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("validations", "passed", "percent"),
    [(0, 0, 100.0), (4, 0, 0.0), (4, 1, 25.0), (3, 2, 200 / 3), (2, 2, 100.0)],
)
def test_pass_percent(validations: int, passed: int, percent: float) -> None:
    assert verdict(validations=validations, passed=passed).pass_percent == pytest.approx(percent)


# --- 1. rate limits ---------------------------------------------------------------------------


@pytest.mark.parametrize("error", [RATE_LIMIT, QUOTA, CAPACITY], ids=lambda e: e.code)
def test_rate_limited_attempt_waits_the_suggested_time(error: ErrorInfo) -> None:
    decision = run(verdict(validations=2, passed=0, error=error))
    assert decision.action == "wait"
    assert decision.delay == error.suggested_wait
    assert decision.reason == error.message


def test_rate_limit_consumes_no_budget_even_when_the_budget_is_spent() -> None:
    # The last allowed failure has already happened: any other failure would be final.
    cfg = config(max_retries=3)
    v = verdict(validations=2, passed=0, error=RATE_LIMIT)
    for fallback in (False, True):
        assert run(v, cfg=cfg, failed=2, completions=5, fallback=fallback).action == "wait"
    assert run(verdict(validations=2, passed=0, error=EXIT_1), cfg=cfg, failed=2).action == "fail"


def test_rate_limit_is_checked_before_the_validations() -> None:
    decision = run(verdict(ok=False, validations=2, passed=2, error=QUOTA))
    assert decision.action == "wait"


# --- 2. completion ----------------------------------------------------------------------------


def test_all_validations_passing_completes() -> None:
    decision = run(verdict(ok=True, validations=3, passed=3))
    assert decision == Decision("complete", reason="all validations passed")


@pytest.mark.parametrize("error", [EXIT_1, TIMEOUT, KILLED, CRASH, AUTH], ids=lambda e: e.code)
def test_all_validations_passing_completes_even_after_a_failed_execution(
    error: ErrorInfo,
) -> None:
    decision = run(verdict(ok=False, validations=2, passed=2, error=error), failed=2)
    assert decision.action == "complete"
    assert decision.delay == 0


def test_no_validations_and_instrument_success_completes() -> None:
    decision = run(verdict(ok=True))
    assert decision == Decision("complete", reason="the instrument succeeded")


def test_no_validations_needs_instrument_success() -> None:
    decision = run(verdict(ok=False, error=EXIT_1))
    assert decision.action == "retry"
    assert decision.reason == "exited with status 1"


def test_no_validations_failure_without_an_error_retries() -> None:
    decision = run(verdict(ok=False))
    assert decision.action == "retry"
    assert decision.reason == "the instrument failed"


# --- 3. failures retrying cannot fix ----------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (AUTH, "auth_failure"),
        (MISSING_BINARY, "instrument_unavailable"),
        (CRASH, "execution_crashed"),
        (OOM, "execution_failed"),
        (INTERRUPTED, "execution_failed"),
    ],
    ids=lambda x: x.code if isinstance(x, ErrorInfo) else x,
)
def test_non_retriable_error_falls_back_when_a_fallback_exists(
    error: ErrorInfo, reason: str
) -> None:
    decision = run(verdict(validations=2, passed=0, error=error), fallback=True)
    assert decision == Decision("fallback", reason=error.message, fallback_reason=reason)


@pytest.mark.parametrize("error", [AUTH, MISSING_BINARY, CRASH, OOM], ids=lambda e: e.code)
def test_non_retriable_error_fails_without_a_fallback(error: ErrorInfo) -> None:
    decision = run(verdict(validations=2, passed=0, error=error))
    assert decision == Decision("fail", reason=error.message)


def test_non_retriable_error_ignores_remaining_budgets() -> None:
    cfg = config(max_retries=10, max_completion_attempts=10)
    decision = run(verdict(validations=4, passed=1, error=AUTH), cfg=cfg)
    assert decision.action == "fail"


def test_non_retriable_error_at_exactly_the_threshold_still_fails() -> None:
    # 1 of 2 is 50 %, which is not *above* the default threshold of 50.
    decision = run(verdict(validations=2, passed=1, error=CRASH))
    assert decision.action == "fail"


def test_non_retriable_error_above_the_threshold_finishes_in_completion_mode() -> None:
    decision = run(verdict(validations=4, passed=3, error=CRASH), completions=0)
    assert decision.action == "completion"


def test_non_retriable_error_above_the_threshold_without_completion_budget_retries() -> None:
    cfg = config(max_completion_attempts=2)
    decision = run(verdict(validations=4, passed=3, error=CRASH), cfg=cfg, completions=2)
    assert decision.action == "retry"


@pytest.mark.parametrize(
    ("error", "fallback", "expected"),
    [
        (MISSING_BINARY, False, "fail"),
        (AUTH, False, "fail"),
        (CRASH, True, "fallback"),
    ],
    ids=["E505-fail", "E502-fail", "E003-fallback"],
)
def test_non_retriable_error_without_validations_is_not_retried(
    error: ErrorInfo, fallback: bool, expected: str
) -> None:
    decision = run(verdict(ok=False, error=error), fallback=fallback)
    assert decision.action == expected


# --- 4. completion mode -----------------------------------------------------------------------


def test_completion_mode_above_the_threshold() -> None:
    cfg = config(completion_delay_seconds=7.5)
    decision = run(verdict(ok=True, validations=3, passed=2, error=VALIDATION), cfg=cfg)
    assert decision == Decision(
        "completion", 7.5, "2/3 validations passed; finishing the 1 missing"
    )


def test_completion_mode_leaves_the_retry_budget_alone() -> None:
    # The retry budget is spent, yet completion mode still applies.
    cfg = config(max_retries=2)
    decision = run(verdict(ok=True, validations=5, passed=4), cfg=cfg, failed=1)
    assert decision.action == "completion"


def test_completion_mode_after_a_failed_execution() -> None:
    decision = run(verdict(ok=False, validations=4, passed=3, error=EXIT_1))
    assert decision.action == "completion"


@pytest.mark.parametrize(
    ("threshold", "validations", "passed", "action"),
    [
        (50.0, 2, 1, "retry"),  # exactly 50 % is not above 50
        (50.0, 3, 2, "completion"),
        (75.0, 4, 3, "retry"),  # exactly 75 %
        (74.9, 4, 3, "completion"),
        (20.0, 5, 1, "retry"),  # exactly 20 %
        (19.0, 5, 1, "completion"),
        (100.0, 10, 9, "retry"),  # nothing below 100 % is above 100
    ],
)
def test_threshold_boundary(threshold: float, validations: int, passed: int, action: str) -> None:
    cfg = config(completion_threshold_percent=threshold)
    decision = run(verdict(ok=True, validations=validations, passed=passed), cfg=cfg)
    assert decision.action == action


def test_completion_attempts_run_out_then_a_full_retry() -> None:
    cfg = config(max_completion_attempts=3, base_delay_seconds=10)
    v = verdict(ok=True, validations=4, passed=3)
    assert [run(v, cfg=cfg, completions=n).action for n in range(4)] == [
        "completion",
        "completion",
        "completion",
        "retry",
    ]


def test_no_completion_mode_when_completion_attempts_are_zero() -> None:
    cfg = config(max_completion_attempts=0)
    assert run(verdict(ok=True, validations=4, passed=3), cfg=cfg).action == "retry"


def test_no_completion_mode_when_nothing_passed() -> None:
    assert run(verdict(ok=True, validations=4, passed=0)).action == "retry"


# --- 5. full retries and the budget -----------------------------------------------------------


def test_full_retry_waits_the_backoff_of_its_number() -> None:
    cfg = config(max_retries=5, base_delay_seconds=10, exponential_base=2)
    v = verdict(ok=True, validations=2, passed=0)
    delays = [run(v, cfg=cfg, failed=n).delay for n in range(4)]
    assert delays == [10, 20, 40, 80]


def test_a_deterministic_failure_spends_the_budget_without_waiting() -> None:
    script_failed = ErrorInfo("E009", "fatal", True, "exited with status 1", deterministic=True)
    cfg = config(max_retries=3, base_delay_seconds=10)
    v = verdict(ok=False, validations=1, passed=0, error=script_failed)
    decisions = [run(v, cfg=cfg, failed=n) for n in range(3)]
    assert [(d.action, d.delay) for d in decisions] == [("retry", 0.0), ("retry", 0.0), ("fail", 0)]
    # The same exit of a service (an agent CLI) is waited out.
    assert run(verdict(ok=False, validations=1, error=EXIT_1), cfg=cfg).delay == 10


def test_full_retry_reason_describes_the_failure() -> None:
    assert run(verdict(ok=True, validations=4, passed=1)).reason == "3 of 4 validations failed"
    failed_run = verdict(ok=False, validations=4, passed=0, error=TIMEOUT)
    assert run(failed_run).reason == "timed out after 1800 s"


def test_full_retry_uses_the_injected_jitter() -> None:
    cfg = config(jitter=True, base_delay_seconds=10)
    v = verdict(ok=True, validations=2, passed=0)
    assert run(v, cfg=cfg, rng=fixed(0.0)).delay == pytest.approx(5.0)
    assert run(v, cfg=cfg, rng=fixed(0.9)).delay == pytest.approx(14.0)


@pytest.mark.parametrize(("max_retries", "executions"), [(0, 1), (1, 1), (2, 2), (3, 3), (5, 5)])
def test_max_retries_is_the_total_number_of_failed_executions(
    max_retries: int, executions: int
) -> None:
    cfg = config(max_retries=max_retries)
    v = verdict(ok=False, validations=1, passed=0, error=EXIT_1)
    actions = []
    failed = 0
    while True:
        decision = run(v, cfg=cfg, failed=failed)
        actions.append(decision.action)
        if decision.action != "retry":
            break
        failed += 1
    assert actions == ["retry"] * (executions - 1) + ["fail"]
    assert retry_limit(cfg) == executions


def test_exhausted_budget_fails_with_counts() -> None:
    cfg = config(max_retries=3)
    decision = run(verdict(ok=True, validations=2, passed=0), cfg=cfg, failed=2, completions=0)
    assert decision == Decision(
        "fail", reason="2 of 2 validations failed; 3 failed executions and 0 completion attempts"
    )


def test_exhausted_reason_uses_singular_forms() -> None:
    # 2/3 is above the threshold, but with max_completion_attempts 1 none remain.
    cfg = config(max_retries=1, max_completion_attempts=1)
    v = verdict(ok=False, validations=3, passed=2, error=EXIT_1)
    decision = run(v, cfg=cfg, failed=0, completions=1)
    assert decision.action == "fail"
    assert decision.reason == ("exited with status 1; 1 failed execution and 1 completion attempt")


@pytest.mark.parametrize(
    ("v", "reason"),
    [
        (verdict(ok=False, validations=2, passed=0, error=TIMEOUT), "execution_timeout"),
        (verdict(ok=False, validations=2, passed=0, error=STALE), "execution_stale"),
        (verdict(ok=False, validations=2, passed=0, error=EXIT_1), "execution_failed"),
        (verdict(ok=False, validations=2, passed=0, error=KILLED), "execution_failed"),
        (verdict(ok=False, error=EXIT_1), "execution_failed"),
        (verdict(ok=True, validations=2, passed=0, error=VALIDATION), "validation_failed"),
        (verdict(ok=True, validations=4, passed=1, error=VALIDATION), "validation_incomplete"),
        (verdict(ok=True, validations=4, passed=3), "validation_incomplete"),
    ],
    ids=[
        "timeout",
        "stale",
        "exit",
        "signal",
        "no-validations",
        "none-passed",
        "some-passed",
        "completion-spent",
    ],
)
def test_exhausted_budget_falls_back_with_a_reason(v: AttemptVerdict, reason: str) -> None:
    cfg = config(max_retries=2, max_completion_attempts=1)
    decision = run(v, cfg=cfg, failed=1, completions=1, fallback=True)
    assert decision.action == "fallback"
    assert decision.fallback_reason == reason
    assert "2 failed executions and 1 completion attempt" in decision.reason


def test_retry_does_not_consult_the_fallback_before_the_budget_is_spent() -> None:
    cfg = config(max_retries=3)
    v = verdict(ok=False, validations=2, passed=0, error=TIMEOUT)
    assert run(v, cfg=cfg, failed=1, fallback=True).action == "retry"
    assert run(v, cfg=cfg, failed=2, fallback=True).action == "fallback"


# --- backoff ----------------------------------------------------------------------------------


def test_backoff_is_exponential() -> None:
    cfg = config(base_delay_seconds=10, exponential_base=2, max_delay_seconds=3600)
    assert [backoff(cfg, k, no_rng) for k in range(1, 6)] == [10, 20, 40, 80, 160]


def test_backoff_with_another_base() -> None:
    cfg = config(base_delay_seconds=2, exponential_base=3, max_delay_seconds=3600)
    assert [backoff(cfg, k, no_rng) for k in range(1, 5)] == [2, 6, 18, 54]


def test_backoff_is_capped() -> None:
    cfg = config(base_delay_seconds=10, exponential_base=2, max_delay_seconds=50)
    assert [backoff(cfg, k, no_rng) for k in range(1, 7)] == [10, 20, 40, 50, 50, 50]
    assert backoff(cfg, 200, no_rng) == 50


@pytest.mark.parametrize(("draw", "factor"), [(0.0, 0.5), (0.25, 0.75), (0.5, 1.0), (0.999, 1.499)])
def test_backoff_jitter_multiplies_by_half_to_one_and_a_half(draw: float, factor: float) -> None:
    cfg = config(jitter=True, base_delay_seconds=10, exponential_base=2)
    assert backoff(cfg, 3, fixed(draw)) == pytest.approx(40 * factor)


def test_backoff_jitter_applies_to_the_capped_delay() -> None:
    cfg = config(jitter=True, base_delay_seconds=10, max_delay_seconds=30)
    assert backoff(cfg, 10, fixed(0.0)) == pytest.approx(15.0)
    assert backoff(cfg, 10, fixed(0.75)) == pytest.approx(37.5)


def test_backoff_jitter_stays_in_range_with_the_default_rng() -> None:
    cfg = config(jitter=True, base_delay_seconds=10)
    delays = [backoff(cfg, 1) for _ in range(500)]
    assert all(5.0 <= d < 15.0 for d in delays)
    assert len(set(delays)) > 1
