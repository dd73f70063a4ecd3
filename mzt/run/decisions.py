"""After an attempt: complete the sheet, finish it in completion mode, retry, fall back, or fail.

The rules, in order:

1. A rate-limited attempt waits; it consumes no retry budget.
2. Every applicable validation passed → completed (even after a non-zero exit). With no
   validations at all, the instrument must have succeeded.
3. A failure that retrying cannot fix (a crash, bad credentials, a missing binary) moves
   to the next fallback instrument if there is one, else fails the sheet.
4. More than ``completion_threshold_percent`` of the validations passed and completion
   attempts remain → completion mode: a short pause, then a prompt that names what is
   missing. Retry budget untouched.
5. Otherwise a full retry consumes budget. ``max_retries: N`` allows N failed full
   executions in all (the N-th failure is final; 0 and 1 both mean a single execution).
   When the budget is spent, the sheet moves to its next fallback instrument with fresh
   budgets, or fails. A deterministic command's own failure (a script's non-zero exit)
   is retried at once: a back-off only helps troubles that pass.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Literal

from mzt.instruments.classify import ErrorInfo
from mzt.score.models import RetryConfig
from mzt.support import records

Action = Literal["complete", "completion", "retry", "fallback", "fail", "wait"]


@records.record(frozen=True, slots=True)
class AttemptVerdict:
    """What an attempt showed: instrument success, validation pass rate, error if any."""

    execution_success: bool
    validations: int  # applicable rules
    passed: int
    error: ErrorInfo | None

    @property
    def pass_percent(self) -> float:
        return 100.0 if self.validations == 0 else self.passed / self.validations * 100


@records.record(frozen=True, slots=True)
class Decision:
    action: Action
    delay: float = 0.0
    reason: str = ""
    fallback_reason: str = ""


def retry_limit(config: RetryConfig) -> int:
    """Failed full executions allowed on one instrument (at least one execution)."""
    return max(1, config.max_retries)


def backoff(config: RetryConfig, retry: int, rng: Callable[[], float] = random.random) -> float:
    """Delay before full retry number ``retry`` (1-based), with optional jitter."""
    delay = min(
        config.base_delay_seconds * config.exponential_base ** (retry - 1),
        config.max_delay_seconds,
    )
    if config.jitter:
        delay *= 0.5 + rng()
    return delay


def decide(
    verdict: AttemptVerdict,
    *,
    config: RetryConfig,
    failed_executions: int,
    completion_attempts: int,
    has_fallback: bool,
    rng: Callable[[], float] = random.random,
) -> Decision:
    """Decide what follows an attempt. ``failed_executions`` counts earlier failed full
    executions on the current instrument, not this one."""
    error = verdict.error
    if error is not None and error.rate_limited:
        return Decision("wait", error.suggested_wait, error.message)
    if verdict.validations > 0 and verdict.passed == verdict.validations:
        return Decision("complete", reason="all validations passed")
    if verdict.validations == 0 and verdict.execution_success:
        return Decision("complete", reason="the instrument succeeded")
    # Without validations there is nothing to be "mostly done" with.
    above = verdict.validations > 0 and verdict.pass_percent > config.completion_threshold_percent
    if error is not None and not error.retriable and not above:
        if has_fallback:
            return Decision("fallback", reason=error.message, fallback_reason=_reason(error))
        return Decision("fail", reason=error.message)
    if above and completion_attempts < config.max_completion_attempts:
        missing = verdict.validations - verdict.passed
        return Decision(
            "completion",
            config.completion_delay_seconds,
            f"{verdict.passed}/{verdict.validations} validations passed; "
            f"finishing the {missing} missing",
        )
    failures = failed_executions + 1
    limit = retry_limit(config)
    why = _describe(verdict)
    if failures >= limit:
        exhausted = (
            f"{why}; {failures} failed execution{'s' if failures != 1 else ''} "
            f"and {completion_attempts} completion attempt"
            f"{'s' if completion_attempts != 1 else ''}"
        )
        if has_fallback:
            return Decision("fallback", reason=exhausted, fallback_reason=_exhaustion(verdict))
        return Decision("fail", reason=exhausted)
    if error is not None and error.deterministic:
        return Decision("retry", 0.0, why)
    return Decision("retry", backoff(config, failures, rng), why)


def _describe(verdict: AttemptVerdict) -> str:
    if verdict.error is not None and not verdict.execution_success:
        return verdict.error.message
    if verdict.validations:
        failing = verdict.validations - verdict.passed
        return f"{failing} of {verdict.validations} validations failed"
    return "the instrument failed"


def _reason(error: ErrorInfo) -> str:
    return {
        "E502": "auth_failure",
        "E505": "instrument_unavailable",
        "E003": "execution_crashed",
    }.get(error.code, "execution_failed")


def _exhaustion(verdict: AttemptVerdict) -> str:
    error = verdict.error
    if error is not None and not verdict.execution_success:
        if error.code == "E001":
            return "execution_timeout"
        if error.code == "E006":
            return "execution_stale"
        return "execution_failed"
    return "validation_failed" if verdict.passed == 0 else "validation_incomplete"
