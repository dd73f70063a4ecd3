"""The run loop: drive every sheet of a job to completed, failed or skipped.

Outline of `Runner.run` (the lock is held throughout and released on every path):

1. Take the job's run lock (exit 75 when held), load its checkpoint, decide what this
   run is: fresh, a continuation (failed, cancelled, interrupted and blocked sheets go
   back to pending with fresh budgets) or nothing to do.
2. Mark the job running (pid, writer, score snapshot), register it, clear stale
   pause/cancel files.
3. Loop until nothing is left: honour signals, the cancel and pause files; skip or
   block sheets that cannot run; launch ready sheets (dependencies met, backoff
   elapsed) up to the concurrency limit; wait for one to finish; apply its report
   (result → validations → decision) to the checkpoint, the main thread its only writer.
4. Settle the final status and exit code, compact the checkpoint.
"""

from __future__ import annotations

import contextlib
import os
import random
import time
from collections.abc import Callable, Mapping

from mzt.execute.attempt import AttemptReport
from mzt.execute.base import AttemptHandle, Executor, Placed
from mzt.execute.choice import SLURM, executor_factory
from mzt.instruments import Registry
from mzt.run.after.hooks import make_after_run
from mzt.run.bookkeeping import Bookkeeper
from mzt.run.control import Controls
from mzt.run.dead_run import DeadRun, announce
from mzt.run.machine_gate import Hold, MachineGate, load_config
from mzt.run.notify.notifying import with_notifications
from mzt.run.opening import NOTHING_TO_DO
from mzt.run.preflight import override_note
from mzt.run.reporting import NullReporter, Reporter
from mzt.run.results import NOTHING_TO_DO_MESSAGE, RunOptions, RunResult, result_of
from mzt.run.sheetrun import PromptError, SheetPreparer
from mzt.run.workspace.isolation import Isolation
from mzt.score.bounds import RenderStopped
from mzt.score.preparation import PreparedScore
from mzt.state import CheckpointState, JobStatus, JsonStateBackend
from mzt.state.relocation import confirm_state_dir, settle_state_dir, target_dir
from mzt.support import paths, records
from mzt.support.collector import long_lived
from mzt.support.exitcodes import ExitCode, signal_exit_code
from mzt.support.fsutil import ensure_private_dir

TICK = 0.25
_HELD = {
    "rate_limited": "the instrument is rate limited",
    "circuit_open": "the instrument's circuit breaker is open",
}


@records.record
class _Loop:
    in_flight: dict[int, AttemptHandle] = records.field(default_factory=dict)
    pausing: str = ""  # why the run pauses once running attempts are done
    halted: bool = False  # a failure under parallel.fail_fast: start nothing new
    last_launch: float = 0.0
    next_allowed: float = 0.0  # pause_between_sheets in sequential mode
    stopped: set[int] = records.field(default_factory=set)  # attempts a stop request cut short
    just_placed: bool = False  # the last event only placed an attempt: no sheet boundary
    recheck: float = 0.0  # a sheet waits for machine slots: look again within this long


class Runner:
    """Runs one prepared score in this process."""

    def __init__(
        self,
        prepared: PreparedScore,
        *,
        instruments: Registry,
        options: RunOptions | None = None,
        reporter: Reporter | None = None,
        environ: Mapping[str, str] | None = None,
        rng: Callable[[], float] = random.random,
        executor: Callable[[int], Executor] | None = None,
    ) -> None:
        self.prepared = prepared
        self.score = prepared.loaded.score
        self.plan = prepared.plan
        self.workspace = prepared.workspace
        self.job_id = prepared.job_id
        self.options = options or RunOptions()
        self.reporter = reporter or NullReporter()
        self.environ = dict(os.environ if environ is None else environ)
        self.controls = Controls(self.workspace, self.job_id)
        self.store = JsonStateBackend(self.workspace, allow_foreign_host=self.options.take_over)
        self.book = Bookkeeper(prepared, self.store, self.options, rng=rng)
        self.isolation = Isolation(
            prepared, self.book, lambda text: self.reporter.note(text), self.options.instrument
        )
        self.sheets = SheetPreparer(
            prepared,
            instruments,
            self.environ,
            self.options.instrument,
            stop_asked=lambda: self.controls.interrupted or self.controls.cancel_requested(),
            place=self.isolation.workdir,
        )
        self.book.chain_of = lambda num: self.sheets.chain(self.plan.sheet(num))
        parallel = self.score.parallel
        self.max_concurrent = parallel.max_concurrent if parallel.enabled else 1
        config = load_config(self.environ)
        self.executor_name = self.options.executor or config.executor
        # Where attempts run, made per run from the concurrency limit; the runner uses
        # nothing but the executor interface.
        self.make_executor = executor or executor_factory(
            self.executor_name, config, self.workspace, self.job_id, self.score.slurm
        )
        self.pool: Executor | None = None
        self.gate = MachineGate(self.job_id, self.workspace, config, wake=self._wake)
        self.dead_run = DeadRun(self.executor_name, self.job_id, self.workspace, self.environ)
        self.after = make_after_run(
            prepared,
            environ=self.environ,
            store=self.store,
            controls=self.controls,
            reporter=self.reporter,
            resume=self.options.resume,
        )
        self.stopped_sheets: tuple[int, ...] = ()

    # --- lifecycle ---------------------------------------------------------------------------

    def run(self) -> RunResult:
        with contextlib.closing(self.gate):  # also when the workspace cannot be made
            if self.executor_name == SLURM:
                from mzt.execute import slurm_cli  # a local run has no use for the client

                slurm_cli.require(self.environ)  # before anything is made or changed
            if self.options.no_queue:
                # Before anything in the workspace is made, locked or changed: a refusal
                # for a full machine leaves it exactly as it was.
                self.gate.enter_at_once()
            return self._run()

    def _run(self) -> RunResult:
        started = time.monotonic()
        ensure_private_dir(self.workspace)
        ensure_private_dir(paths.state_dir(self.workspace))
        target = target_dir(self.workspace, self.score.state_path)
        moved = settle_state_dir(self.workspace, self.job_id, target)
        with (
            self.store.run_lock(self.job_id) as lock,
            contextlib.closing(self.gate),
            contextlib.ExitStack() as signals,
        ):
            confirm_state_dir(self.workspace, self.job_id, lock.path)
            ensure_private_dir(paths.logs_dir(self.workspace, self.job_id))
            # Before the checkpoint says the job runs (a watcher may signal it as soon as
            # it does): a signal from here on pauses it at the loop's first pass.
            signals.enter_context(self.controls.handling_signals())
            state, how = self.book.open(settle=self.dead_run.settle)
            if how == NOTHING_TO_DO:
                signum = self.controls.signum
                code = signal_exit_code(signum) if signum else ExitCode.OK
                return self._result(state, started, code, NOTHING_TO_DO_MESSAGE)
            self.reporter = with_notifications(self.reporter, self.prepared, self.store, state)
            self.controls.clear_stale()
            self.after.opened(state)
            done = sum(1 for sheet in state.sheets.values() if sheet.status.is_terminal)
            self.reporter.run_started(
                self.job_id,
                self.plan.total_sheets,
                str(self.workspace),
                how,
                done,
                self.max_concurrent,
            )
            self.reporter.spent(state.total_estimated_cost)
            note = override_note(self.prepared, self.options.instrument)
            if note:
                self.reporter.note(note)
            if moved:
                self.reporter.note(moved)
            announce(self.dead_run.stopped, state, self.reporter, self.store)
            for line in self.book.notes:
                self.reporter.note(line)
            with self.isolation.active(state), long_lived():
                code, message = self._loop(state)
                code, message = self.after.finish(state, code, message)
            self.store.compact(state)
            done, total = state.get_progress()
            self.reporter.run_finished(state.status.value, done, total, time.monotonic() - started)
            return self._result(state, started, code, message)

    def _result(self, state: CheckpointState, started: float, code: int, message: str) -> RunResult:
        return result_of(
            state,
            self.job_id,
            self.workspace,
            code=code,
            message=message,
            duration=time.monotonic() - started,
            stopped=self.stopped_sheets,
            hooks=tuple(self.after.results),
        )

    # --- the loop ------------------------------------------------------------------------------

    def _loop(self, state: CheckpointState) -> tuple[int, str]:
        loop = _Loop()
        pool = self.pool = self.make_executor(self.max_concurrent)
        said, stopped = self.dead_run.reattach(state, pool, self.controls.stop_request, self.gate)
        announce(stopped, state, self.reporter, self.store)
        loop.in_flight.update({h.sheet_num: h for h in self.dead_run.kept})
        for line in said:
            self.reporter.note(line)
        try:
            while True:
                self.reporter.tick()
                # The request files are checked at sheet boundaries; an attempt that was
                # just placed is none (its child sees a cancel within its check period).
                files, loop.just_placed = not loop.just_placed, False
                if self.controls.interrupted:
                    return self._interrupted(state, loop, pool)
                if files and self.controls.cancel_requested():
                    return self._cancelled(state, loop, pool)
                self.book.limits.check_budget(state)
                if files and self.controls.pause_requested():
                    loop.pausing = "paused by request (pause file)"
                elif state.status == JobStatus.PAUSED:  # rate-limit waits ran out
                    loop.pausing = state.error_message or "paused"
                if loop.pausing or loop.halted:
                    self.gate.stand_down()  # a run that launches nothing waits for no slot
                elif not self._launch_ready(state, loop, pool):
                    continue  # a stop came while a prompt rendered: act on it first
                else:
                    self.gate.settle()
                if not loop.in_flight:
                    if loop.pausing:
                        return self._paused(state, loop.pausing)
                    wake = None if loop.halted else self.book.next_wake(state)
                    if wake is None:
                        return self.book.finish(state, halted=loop.halted)
                    # A ready sheet may still be held by the pause between sheets or the
                    # stagger: sleep until both allow it (on the control wake-ups), at most a
                    # second at a time so the reporter's live view ticks on.
                    gate = self._launch_gate(loop) - time.monotonic()
                    self.controls.wait(
                        min(1.0, max(0.0, wake - time.time(), gate, loop.recheck)), poked=True
                    )
                    continue
                self._collect(state, loop, pool, timeout=self._until_next(state, loop))
        finally:
            if loop.in_flight:  # only on an exception: nothing may outlive the run
                pool.stop_all()
            self.gate.stand_down()
            self.gate.release_all()  # every attempt has ended by now
            pool.close()
            self.pool = None

    def _wake(self) -> None:
        """Machine slots may have come free (called from the slot watcher's thread)."""
        self.controls.poke()
        pool = self.pool
        if pool is not None:
            pool.wake()

    def _until_next(self, state: CheckpointState, loop: _Loop) -> float:
        wake = self.book.next_wake(state)
        limit = TICK if wake is None else min(TICK, max(0.0, wake - time.time()))
        gate = self._launch_gate(loop) - time.monotonic()
        if gate > 0:
            limit = min(limit, gate)
        return max(0.01, limit)

    def _launch_gate(self, loop: _Loop) -> float:
        """The monotonic moment before which no sheet may start (pause, stagger)."""
        stagger = self.score.parallel.stagger_delay_ms / 1000 if self.max_concurrent > 1 else 0.0
        return max(loop.next_allowed, loop.last_launch + stagger) if stagger else loop.next_allowed

    def _launch_ready(self, state: CheckpointState, loop: _Loop, pool: Executor) -> bool:
        """Start what may start; False when a stop request interrupted a prompt's rendering."""
        loop.recheck = 0.0
        hold = self.gate.enter()
        if hold is not None:
            if self.gate.news(None, hold):
                self.reporter.note(hold.text)
            loop.recheck = hold.recheck
            return True
        while len(loop.in_flight) < self.max_concurrent:
            if time.monotonic() < self._launch_gate(loop):
                return True
            num = self.book.next_ready(state)
            if num is None:
                return True
            if self.book.skip_if_needed(state, num, self.environ):
                self.reporter.sheet_finished(num, "skipped", state.sheet(num).error_message or "")
                continue
            held = self.book.hold_for_limit(state, num)
            self._notes()
            if held:
                record = state.sheet(num)
                left = (record.fire_at.timestamp() - time.time()) if record.fire_at else 0.0
                self.reporter.sheet_waiting(num, held, left, _HELD[held])
                continue
            hold = self._admit(state, num)
            if hold is not None:
                if self.gate.news(num, hold):
                    self.reporter.sheet_waiting(num, hold.kind, 0.0, hold.text)
                loop.recheck = hold.recheck
                return True  # it stays pending and spends nothing; the sheets after it wait too
            try:
                spec = self.sheets.prepare(state, num)
            except RenderStopped:
                self.gate.release(num)
                return False  # the sheet stays pending, as if the stop came before it
            except PromptError as exc:
                self.gate.release(num)
                self.book.unrenderable(state, num, str(exc), exc.code)
                self.reporter.sheet_finished(num, "failed", str(exc))
                continue
            self.book.attempt_started(state, num, spec)
            self.reporter.sheet_started(num, spec.attempt, spec.instrument_name, spec.mode)
            handle = loop.in_flight[num] = pool.launch(spec, self.controls.stop_request)
            loop.last_launch = time.monotonic()
            if handle.pid is not None:  # placed at once: recorded and let go before the next
                self._placed(state, handle, pool)
            # One at a time, the sheet likely next starts held now: its program starts up
            # while this one runs (`launch` uses it only if its attempt turns out the same).
            alone = self.max_concurrent == 1 and self.isolation.repo is None
            if alone and (early := self.sheets.foresee(state, self.book.next_after(state, num))):
                pool.prestart(early)
        return True

    def _admit(self, state: CheckpointState, num: int) -> Hold | None:
        """Take the machine slots of ``num``'s next attempt (instrument and model as it will
        run them), or say why it waits."""
        record = state.sheet(num)
        choice = self.sheets.choice(self.plan.sheet(num), record)
        return self.gate.admit(num, choice.profile, choice.name, record.model or choice.model)

    def _collect(
        self, state: CheckpointState, loop: _Loop, pool: Executor, *, timeout: float
    ) -> None:
        event = pool.wait(timeout)
        if event is None:
            return
        if isinstance(event, Placed):
            self._placed(state, event.handle, pool)
            loop.just_placed = True  # no sheet boundary: the next pass skips the request files
            return
        report = event.report
        num = event.handle.sheet_num
        loop.in_flight.pop(num, None)
        self.gate.release(num)  # before the bookkeeping: another run may start at once
        if report.stopped:
            # It saw the stop request before this loop did; the stop names it with the rest.
            loop.stopped.add(num)
            self.book.attempt_finished(state, report)
            return
        if report.validation is not None:
            self.sheets.last_reports[num] = report.validation
        applied = self.book.attempt_finished(state, report)
        if state.sheet(num).status.is_terminal:
            # Only the sheet's next (completion) attempt reads its report: one kept for
            # every finished sheet would grow with the job.
            self.sheets.last_reports.pop(num, None)
        self.book.report(applied, self.reporter)
        self.reporter.spent(state.total_estimated_cost)
        self._notes()
        for blocked in self.book.drain_blocked():
            self.reporter.sheet_finished(
                blocked, "skipped", state.sheet(blocked).error_message or ""
            )
        if applied.failed and self.score.parallel.enabled and self.score.parallel.fail_fast:
            loop.halted = True
        if applied.completed and self.max_concurrent == 1:
            pause = self.score.pause_between_sheets_seconds
            if pause and self.book.next_ready(state) is not None:
                loop.next_allowed = time.monotonic() + pause

    def _placed(self, state: CheckpointState, handle: AttemptHandle, pool: Executor) -> None:
        # Recorded first: a run that dies from here on leaves the handle behind.
        self.book.attempt_placed(state, handle)
        pool.release(handle)

    def _notes(self) -> None:
        for notes in (self.book.limits.notes, self.book.circuits.notes):
            while notes:
                self.reporter.note(notes.pop(0))

    # --- stopping ------------------------------------------------------------------------------

    def _drain(self, loop: _Loop, pool: Executor) -> list[AttemptReport]:
        """Wait for running attempts to stop (they see the stop request within a second)."""
        reports = pool.stop_all()
        loop.in_flight.clear()
        self.gate.release_all()
        loop.stopped.update(report.spec.sheet_num for report in reports)
        self.stopped_sheets = tuple(sorted(loop.stopped))
        return reports

    def _interrupted(self, state: CheckpointState, loop: _Loop, pool: Executor) -> tuple[int, str]:
        signum = self.controls.signum or 15
        for report in self._drain(loop, pool):
            self.book.attempt_stopped(state, report, back_to_pending=True)
        message = f"interrupted by signal {signum}; resume to continue"
        self.book.pause(state, message)
        self.reporter.note(message)
        return signal_exit_code(signum), message

    def _cancelled(self, state: CheckpointState, loop: _Loop, pool: Executor) -> tuple[int, str]:
        for report in self._drain(loop, pool):
            self.book.attempt_stopped(state, report, back_to_pending=False)
        self.controls.consume(self.controls.cancel_path)
        self.book.cancel(state, "cancelled by request (cancel file)")
        return ExitCode.CANCELLED, "cancelled"

    def _paused(self, state: CheckpointState, message: str) -> tuple[int, str]:
        self.controls.consume(self.controls.pause_path)
        self.book.pause(state, message)
        self.reporter.note(message)
        return ExitCode.PAUSED, message
