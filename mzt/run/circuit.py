"""The run's circuit breakers: which attempts count, and what a sheet does while one is open.

What counts (see `outcome_of`): a failed execution (non-zero exit, timeout, silence,
crash, a binary that cannot start, bad credentials) is a failure of the instrument; a
successful execution is a success whatever its validations say (the instrument worked,
the work did not pass). Rate limits count neither way: they have their own records.
A stopped attempt (cancel, signal) counts neither way either. A deterministic
instrument's non-zero exit (the built-in `cli`: a script's own verdict) shows the
instrument working, so it counts as a success.

Before a sheet starts, its instrument's circuit is asked (`before_start`): open ⇒ the
sheet moves to a fallback whose circuit and rate limit let it run (reason
``circuit_open``) or waits, status WAITING, until the circuit's rest is over; no budget
is spent. Every transition this run makes or first sees is kept in the checkpoint's
``circuit_breaker_history`` and written as a ``circuit_breaker`` history event.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Literal

from mzt.execute.attempt import AttemptReport
from mzt.instruments import circuits, ratelimits
from mzt.instruments.circuits import Circuit, CircuitBook, FileCircuits, MemoryCircuits
from mzt.instruments.ratelimits import RateLimit
from mzt.score.instrumentation import InstrumentChoice
from mzt.score.models import CircuitBreakerConfig
from mzt.state import CheckpointState, JsonStateBackend, SheetState, SheetStatus
from mzt.support.redact import redact

Outcome = Literal["failure", "success", "neither"]
FALLBACK_REASON = "circuit_open"
LEASE_MARGIN = 60.0  # a trial's lease outlasts its attempt's timeout by this much
# How often a sheet held by another run's trial looks again: that trial may end (and close
# the circuit) with no event of this run to say so. This run's own trials wake their
# waiting sheets when they end.
TRIAL_POLL_SECONDS = 5.0


def _utc_now() -> datetime:
    return datetime.now(UTC)


def outcome_of(report: AttemptReport) -> Outcome:
    """How an attempt counts for its instrument's circuit (the module docstring's rules)."""
    if report.stopped:
        return "neither"
    error = report.error
    if error is not None and error.rate_limited:
        return "neither"
    if report.execution_success:
        return "success"
    if error is not None and error.deterministic:
        return "success"
    return "failure"


class Breakers:
    """Circuit-breaker decisions of one run (main thread only)."""

    def __init__(
        self,
        config: CircuitBreakerConfig,
        store: JsonStateBackend,
        job_id: str,
        chain_of: Callable[[int], list[InstrumentChoice]],
        *,
        fixed_instrument: bool = False,
        book: CircuitBook | None = None,
        rate_limited: Callable[[str], RateLimit | None] | None = None,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.config = config
        self.store = store
        self.job_id = job_id
        self.chain_of = chain_of
        # The run's view of the shared rate limits (`Limits.active`).
        self.rate_limited: Callable[[str], RateLimit | None] = rate_limited or ratelimits.active
        self.fixed_instrument = fixed_instrument  # --instrument: no fallbacks to move to
        shared = config.cross_workspace_coordination
        self.book: CircuitBook = book or (FileCircuits() if shared else MemoryCircuits())
        self.clock = clock
        self.notes: list[str] = []  # messages for the reporter
        self.trials: dict[int, tuple[str, str]] = {}  # sheet → (instrument, token)
        self.seen: set[tuple[str, str, str]] = set()  # (instrument, state, until) recorded
        self.noted: set[str] = set()  # damaged records already said
        self.held: dict[str, set[int]] = {}  # sheets waiting, by instrument

    @property
    def enabled(self) -> bool:
        return self.config.enabled

    # --- before an attempt ---------------------------------------------------------------------

    def before_start(self, state: CheckpointState, num: int) -> str | None:
        """None (go), "fallback" (moved to a fallback that may run) or "waiting"."""
        if not self.enabled:
            return None
        record = state.sheet(num)
        chain = self.chain_of(num)
        choice = chain[min(record.current_instrument_index, len(chain) - 1)]
        now = self.clock()
        token = self._token(num)
        lease = choice.timeout_seconds + LEASE_MARGIN
        admission: list[circuits.Admission] = []

        def ask(circuit: Circuit) -> Circuit:
            after, verdict = circuits.admit(circuit, token, lease, now)
            admission.append(verdict)
            return after

        before, after = self._update(choice.profile, ask, peek=True)
        self._observe(state, before, after, num)
        verdict = admission[-1]
        if verdict.allowed:
            if verdict.trial:
                self.trials[num] = (choice.profile, token)
            return None
        if self._to_fallback(record, chain, now):
            self.notes.append(
                f"sheet {num}: {choice.profile}'s circuit is open; moving to "
                f"{record.instrument_name}"
            )
            # The fallback's own circuit is asked in turn (it may be this attempt's trial);
            # each step moves further down the chain, so this ends.
            return self.before_start(state, num) or "fallback"
        until = verdict.until or now
        if verdict.holder and verdict.holder not in {t for _, t in self.trials.values()}:
            until = min(until, now + timedelta(seconds=TRIAL_POLL_SECONDS))
        record.status = SheetStatus.WAITING
        record.fire_at = until
        waiting = self.held.setdefault(choice.profile, set())
        if num not in waiting:
            waiting.add(num)
            self.store.record_event(
                state,
                "circuit_wait",
                sheet_num=num,
                instrument=choice.profile,
                until=_iso(until),
            )
        return "waiting"

    def _to_fallback(
        self, record: SheetState, chain: list[InstrumentChoice], now: datetime
    ) -> bool:
        """Move to the next fallback whose circuit is not resting and that is not rate
        limited; False (nothing moves) when there is none."""
        if self.fixed_instrument:
            return False
        start = record.current_instrument_index + 1
        free = next(
            (
                i
                for i in range(start, min(len(chain), len(record.fallback_chain) + 1))
                if self.book.get(chain[i].profile).seconds_left(now) == 0
                and self.rate_limited(chain[i].profile) is None
            ),
            None,
        )
        if free is None:
            return False
        if not record.instrument_name:  # never started: the history says what it leaves
            record.instrument_name = chain[record.current_instrument_index].name
        while record.current_instrument_index < free:
            record.advance_fallback(FALLBACK_REASON)
        record.status = SheetStatus.PENDING
        record.execution_mode = None
        return True

    # --- after an attempt ----------------------------------------------------------------------

    def attempt_finished(self, state: CheckpointState, report: AttemptReport) -> list[int]:
        """Count the attempt for its instrument; returns sheets to look at again (a circuit
        that closed frees the sheets waiting for it)."""
        num = report.spec.sheet_num
        trial = self.trials.pop(num, None)
        if not self.enabled:
            return []
        profile = trial[0] if trial else self._profile_of(report)
        token = trial[1] if trial else ""
        outcome = outcome_of(report)
        now = self.clock()
        if outcome == "neither":
            if not trial:
                return []
            before, after = self._update(profile, lambda c: circuits.released(c, token, now))
        elif outcome == "success":
            before, after = self._update(profile, lambda c: circuits.succeeded(c, now), peek=True)
        else:
            reason = redact(report.error.message if report.error else "the instrument failed")
            before, after = self._update(
                profile,
                lambda c: circuits.failed(
                    c,
                    threshold=self.config.failure_threshold,
                    rest=self.config.recovery_timeout_seconds,
                    now=now,
                    reason=reason,
                    job=self.job_id,
                ),
            )
        self._observe(state, before, after, num)
        if after.state == circuits.OPEN and after.seconds_left(now) > 0:
            return []
        return self._wake(state, profile, now)

    def abandon(self, num: int | None = None) -> None:
        """Give up the trial sheet ``num`` was admitted to (it never ran), or every trial
        this run holds (it stops)."""
        now = self.clock()
        for sheet in [num] if num is not None else list(self.trials):
            held = self.trials.pop(sheet, None) if sheet is not None else None
            if held is not None:
                profile, token = held
                self._update(profile, partial(circuits.released, token=token, now=now))

    def _wake(self, state: CheckpointState, profile: str, now: datetime) -> list[int]:
        woken = []
        for num in sorted(self.held.pop(profile, set())):
            record = state.sheet(num)
            if record.status == SheetStatus.WAITING:
                record.fire_at = now
                woken.append(num)
        return woken

    # --- shared -------------------------------------------------------------------------------

    def _update(
        self, profile: str, change: Callable[[Circuit], Circuit], *, peek: bool = False
    ) -> tuple[Circuit, Circuit]:
        """Apply ``change``; with ``peek``, a plain read first skips the lock when the
        change would leave the record as it is (the usual case: closed, no failures)."""
        if peek:
            current = self.book.get(profile)
            if not current.note and change(current) == current:
                return current, current
        return self.book.update(profile, change)

    def _observe(self, state: CheckpointState, before: Circuit, after: Circuit, num: int) -> None:
        """Record a transition made here, or an open circuit first met (another run's)."""
        for circuit in (before, after):
            if circuit.note and circuit.instrument not in self.noted:
                self.noted.add(circuit.instrument)
                self.notes.append(circuit.note)
        key = (after.instrument, after.state, _iso(after.until) or "")
        if after.state != before.state:
            trigger = _trigger(before, after)
        elif after.state == circuits.OPEN and key not in self.seen:
            trigger = f"seen_open (opened by {after.set_by_job or 'another run'})"
        else:
            return
        self.seen.add(key)
        state.record_circuit_breaker_change(after.state, trigger, after.consecutive_failures)
        state.circuit_breaker_history[-1]["instrument"] = after.instrument
        if after.until is not None and after.state == circuits.OPEN:
            state.circuit_breaker_history[-1]["until"] = _iso(after.until) or ""
        self.store.record_event(
            state,
            "circuit_breaker",
            sheet_num=num,
            instrument=after.instrument,
            circuit=after.state,
            trigger=trigger,
            consecutive_failures=after.consecutive_failures,
            **({"until": _iso(after.until)} if after.until else {}),
        )
        if after.state == circuits.OPEN and before.state != circuits.OPEN:
            self.notes.append(
                f"{after.instrument}: circuit open after {after.consecutive_failures} "
                f"failure(s) in a row, until {_iso(after.until)}"
            )
        elif after.state == circuits.CLOSED:
            self.notes.append(f"{after.instrument}: circuit closed (an attempt succeeded)")

    def _profile_of(self, report: AttemptReport) -> str:
        chain = self.chain_of(report.spec.sheet_num)
        by_name = {choice.name: choice.profile for choice in chain}
        return by_name.get(report.spec.instrument_name, report.spec.instrument_name)

    def _token(self, num: int) -> str:
        return f"{self.job_id}:{num}:{os.getpid()}"


def _trigger(before: Circuit, after: Circuit) -> str:
    if after.state == circuits.OPEN:
        return "trial_failed" if before.state == circuits.HALF_OPEN else "failure_recorded"
    if after.state == circuits.HALF_OPEN:
        return "recovery_timeout_elapsed"
    return "success_recorded"


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
