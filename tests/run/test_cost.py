from __future__ import annotations

import pytest

from mzt.instruments import InstrumentResult
from mzt.run.cost import ESTIMATE_CONFIDENCE, attempt_cost, over_limit, warning
from mzt.score.models import CostLimitConfig

RATES = CostLimitConfig(cost_per_1k_input_tokens=0.003, cost_per_1k_output_tokens=0.015)


def result(tokens_in: int | None, tokens_out: int | None, usd: float | None) -> InstrumentResult:
    return InstrumentResult(True, "ok", None, tokens_in, tokens_out, usd, ())


def test_plain_commands_cost_nothing() -> None:
    cost = attempt_cost(None, prompt="x" * 4000, output="y" * 4000, agent=False, rates=RATES)
    assert (cost.usd, cost.confidence) == (0.0, None)


def test_instrument_prices_win() -> None:
    cost = attempt_cost(result(100, 200, 0.5), prompt="", output="", agent=True, rates=RATES)
    assert (cost.usd, cost.confidence, cost.input_tokens) == (0.5, 1.0, 100)


def test_tokens_priced_at_the_score_rates() -> None:
    cost = attempt_cost(result(1000, 2000, None), prompt="", output="", agent=True, rates=RATES)
    assert cost.usd == pytest.approx(0.003 + 0.030)


def test_estimate_from_characters() -> None:
    cost = attempt_cost(
        result(None, None, None), prompt="p" * 4000, output="o" * 8000, agent=True, rates=RATES
    )
    assert (cost.input_tokens, cost.output_tokens, cost.confidence) == (
        1000,
        2000,
        ESTIMATE_CONFIDENCE,
    )


def test_limits() -> None:
    off = CostLimitConfig()
    assert over_limit(off, sheet_num=1, sheet_usd=99, job_usd=99) is None
    per_sheet = CostLimitConfig(max_cost_per_sheet=1.0)
    assert over_limit(per_sheet, sheet_num=2, sheet_usd=1.5, job_usd=1.5) is not None
    assert over_limit(per_sheet, sheet_num=2, sheet_usd=1.0, job_usd=9) is None
    per_job = CostLimitConfig(max_cost_per_job=2.0)
    assert "2.0000" in (over_limit(per_job, sheet_num=1, sheet_usd=0, job_usd=2.0) or "")
    disabled = CostLimitConfig(max_cost_per_job=2.0, enabled=False)
    assert over_limit(disabled, sheet_num=1, sheet_usd=0, job_usd=5) is None


def test_warning_threshold() -> None:
    limits = CostLimitConfig(max_cost_per_job=10.0, warn_at_percent=80)
    assert warning(limits, 7.9) is None
    assert "80%" in (warning(limits, 8.0) or "")
