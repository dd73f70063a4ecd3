"""What a dead run of this job left behind, settled before anything runs again.

Its recorded attempts still running are stopped (`mzt.execute.leftovers`), except under
the Slurm executor: there an attempt is a job of its own, which does not need the run
that submitted it. Those still queued or running, and those that wrote their report, are
re-attached: their sheets stay in progress and the new run watches them to their end, as
if it had launched them. Jobs of this job that no checkpoint names (a run killed between
``sbatch`` and its journal) are cancelled.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mzt.execute.base import AttemptHandle, Executor, Leftover, StopCheck
from mzt.execute.choice import SLURM
from mzt.execute.leftovers import recorded_handles, stop_leftovers

if TYPE_CHECKING:
    from collections.abc import Mapping

    from mzt.execute.attempt import AttemptSpec
    from mzt.run.machine_gate import MachineGate
    from mzt.run.reporting import Reporter
    from mzt.state import CheckpointState, JsonStateBackend


class DeadRun:
    """The leftovers of one job's dead run, for the run that takes the job over."""

    def __init__(
        self, executor: str, job_id: str, workspace: Path, environ: Mapping[str, str]
    ) -> None:
        self.executor = executor
        self.job_id = job_id
        self.workspace = workspace
        self.environ = environ
        self.stopped: list[Leftover] = []  # stopped, or left alone and said why
        self.adopted: list[tuple[AttemptHandle, AttemptSpec]] = []
        self.kept: list[AttemptHandle] = []  # adopted, and handed to the new run's executor

    def settle(self, state: CheckpointState) -> set[int]:
        """Stop what must not run on; returns the sheets whose attempts go on."""
        if self.executor != SLURM:
            self.stopped = stop_leftovers(state)
            return set()
        from mzt.execute.slurm_leftovers import reattachable, stop_unrecorded

        self.adopted = reattachable(recorded_handles(state), self.environ)
        keep = {handle.sheet_num for handle, _ in self.adopted}
        self.stopped = stop_leftovers(state, keep)
        ids = {str(handle.extra["job_id"]) for handle, _ in self.adopted}
        for slurm_id, sheet in stop_unrecorded(self.job_id, self.workspace, ids).items():
            # A job no checkpoint names: only its id and the sheet its name carries.
            handle = AttemptHandle(SLURM, "", sheet, 0, "", extra={"job_id": slurm_id})
            self.stopped.append(Leftover(handle, ()))
        return keep

    def reattach(
        self, state: CheckpointState, pool: Executor, should_stop: StopCheck, gate: MachineGate
    ) -> tuple[list[str], list[Leftover]]:
        """Hand the re-attached attempts to ``pool``, each holding its machine slots as a
        launched one would; returns what to say of each, and the attempts stopped instead
        because the opened job no longer has them in progress (it started fresh, or over)."""
        said, dropped = [], []
        for handle, spec in self.adopted:
            record = state.sheets.get(handle.sheet_num)
            recorded = record.attempt_handle if record is not None else None
            if not recorded or recorded.get("token") != handle.token:
                dropped.append(handle)
                continue
            num = handle.sheet_num
            profile = spec.instrument.name if spec.instrument else spec.instrument_name
            held = gate.adopt(num, profile, spec.instrument_name, spec.model)
            pool.adopt(handle, spec, should_stop)
            self.kept.append(handle)
            said.append(
                f"sheet {num}: attempt {handle.attempt} goes on as Slurm job "
                f"{handle.extra['job_id']}, submitted by the run that died"
                + ("" if held else " (no machine slot was free: it runs outside the limits)")
            )
        stopped = []
        if dropped:
            from mzt.execute.slurm import SlurmExecutor

            stopped = SlurmExecutor().stop_leftovers(dropped)
        self.stopped += stopped
        return said, stopped


def announce(
    items: list[Leftover], state: CheckpointState, reporter: Reporter, store: JsonStateBackend
) -> None:
    """Say in the run's output and history what was done with each leftover."""
    for item in items:
        line = f"{item.what_was_done()} of the run that died: {item.describe()}"
        reporter.note(line)
        store.record_event(state, item.event, detail=line)
