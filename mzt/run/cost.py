"""What an attempt cost, and whether a job has spent what it may.

Tokens and prices come from the instrument when it reports them (its profile's model
prices turn tokens into dollars); otherwise the score's `cost_limits` rates price the
tokens, and when there are no token counts at all, about four characters of prompt and
output make a token (an estimate, marked with confidence 0.7). Instruments that run
plain commands (`cli`) cost nothing.
"""

from __future__ import annotations

from mzt.instruments import InstrumentResult
from mzt.score.models import CostLimitConfig
from mzt.support import records

CHARS_PER_TOKEN = 4
ESTIMATE_CONFIDENCE = 0.7


@records.record(frozen=True, slots=True)
class Cost:
    input_tokens: int | None
    output_tokens: int | None
    usd: float
    confidence: float | None  # None: nothing was spent (a plain command)


def attempt_cost(
    result: InstrumentResult | None,
    *,
    prompt: str,
    output: str,
    agent: bool,
    rates: CostLimitConfig,
) -> Cost:
    """The cost of one attempt."""
    if not agent:
        return Cost(None, None, 0.0, None)
    tokens_in = result.input_tokens if result else None
    tokens_out = result.output_tokens if result else None
    if result is not None and result.cost_usd is not None:
        return Cost(tokens_in, tokens_out, result.cost_usd, 1.0)
    confidence = 1.0
    if tokens_in is None and tokens_out is None:
        tokens_in = len(prompt) // CHARS_PER_TOKEN
        tokens_out = len(output) // CHARS_PER_TOKEN
        confidence = ESTIMATE_CONFIDENCE
    usd = (tokens_in or 0) / 1000 * rates.cost_per_1k_input_tokens + (
        tokens_out or 0
    ) / 1000 * rates.cost_per_1k_output_tokens
    return Cost(tokens_in, tokens_out, usd, confidence)


def over_limit(
    limits: CostLimitConfig, *, sheet_num: int, sheet_usd: float, job_usd: float
) -> str | None:
    """Why the job must pause for its cost limits, or None."""
    if not limits.active:
        return None
    if limits.max_cost_per_sheet is not None and sheet_usd > limits.max_cost_per_sheet:
        return (
            f"Cost limit: sheet {sheet_num} spent ${sheet_usd:.4f}, over its limit of "
            f"${limits.max_cost_per_sheet:.4f} (cost_limits.max_cost_per_sheet)"
        )
    if limits.max_cost_per_job is not None and job_usd >= limits.max_cost_per_job:
        return (
            f"Cost limit: the job spent ${job_usd:.4f} of its ${limits.max_cost_per_job:.4f} "
            "(cost_limits.max_cost_per_job)"
        )
    return None


def warning(limits: CostLimitConfig, job_usd: float) -> str | None:
    """A warning once the job has spent `warn_at_percent` of its limit, else None."""
    if not limits.active or limits.max_cost_per_job is None:
        return None
    share = job_usd / limits.max_cost_per_job * 100
    if share >= limits.warn_at_percent:
        return (
            f"the job has spent ${job_usd:.4f}, {share:.0f}% of its "
            f"${limits.max_cost_per_job:.4f} limit"
        )
    return None
