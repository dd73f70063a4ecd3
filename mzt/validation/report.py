"""What a validation run found: one `RuleResult` per rule, gathered in a `ValidationReport`.

Apart from the engine that makes them (:mod:`mzt.validation.engine`): an attempt reports
them, and the wire carries them back from another node, also for a sheet with no rules,
which needs neither the engine nor the checks and templating it imports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mzt.support import records

if TYPE_CHECKING:  # the checkpoint's shape; its module (and msgspec) an attempt never needs
    from mzt.state.records import ValidationDetailDict
    from mzt.support.process import StopRequest
    from mzt.validation.checks import FailureCategory


@records.record(frozen=True, slots=True)
class RuleResult:
    """The verdict on one rule for one attempt.

    ``path`` is the expanded path (the raw template if it could not be expanded),
    ``command`` the command as a person reads it, ``checks`` how many times the rule
    ran (0 when skipped), ``output`` the redacted tail of a failing command's output.
    """

    index: int
    rule_type: str
    description: str | None
    stage: int
    path: str | None
    pattern: str | None
    command: str | None
    passed: bool
    skipped: bool
    checks: int
    error_message: str | None
    actual_value: Any
    expected_value: Any
    failure_category: FailureCategory | None
    suggested_fix: str | None
    checked_at: str
    duration_ms: float
    output: str = ""

    def detail(self) -> ValidationDetailDict:
        """This result in the checkpoint's ``validation_details`` shape."""
        message = self.error_message
        if message is not None and self.output:
            message = f"{message}\n{self.output}"
        detail: ValidationDetailDict = {
            "rule_type": self.rule_type,
            "description": self.description,
            "path": self.path,
            "pattern": self.pattern,
            "passed": self.passed,
            "actual_value": self.actual_value,
            "expected_value": self.expected_value,
            "error_message": message,
            "checked_at": self.checked_at,
            "check_duration_ms": self.duration_ms,
            "failure_reason": self.error_message,
            "failure_category": self.failure_category,
            "suggested_fix": self.suggested_fix,
        }
        return detail


@records.record(frozen=True, slots=True)
class ValidationReport:
    """All results of one validation run, in the order the rules were considered.

    ``stopped`` is the stop request that cut the run short, if any; rules it prevented
    from running are reported as skipped.
    """

    results: tuple[RuleResult, ...]
    stopped: StopRequest | None = None

    @property
    def pass_percent(self) -> float:
        """Passed rules / applicable rules × 100; 100.0 when no rule applies."""
        if not self.results:
            return 100.0
        return sum(r.passed for r in self.results) / len(self.results) * 100.0

    @property
    def all_passed(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def passed_indices(self) -> tuple[int, ...]:
        """Indices (into ``score.validations``) of the rules that passed."""
        return tuple(r.index for r in self.results if r.passed)

    @property
    def failed_indices(self) -> tuple[int, ...]:
        """Indices of the rules that did not pass, skipped ones included."""
        return tuple(r.index for r in self.results if not r.passed)

    def details(self) -> list[ValidationDetailDict]:
        """The results in the checkpoint's ``validation_details`` shape."""
        return [r.detail() for r in self.results]
