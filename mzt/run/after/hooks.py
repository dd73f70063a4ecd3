"""`on_success` hooks: fired when a run completes its job after doing new work.

A run that finds its job already completed fires nothing, so a job that chains itself
cannot loop through cron. The hooks fire in order under the job's run lock; each one's
result goes into the checkpoint's `hook_results` (a *round*: see
:mod:`mzt.state.hook_rounds`) and the history. A failed hook leaves the job completed —
its sheets' work is done and validated — and the run exits 6; `mzt resume` fires the
hooks the last round did not carry out (failed, skipped after an abort, held) and only
those.

``run_command`` and ``run_script`` are :mod:`mzt.run.after.hook_command`; ``run_job`` is
:mod:`mzt.run.after.chain`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mzt.run.after.chain import ChainContext, chain_depth, describe, log_step, start_chain
from mzt.run.after.hook_command import run_hook_command
from mzt.run.control import Controls
from mzt.run.reporting import Reporter
from mzt.run.results import RunResult
from mzt.score.models import PostSuccessHook
from mzt.state import CheckpointState, JobStatus, JsonStateBackend, SheetStatus
from mzt.state import hook_rounds as rounds
from mzt.support.errors import UsageError
from mzt.support.exitcodes import ExitCode, signal_exit_code
from mzt.support.fsutil import ensure_private_dir
from mzt.support.redact import redact, redact_optional

if TYPE_CHECKING:
    from mzt.score.preparation import PreparedScore

_DONE = (SheetStatus.COMPLETED, SheetStatus.SKIPPED)


class AfterRun:
    """The end of one run: decides whether hooks fire, fires them, records them."""

    def __init__(
        self,
        *,
        hooks: list[PostSuccessHook],
        chain: ChainContext,
        store: JsonStateBackend,
        controls: Controls,
        reporter: Reporter,
        resume: bool,
    ) -> None:
        self.hooks = hooks
        self.chain = chain
        self.store = store
        self.controls = controls
        self.reporter = reporter
        self.resume = resume
        self.done_before: set[int] = set()
        self.results: list[dict[str, Any]] = []  # this run's, for the run document

    def opened(self, state: CheckpointState) -> None:
        """Note what was done before this run: only sheets it finishes count as new work."""
        self.done_before = {n for n, s in state.sheets.items() if s.status in _DONE}

    def new_work(self, state: CheckpointState) -> int:
        """How many sheets this run moved to completed or skipped."""
        return sum(
            1 for n, s in state.sheets.items() if s.status in _DONE and n not in self.done_before
        )

    def finish(self, state: CheckpointState, code: int, message: str) -> tuple[int, str]:
        """After the loop: fire what is due when the job completed; the run's code and message."""
        if state.status != JobStatus.COMPLETED or not (self.hooks or state.hook_results):
            return code, message
        if self.new_work(state):
            return self.fire(state, list(enumerate(self.hooks, 1)), released=False)
        owed = rounds.owed(state.hook_results)
        if not owed:
            return code, message
        if self.resume:
            return self.resume_owed(state)
        if rounds.held(state.hook_results):
            # `mzt run` of a job whose chain is held: the hold is for a person to lift.
            return self._hold(state, rounds.held(state.hook_results)[0])
        return code, message

    def resume_owed(self, state: CheckpointState) -> tuple[int, str]:
        """`mzt resume`: fire the hooks the last round still owes (a held chain included).

        They are taken by position from the score's `on_success` list as it is now (a fixed
        hook is the fixed one); one the score no longer has is recorded ``removed``, so it
        is owed no more.
        """
        owed = rounds.owed(state.hook_results)
        items = self._owed_hooks(owed)
        firing = {n for n, _ in items}
        gone = [r for r in owed if int(r.get("index") or 0) not in firing]
        return self.fire(state, items, released=True, gone=gone)

    def _owed_hooks(self, owed: list[dict[str, Any]]) -> list[tuple[int, PostSuccessHook]]:
        numbers = sorted({int(r.get("index") or 0) for r in owed})
        return [(n, self.hooks[n - 1]) for n in numbers if 0 < n <= len(self.hooks)]

    # --- firing --------------------------------------------------------------------------------

    def fire(
        self,
        state: CheckpointState,
        items: list[tuple[int, PostSuccessHook]],
        *,
        released: bool,
        gone: list[dict[str, Any]] | None = None,
    ) -> tuple[int, str]:
        """Fire ``items`` in order (``released``: a held chain may start now; ``gone``: owed
        results whose hooks the score no longer has)."""
        round_id = datetime.now(UTC).isoformat()
        for old in gone or []:
            kept = ("index", "type", "description", "command", "job_path")
            removed = {k: old[k] for k in kept if k in old}
            note = "no longer in the score's on_success list"
            self._record(
                state, {**removed, "round": round_id, "outcome": rounds.REMOVED, "error": note}
            )
        if items:
            ensure_private_dir(self.chain.log_dir)
        stop_rest = ""  # why the remaining hooks are skipped
        held: dict[str, Any] | None = None
        for index, hook in items:
            base = _base(round_id, index, hook)
            if not stop_rest and self.controls.cancel_requested():
                # The job is completed: a cancel can only mean "no more hooks".
                self.controls.consume(self.controls.cancel_path)
                stop_rest = "not run: cancelled by request (cancel file)"
            if held is not None:
                result = {**base, "outcome": rounds.HELD, "error": "held behind an earlier hook"}
            elif stop_rest or self.controls.interrupted:
                why = stop_rest or f"interrupted by signal {self.controls.signum}"
                result = {**base, "outcome": rounds.SKIPPED, "error": why}
            else:
                result = self._fire_one(index, hook, base, released=released)
                if result["outcome"] == rounds.HELD:
                    held = result
                elif result["outcome"] == rounds.FAILED:
                    if hook.on_failure == "abort":
                        stop_rest = f"not run: hook {index} failed (on_failure: abort)"
                    elif self.chain.concert.abort_concert_on_hook_failure:
                        stop_rest = (
                            f"not run: hook {index} failed (concert.abort_concert_on_hook_failure)"
                        )
            self._record(state, result)
        if held is not None:
            return self._hold(state, held)
        failed = [r for r in self.results if r["outcome"] in (rounds.FAILED, rounds.SKIPPED)]
        if self.controls.interrupted:
            return signal_exit_code(self.controls.signum or 15), "completed; hooks interrupted"
        if failed:
            first = failed[0]
            return ExitCode.HOOK_FAILED, (
                f"on_success hook {first['index']} {first['outcome']}: "
                f"{first.get('error') or 'failed'}"
            )
        return ExitCode.OK, "completed"

    def _fire_one(
        self, index: int, hook: PostSuccessHook, base: dict[str, Any], *, released: bool
    ) -> dict[str, Any]:
        started = time.monotonic()
        base["started_at"] = datetime.now(UTC).isoformat()
        if hook.type == "run_job":
            found = self._chain_step(index, hook, base, released=released)
        else:
            found = run_hook_command(hook, self.chain, index, self.controls.stop_request)
        success = bool(found.pop("success", False))
        outcome = found.pop("outcome", rounds.SUCCEEDED if success else rounds.FAILED)
        result = {
            **base,
            **found,
            "finished_at": datetime.now(UTC).isoformat(),
            "duration_seconds": round(time.monotonic() - started, 3),
            "success": success,
            "outcome": outcome,
        }
        result["error"] = redact_optional(result.get("error"))
        return result

    def _chain_step(
        self, index: int, hook: PostSuccessHook, base: dict[str, Any], *, released: bool
    ) -> dict[str, Any]:
        ctx = self.chain
        limit = ctx.concert.max_chain_depth
        if chain_depth(ctx.environ) >= limit:
            found = {
                "job_path": base.get("job_path"),
                "outcome": rounds.REFUSED,
                "error": f"not started: the concert reached max_chain_depth ({limit})",
            }
            log_step(ctx, f"mzt run {base.get('job_path')}", "refused: max_chain_depth reached")
            return found
        if hook.pause_before_chain and not released:
            log_step(ctx, f"mzt run {base.get('job_path')}", "held: pause_before_chain")
            return {"outcome": rounds.HELD, "error": "held by pause_before_chain"}
        cooldown = ctx.concert.cooldown_between_jobs_seconds
        if cooldown > 0 and self.controls.wait(cooldown):
            if self.controls.pause_requested() and not self.controls.interrupted:
                self.controls.consume(self.controls.pause_path)
                log_step(ctx, f"mzt run {base.get('job_path')}", "held: pause file")
                return {"outcome": rounds.HELD, "error": "held by the pause file"}
            return {"outcome": rounds.SKIPPED, "error": "stopped during the cooldown"}
        found = start_chain(hook, ctx, index, self.controls.stop_request)
        what = describe(hook, found)
        if found.get("success"):
            pid = f" pid {found['pid']}" if found.get("pid") else ""
            log_step(ctx, what, f"started{pid}" if hook.detached else "completed")
        else:
            log_step(ctx, what, f"failed: {found.get('error')}")
        return found

    # --- recording -----------------------------------------------------------------------------

    def _record(self, state: CheckpointState, result: dict[str, Any]) -> None:
        self.results.append(result)
        state.record_hook_result(result)
        self.store.save(state)
        self.store.record_event(
            state,
            "hook_finished",
            hook=result["index"],
            type=result["type"],
            outcome=result["outcome"],
            error=result.get("error"),
        )
        self.reporter.note(line(result))

    def _hold(self, state: CheckpointState, held: Mapping[str, Any]) -> tuple[int, str]:
        why = str(held.get("error") or "held")
        message = (
            f"on_success hook {held.get('index')} (run_job {held.get('job_path')}) is {why}; "
            f"`mzt resume {state.job_id}` starts the chain"
        )
        state.mark_job_paused()
        state.error_message = message
        self.store.save(state)
        self.store.record_event(state, "paused", reason=message)
        return ExitCode.PAUSED, message


def hold_for_resume(state: CheckpointState, hooks: list[PostSuccessHook], why: str) -> int:
    """Record every hook of ``hooks`` as held (``why``) in a round of its own, so that
    `mzt resume` fires them: for a job completed by something other than a run (`mzt
    recover`), whose hooks no run fired. Returns how many are held."""
    round_id = datetime.now(UTC).isoformat()
    for index, hook in enumerate(hooks, start=1):
        state.record_hook_result(
            {**_base(round_id, index, hook), "outcome": rounds.HELD, "error": why}
        )
    return len(hooks)


def _base(round_id: str, index: int, hook: PostSuccessHook) -> dict[str, Any]:
    base: dict[str, Any] = {
        "round": round_id,
        "index": index,
        "type": hook.type,
        "description": redact_optional(hook.description),
    }
    if hook.type == "run_job":
        base["job_path"] = redact(hook.job_path or "")
    else:
        base["command"] = redact(hook.command or "")
    return base


def line(result: Mapping[str, Any]) -> str:
    """One progress line for a hook's result."""
    name = str(result.get("description") or result.get("command") or result.get("job_path") or "")
    name = name if len(name) <= 60 else name[:57] + "..."
    head = f"on_success {result.get('index')} ({result.get('type')}: {name})"
    outcome = str(result.get("outcome"))
    if outcome == rounds.SUCCEEDED:
        took = result.get("duration_seconds")
        return f"{head} succeeded" + (f" in {took:.1f}s" if isinstance(took, float) else "")
    detail = f": {result['error']}" if result.get("error") else ""
    where = f" (log: {result['log_path']})" if result.get("log_path") else ""
    return f"{head} {outcome}{detail}{where}"


def make_after_run(
    prepared: PreparedScore,
    *,
    environ: Mapping[str, str],
    store: JsonStateBackend,
    controls: Controls,
    reporter: Reporter,
    resume: bool,
) -> AfterRun:
    """The end-of-run hook firing for one run of ``prepared``."""
    score, workspace, job_id = prepared.loaded.score, prepared.workspace, prepared.job_id
    fields = {
        "workspace": str(workspace),
        "job_id": job_id,
        "sheet_count": str(prepared.plan.total_sheets),
    }
    chain = ChainContext(
        workspace=workspace,
        job_id=job_id,
        fields=fields,
        concert=score.concert,
        environ=environ,
        log_dir=workspace / "hooks",
    )
    return AfterRun(
        hooks=list(score.on_success),
        chain=chain,
        store=store,
        controls=controls,
        reporter=reporter,
        resume=resume,
    )


def owes_hooks(state: CheckpointState) -> bool:
    """A completed job whose last hooks failed or were skipped: `mzt resume` fires them."""
    return state.status == JobStatus.COMPLETED and bool(rounds.owed(state.hook_results))


def resume_hooks(prepared: PreparedScore, *, reporter: Reporter) -> RunResult:
    """`mzt resume` of a completed job that owes hooks: fire those, run no sheet."""
    started = time.monotonic()
    workspace, job_id = prepared.workspace, prepared.job_id
    store = JsonStateBackend(workspace)
    controls = Controls(workspace, job_id)
    after = make_after_run(
        prepared,
        environ=dict(os.environ),
        store=store,
        controls=controls,
        reporter=reporter,
        resume=True,
    )
    with store.run_lock(job_id):
        state = store.load_for_run(job_id, command="resume")
        if state is None or not owes_hooks(state):  # another run settled it meanwhile
            raise UsageError(
                f"job {job_id} already completed",
                hint="pass --force to run it again from the start",
            )
        with controls.handling_signals():
            code, message = after.resume_owed(state)
    done, total = state.get_progress()
    return RunResult(
        job_id=job_id,
        status=state.status.value,
        exit_code=int(code),
        completed=done,
        total=total,
        failed_sheets=[],
        duration=time.monotonic() - started,
        workspace=workspace,
        message=message,
        hooks=tuple(after.results),
    )
