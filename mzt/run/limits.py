"""The limits a run respects: shared rate limits and the score's cost limits.

Rate limits belong to an instrument (its account), not to a job: a limit one run hits
is recorded for every run, and sheets move to a fallback that is not limited or wait
until it expires. Sheets waiting on one limit count as one wait; when the waits run out
the job pauses. Costs add up per attempt, sheet and job; a cost limit pauses the job.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from mzt.execute.attempt import AttemptReport
from mzt.instruments import ratelimits
from mzt.instruments.ratelimits import RateLimit
from mzt.run.cost import Cost, attempt_cost, over_limit, warning
from mzt.run.decisions import Decision
from mzt.score.instrumentation import InstrumentChoice
from mzt.score.models import Score
from mzt.state import CheckpointState, JobStatus, JsonStateBackend, SheetState, SheetStatus

MAX_RATE_LIMIT_WAIT = 24 * 3600.0  # whatever the output says, check again within a day


class Limits:
    """Rate-limit and cost bookkeeping of one run (main thread only)."""

    def __init__(
        self,
        score: Score,
        store: JsonStateBackend,
        job_id: str,
        chain_of: Callable[[int], list[InstrumentChoice]],
        *,
        fixed_instrument: bool = False,
    ) -> None:
        self.score = score
        self.store = store
        self.job_id = job_id
        self.chain_of = chain_of
        self.fixed_instrument = fixed_instrument  # --instrument: no fallbacks to move to
        self.waited: set[tuple[str, datetime]] = set()  # rate-limit episodes already counted
        self.notes: list[str] = []  # messages for the reporter (cost warnings)
        self.cost_warned = False

    def account(self, state: CheckpointState, record: SheetState, report: AttemptReport) -> Cost:
        """Tokens and cost of the attempt, added to the sheet's and the job's totals."""
        instrument = report.spec.instrument
        cost = attempt_cost(
            report.result,
            prompt=report.spec.prompt,
            output=report.outcome.stdout_tail,
            agent=instrument is not None and not instrument.raw_prompt,
            rates=self.score.cost_limits,
        )
        record.input_tokens = cost.input_tokens
        record.output_tokens = cost.output_tokens
        # No confidence: nothing was estimated (an instrument that is not an agent).
        record.estimated_cost = cost.usd if cost.confidence is not None else None
        record.cost_confidence = cost.confidence
        state.total_input_tokens += cost.input_tokens or 0
        state.total_output_tokens += cost.output_tokens or 0
        state.total_estimated_cost += cost.usd
        return cost

    def check_budget(self, state: CheckpointState, num: int | None = None) -> None:
        """Pause the job when a cost limit is reached; note a warning when one is near."""
        limits = self.score.cost_limits
        if not limits.active or state.status == JobStatus.PAUSED:
            return
        sheet_usd = state.sheet(num).total_cost_usd if num is not None else 0.0
        reason = over_limit(
            limits, sheet_num=num or 0, sheet_usd=sheet_usd, job_usd=state.total_estimated_cost
        )
        if reason is not None:
            state.cost_limit_reached = True
            state.mark_job_paused()
            state.error_message = reason
            return
        note = warning(limits, state.total_estimated_cost)
        if note is not None and not self.cost_warned:
            self.cost_warned = True
            self.notes.append(note)

    def rate_limited(
        self, state: CheckpointState, record: SheetState, decision: Decision
    ) -> tuple[str | None, float]:
        """Share the limit with sibling runs, then move to a free fallback or wait."""
        limits = self.score.rate_limit
        wait = decision.delay or limits.wait_minutes * 60
        wait = min(max(wait, limits.min_wait_seconds), MAX_RATE_LIMIT_WAIT)
        profile = self.profile(record.sheet_num, record.current_instrument_index)
        until = datetime.now(UTC) + timedelta(seconds=wait)
        limit = ratelimits.record(profile, until, decision.reason, self.job_id)
        moved = self.to_free_fallback(record, "rate_limited")
        if moved is None:
            self.wait_for(state, record, limit, quota=record.error_code == "E104")
        return moved, wait

    def before_start(self, state: CheckpointState, num: int) -> str | None:
        """Respect a limit this or a sibling run recorded for the sheet's instrument.

        Returns None (no limit), "fallback" (moved to a fallback that is not limited) or
        "waiting" (parked until the limit expires).
        """
        record = state.sheet(num)
        limit = self.active(self.profile(num, record.current_instrument_index))
        if limit is None:
            return None
        if self.to_free_fallback(record, "rate_limited"):
            return "fallback"
        self.wait_for(state, record, limit, quota=False)
        return "waiting"

    def active(self, instrument: str) -> RateLimit | None:
        """The instrument's limit in force for this run: with
        ``circuit_breaker.honor_other_jobs_rate_limits`` off (forced off without
        ``cross_workspace_coordination``), only the limits this job recorded."""
        limit = ratelimits.active(instrument)
        breaker = self.score.circuit_breaker
        honour = breaker.honor_other_jobs_rate_limits and breaker.cross_workspace_coordination
        if limit is not None and not honour and limit.set_by_job != self.job_id:
            return None
        return limit

    def to_free_fallback(self, record: SheetState, reason: str) -> str | None:
        """Move to the next fallback instrument that is not limited; its name, or None.

        Nothing moves when every fallback is limited too: the sheet then waits for its
        own instrument rather than using up the chain.
        """
        if self.fixed_instrument:
            return None
        chain = self.chain_of(record.sheet_num)
        start = record.current_instrument_index + 1
        free = next(
            (i for i in range(start, len(chain)) if self.active(chain[i].profile) is None),
            None,
        )
        if free is None or free > len(record.fallback_chain):
            return None
        target = None
        while record.current_instrument_index < free:
            target = record.advance_fallback(reason)
        record.status = SheetStatus.PENDING
        record.execution_mode = None
        return target

    def wait_for(
        self, state: CheckpointState, record: SheetState, limit: RateLimit, *, quota: bool
    ) -> None:
        """Park the sheet until the limit expires; too many waits pause the job."""
        record.status = SheetStatus.WAITING
        record.fire_at = limit.limited_until
        record.rate_limit_expires_at = limit.limited_until
        episode = (limit.instrument, limit.limited_until)
        if episode in self.waited:
            return  # sheets waiting on one limit together count as one wait
        self.waited.add(episode)
        limits = self.score.rate_limit
        if quota:
            state.quota_waits += 1
            exhausted = state.quota_waits >= limits.max_quota_waits
        else:
            state.rate_limit_waits += 1
            exhausted = state.rate_limit_waits >= limits.max_waits
        self.store.record_event(
            state,
            "rate_limit_wait",
            sheet_num=record.sheet_num,
            instrument=limit.instrument,
            until=limit.to_json()["limited_until"],
            reason=limit.reason,
        )
        if exhausted:
            kind = "quota" if quota else "rate-limit"
            state.resume_at = limit.limited_until
            state.mark_job_paused()
            state.error_message = (
                f"paused after {state.quota_waits if quota else state.rate_limit_waits} {kind} "
                f"wait(s) on {limit.instrument}; the limit should clear at "
                f"{limit.to_json()['limited_until']} ({limit.reason})"
            )

    def profile(self, num: int, index: int) -> str:
        chain = self.chain_of(num)
        return chain[min(index, len(chain) - 1)].profile
