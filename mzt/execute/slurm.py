"""The Slurm executor: each attempt is one Slurm job, run by `mzt slurm-attempt` on a node.

The conductor (this `mzt run`) stays the only writer of the checkpoint. For every attempt
it writes the spec and a batch script into ``<state dir>/slurm/<job>/<token>/`` — the workspace
is on storage the nodes share — and submits the script with ``sbatch``. The job id comes
back at once and is announced as the attempt's handle (a `Placed` event), so the runner
journals it before it waits for anything. Every job carries the comment
``mzt:<job>:<workspace digest>``: a job submitted by a conductor that died before it could
record the id is still found by that comment and stopped.

A monitor thread watches each job: the report file the job writes as its last act is the
verdict; a job that left Slurm's queue without one ended by Slurm's hand (cancelled, time
limit, node failure, preemption, out of memory), and its end state is read from
``scontrol`` and turned into the matching error. A stop (cancel, a signal of the
conductor) is ``scancel``. The jobs a dead conductor left are re-attached by the next run
(`mzt.execute.slurm_leftovers`, :meth:`SlurmExecutor.adopt`), or, by a command that runs nothing
(`mzt cancel`), cancelled and waited for.
"""

from __future__ import annotations

import contextlib
import queue
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from mzt.execute import slurm_cli
from mzt.execute import slurm_endings as endings
from mzt.execute.base import (
    AttemptHandle,
    Event,
    Finished,
    Leftover,
    Placed,
    StopCheck,
    drain,
    new_token,
    next_event,
)
from mzt.execute.remote import OUTPUT_NAME, REPORT_NAME, SCRIPT_NAME, SPEC_NAME, job_script
from mzt.execute.slurm_leftovers import wait_gone
from mzt.support import procinfo, records
from mzt.support.errors import MztError
from mzt.support.process import StopRequest

if TYPE_CHECKING:
    from mzt.execute.attempt import AttemptReport, AttemptSpec
    from mzt.machine.config import SlurmConfig

NAME = slurm_cli.EXECUTOR
POLL_SECONDS = 0.1  # how often the monitor looks for report files
QUEUE_SECONDS = 1.0  # how often it asks Slurm about jobs that have not reported
REPORT_GRACE_SECONDS = 5.0  # a job gone from the queue: its report may still be in flight


@records.record(frozen=True, slots=True)
class SlurmOptions:
    """What every submission carries besides the attempt itself."""

    partition: str | None = None
    account: str | None = None
    time_limit: str | None = None  # Slurm's --time format: "30", "1:00:00", "2-00:00:00"
    extra_args: tuple[str, ...] = ()

    def over(self, layer: SlurmConfig) -> SlurmOptions:
        """These options under ``layer``: what it sets replaces them, its extra_args follow
        theirs (sbatch takes the last of a repeated option)."""
        return SlurmOptions(
            partition=layer.partition or self.partition,
            account=layer.account or self.account,
            time_limit=layer.time_limit or self.time_limit,
            extra_args=(*self.extra_args, *layer.extra_args),
        )

    def sbatch_args(self) -> list[str]:
        args = []
        if self.partition:
            args.append(f"--partition={self.partition}")
        if self.account:
            args.append(f"--account={self.account}")
        if self.time_limit:
            args.append(f"--time={self.time_limit}")
        return [*args, *self.extra_args]


@records.record
class _Job:
    handle: AttemptHandle
    spec: AttemptSpec
    folder: Path
    should_stop: StopCheck
    started: float = records.field(default_factory=time.monotonic)
    stop: StopRequest | None = None  # asked by the conductor: the job's end is no failure
    gone_at: float | None = None  # monotonic: first seen out of Slurm's queue

    @property
    def job_id(self) -> str | None:
        """The Slurm job id, once sbatch gave one (it is in the recorded handle)."""
        found = self.handle.extra.get("job_id")
        return str(found) if found else None


class SlurmExecutor:
    """Attempts as Slurm jobs; this process submits, watches and cancels them."""

    name = NAME

    def __init__(
        self,
        max_concurrent: int = 1,
        *,
        attempts_dir: Path | None = None,
        job_id: str = "",
        workspace: Path | None = None,
        options: SlurmOptions | None = None,
        sheet_options: Mapping[int, SlurmOptions] | None = None,
        python: str | None = None,
    ) -> None:
        self.attempts_dir = attempts_dir
        self.comment = slurm_cli.comment_for(job_id, workspace) if workspace is not None else ""
        self.job_name = f"mzt-{job_id}" if job_id else "mzt"
        self.options = options or SlurmOptions()
        self.sheet_options = dict(sheet_options or {})  # sheets with options of their own
        self.python = python or sys.executable
        self.host = procinfo.host()
        self.events: queue.Queue[Event | None] = queue.Queue()
        self.jobs: dict[str, _Job] = {}
        self.lock = threading.Lock()
        self.aborting = False
        self.closed = threading.Event()
        # sbatch answers in tens of milliseconds: a wave of launches submits side by side.
        self.submitter = ThreadPoolExecutor(min(4, max(1, max_concurrent)), "mzt-sbatch")
        self.monitor: threading.Thread | None = None

    # --- running attempts ----------------------------------------------------------------------

    def launch(self, spec: AttemptSpec, should_stop: StopCheck) -> AttemptHandle:
        from mzt.execute import wire
        from mzt.state.atomic import atomic_write
        from mzt.support.fsutil import ensure_private_dir

        assert self.attempts_dir is not None, "a run's Slurm executor knows its folder"
        token = new_token()
        folder = self.attempts_dir / token
        handle = AttemptHandle(
            executor=NAME,
            token=token,
            sheet_num=spec.sheet_num,
            attempt=spec.attempt,
            host=self.host,
            extra={"folder": str(folder)},
        )
        entry = _Job(handle, spec, folder, should_stop)
        with self.lock:
            self.jobs[token] = entry
        try:
            ensure_private_dir(folder)
            sent = records.replace(spec, environ={})  # it travels with the job: see _submit
            # Not fsync-ed: sbatch keeps its own copy of the script, and a crash of this
            # machine before the job reads its spec leaves a job that fails and is retried.
            atomic_write(folder / SPEC_NAME, wire.dumps(sent), durable=False)
            atomic_write(
                folder / SCRIPT_NAME, job_script(folder, self.python).encode(), durable=False
            )
            (folder / SCRIPT_NAME).chmod(0o700)
            atomic_write(folder / OUTPUT_NAME, b"", durable=False)  # private before Slurm appends
        except (OSError, TypeError, MztError) as exc:  # the attempt fails with it, not the run
            self._end(entry, endings.failed(spec, f"could not write the attempt for Slurm: {exc}"))
            return handle
        self.submitter.submit(self._submit, entry)
        self._watching()
        return handle

    def _submit(self, entry: _Job) -> None:
        chosen = self.sheet_options.get(entry.spec.sheet_num, self.options)
        options = [
            f"--job-name={self.job_name}-s{entry.spec.sheet_num}",
            f"--comment={self.comment}",
            f"--output={entry.folder / OUTPUT_NAME}",
            f"--chdir={entry.spec.workdir}",
            "--open-mode=append",
            *chosen.sbatch_args(),
        ]
        try:
            # sbatch exports its own environment to the job (--export=ALL): the attempt's.
            job_id = slurm_cli.submit(
                str(entry.folder / SCRIPT_NAME), options, env=dict(entry.spec.environ)
            )
        except slurm_cli.SlurmError as exc:
            self._end(entry, endings.failed(entry.spec, f"sbatch refused the attempt: {exc}"))
            return
        extra = {**entry.handle.extra, "job_id": job_id}
        placed = records.replace(entry.handle, extra=extra, started_at=time.time())
        with self.lock:
            entry.handle = placed
            stop = entry.stop or (StopRequest("interrupted") if self.aborting else None)
        self.events.put(Placed(placed))
        if stop is not None:
            slurm_cli.cancel([job_id])

    def adopt(self, handle: AttemptHandle, spec: AttemptSpec, should_stop: StopCheck) -> None:
        """Watch an attempt a dead run of this job submitted (see
        `mzt.execute.slurm_leftovers.reattachable`)
        to its end, as if this run had launched it: its `Finished` event follows."""
        entry = _Job(handle, spec, Path(str(handle.extra["folder"])), should_stop)
        with self.lock:
            self.jobs[handle.token] = entry
        self._watching()

    def release(self, handle: AttemptHandle) -> None:
        """Nothing to let go: the id was recorded, and a job nobody recorded is found by
        its comment (see `mzt.execute.slurm_leftovers.stop_unrecorded`)."""

    def prestart(self, spec: AttemptSpec) -> None:
        """Nothing: a job is submitted only once its sheet launches."""

    def wait(self, timeout: float) -> Event | None:
        return next_event(self.events, timeout)

    def wake(self) -> None:
        self.events.put(None)

    def stop(self, handle: AttemptHandle, *, immediate: bool = False) -> None:
        with self.lock:
            entry = self.jobs.get(handle.token)
            if entry is None:
                return
            entry.stop = StopRequest("cancelled", immediate=immediate)
            job_id = entry.job_id
        if job_id is not None:
            slurm_cli.cancel([job_id])

    def stop_all(self) -> list[AttemptReport]:
        with self.lock:
            self.aborting = True
            for entry in self.jobs.values():
                entry.stop = entry.stop or StopRequest("interrupted")
            ids = [e.job_id for e in self.jobs.values() if e.job_id is not None]
        with contextlib.suppress(slurm_cli.SlurmError):
            slurm_cli.cancel(ids)
        return drain(self.events, self._count, POLL_SECONDS)

    def _count(self) -> int:
        with self.lock:
            return len(self.jobs)

    def close(self) -> None:
        self.aborting = True
        self.submitter.shutdown(wait=True)
        self.closed.set()
        if self.monitor is not None:
            self.monitor.join(timeout=5)

    # --- watching ------------------------------------------------------------------------------

    def _watching(self) -> None:
        if self.monitor is None:
            self.monitor = threading.Thread(target=self._watch, name="mzt-slurm", daemon=True)
            self.monitor.start()

    def _watch(self) -> None:
        next_queue = 0.0
        while not self.closed.wait(POLL_SECONDS):
            with self.lock:
                entries = [e for e in self.jobs.values() if e.job_id is not None]
            asking = time.monotonic() >= next_queue
            for entry in entries:
                if entry.stop is None:
                    request = entry.should_stop()
                    if request is not None:
                        entry.stop = request
                        asking = True
                        with contextlib.suppress(slurm_cli.SlurmError):
                            slurm_cli.cancel([entry.job_id or ""])
                report = self._report_of(entry)
                if report is not None:
                    self._end(entry, report)
            if asking and entries:
                next_queue = time.monotonic() + QUEUE_SECONDS
                self._ask_slurm([e for e in entries if e.handle.token in self.jobs])

    def _report_of(self, entry: _Job) -> AttemptReport | None:
        from mzt.execute import wire
        from mzt.support.fsutil import read_regular_file

        try:
            data = read_regular_file(entry.folder / REPORT_NAME)
        except FileNotFoundError:
            return None
        except OSError as exc:
            return endings.failed(entry.spec, f"the attempt's report could not be read: {exc}")
        try:
            return wire.load_report(data, entry.spec)
        except wire.WireError as exc:
            return endings.failed(entry.spec, f"the attempt's report is damaged: {exc}")

    def _ask_slurm(self, entries: list[_Job]) -> None:
        try:
            states = slurm_cli.queue_states(e.job_id or "" for e in entries)
        except slurm_cli.SlurmError:
            return  # the controller is busy or restarting: ask again at the next round
        now = time.monotonic()
        for entry in entries:
            state = states.get(entry.job_id or "")
            if state in slurm_cli.ALIVE:
                entry.gone_at = None
                continue
            if entry.gone_at is None:
                entry.gone_at = now
            # The report is written just before the job ends; on shared storage it may show
            # here a moment later. A stop asked here needs no such patience.
            if entry.stop is None and now - entry.gone_at < REPORT_GRACE_SECONDS:
                continue
            report = self._report_of(entry)
            if report is None:
                report = self._ending(entry, state)
            self._end(entry, report)

    def _ending(self, entry: _Job, queued_state: str | None) -> AttemptReport:
        """The report of a job that ended without writing one."""
        facts = slurm_cli.job_facts(entry.job_id or "")
        state = (facts.get("JobState") or queued_state or "").split("+")[0]
        duration = time.monotonic() - entry.started
        if entry.stop is not None:
            return endings.stopped(entry.spec, entry.stop, duration)
        tail = endings.tail(entry.folder / OUTPUT_NAME)
        return endings.ended(entry.spec, entry.job_id or "?", state, duration, tail)

    def _end(self, entry: _Job, report: AttemptReport) -> None:
        with self.lock:
            if self.jobs.pop(entry.handle.token, None) is None:
                return  # ended already
        self.events.put(Finished(entry.handle, report))

    # --- leftovers of a dead run ----------------------------------------------------------------

    def find_leftovers(self, handles: Iterable[AttemptHandle]) -> list[Leftover]:
        alive, unchecked = self._alive(handles)
        return unchecked + [Leftover(h, ()) for h in alive]

    def stop_leftovers(self, handles: Iterable[AttemptHandle]) -> list[Leftover]:
        # Slurm not answering raises here: re-running a sheet whose job may still run would
        # make two copies of it.
        alive, unchecked = self._alive(handles, strict=True)
        ids = [str(h.extra["job_id"]) for h in alive]
        if ids:
            slurm_cli.cancel(ids)
            wait_gone(ids)
        return unchecked + [Leftover(h, ()) for h in alive]

    def _alive(
        self, handles: Iterable[AttemptHandle], *, strict: bool = False
    ) -> tuple[list[AttemptHandle], list[Leftover]]:
        """The handles whose Slurm job is pending or running, and those nobody could check."""
        with_ids = [h for h in handles if str(h.extra.get("job_id") or "").isdigit()]
        if not with_ids:
            return [], []
        try:
            states = slurm_cli.queue_states(str(h.extra["job_id"]) for h in with_ids)
        except slurm_cli.SlurmError as exc:
            if strict:
                raise
            return [], [Leftover(h, (), f"Slurm could not be asked ({exc})") for h in with_ids]
        alive = [h for h in with_ids if states.get(str(h.extra["job_id"])) in slurm_cli.ALIVE]
        return alive, []
