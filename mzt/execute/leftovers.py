"""The attempts a dead run left behind: find them, stop them, forget them.

A sheet's ``attempt_handle`` is written before its attempt may start and cleared when the
attempt ends, so a handle still in a checkpoint whose run is gone names an attempt whose
processes may still be running. Whoever next takes the job's run lock (`mzt run`,
`mzt resume`, `mzt cancel`, `mzt clear`) stops them before doing anything else; `mzt
status` and `mzt diagnose` only look.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from pathlib import Path

from mzt.execute import slurm_cli
from mzt.execute.base import AttemptHandle, Executor, Leftover
from mzt.execute.local import NAME as LOCAL
from mzt.execute.local import LocalExecutor
from mzt.state import CheckpointState
from mzt.state.lock import settled_probe
from mzt.state.lockprobe import LockProbe
from mzt.support.errors import MztError


def _slurm() -> Executor:
    from mzt.execute.slurm import SlurmExecutor

    return SlurmExecutor()


# Executors by the name their handles carry; one that is not known here cannot be checked.
EXECUTORS: dict[str, Callable[[], Executor]] = {LOCAL: LocalExecutor, slurm_cli.EXECUTOR: _slurm}


def recorded_handles(state: CheckpointState) -> list[AttemptHandle]:
    """The attempt handles in the state, in sheet order (unreadable records are skipped)."""
    handles = []
    for num in sorted(state.sheets):
        record = state.sheets[num].attempt_handle
        handle = AttemptHandle.from_record(record) if record else None
        if handle is not None:
            handles.append(handle)
    return handles


def _by_executor(
    handles: list[AttemptHandle],
    act: Callable[[Executor, list[AttemptHandle]], list[Leftover]],
) -> list[Leftover]:
    found: list[Leftover] = []
    for name in sorted({h.executor for h in handles}):
        group = [h for h in handles if h.executor == name]
        factory = EXECUTORS.get(name)
        if factory is None:
            found.extend(Leftover(h, (), f"ran on executor {name!r}; not checked") for h in group)
            continue
        executor = factory()
        try:
            found.extend(act(executor, group))
        finally:
            executor.close()
    return sorted(found, key=lambda item: item.handle.sheet_num)


def live_leftovers(state: CheckpointState) -> list[Leftover]:
    """Recorded attempts with processes still alive (only meaningful when the run is dead)."""
    handles = recorded_handles(state)
    return _by_executor(handles, lambda ex, hs: ex.find_leftovers(hs)) if handles else []


def stop_leftovers(state: CheckpointState, keep: Collection[int] = ()) -> list[Leftover]:
    """Stop what is alive of the state's recorded attempts and clear the records (in memory;
    the caller holds the run lock and saves). Returns what was found alive and stopped.

    The attempts of the sheets in ``keep`` are left running, and their records kept: the
    caller watches them to their end (a Slurm job re-attached to).
    """
    handles = [h for h in recorded_handles(state) if h.sheet_num not in keep]
    stopped = _by_executor(handles, lambda ex, hs: ex.stop_leftovers(hs)) if handles else []
    clear_handles(state, keep)
    return stopped


def clear_handles(state: CheckpointState, keep: Collection[int] = ()) -> list[int]:
    cleared = [
        num
        for num, sheet in state.sheets.items()
        if sheet.attempt_handle is not None and num not in keep
    ]
    for num in cleared:
        state.sheets[num].attempt_handle = None
    return cleared


def view_leftovers(lock_path: Path, state: CheckpointState) -> list[Leftover]:
    """The live leftovers of a job a view has read (read-only; none while a run holds it).

    ``state`` is the view's own reading of the job: nothing is read again.
    """
    try:
        if settled_probe(lock_path) != LockProbe.FREE:
            return []  # a live run: its recorded attempts are its own, not leftovers
    except (MztError, OSError):
        return []  # the views report an unreadable state themselves
    return live_leftovers(state)
