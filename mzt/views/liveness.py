"""Whether a job's run is alive, judged from its run lock, and how a dead run's state is shown."""

from __future__ import annotations

from typing import Any

import msgspec

from mzt.state.lockprobe import LockProbe, probe_lock
from mzt.state.reading import Checkpoint, JobRef, file_size, read_checkpoint


class Liveness(msgspec.Struct, frozen=True):  # a dataclass costs a millisecond to make
    """Whether the job's run is alive (``None``: cannot be known from this host)."""

    alive: bool | None
    verdict: str  # alive, dead, foreign, idle
    reason: str
    holder: dict[str, Any] | None


def judge(checkpoint: Checkpoint) -> Liveness:
    """Probe the run lock (never taking it); a running state with a free lock is dead.

    The verdicts are :func:`mzt.state.lock.job_liveness`'s. The common cases (the lock is held:
    alive; the lock is free and the state is not running: idle) are settled here with one
    probe; only a running state under a free lock needs that function's evidence (pid,
    start time, host, boot id), and only then is it imported: importing it costs more
    than a whole read of a small job.
    """
    lock_path = checkpoint.ref.lock_path
    writer = checkpoint.head.get("writer")
    probe = probe_lock(lock_path)
    if probe != LockProbe.FREE:
        from mzt.state.lock import settled_probe

        probe = settled_probe(lock_path, probe)  # a dead run's last child may hold it
    if probe != LockProbe.FREE:
        from mzt.state.lock import read_holder

        recorded = read_holder(lock_path)
        holder = recorded.describe() if recorded else _identity(writer)
        return Liveness(True, "alive", "the run lock is held", holder)
    if checkpoint.status != "running":
        return Liveness(False, "idle", "not running", _identity(writer))
    from mzt.state.liveness import ProcessIdentity
    from mzt.state.lock import job_liveness

    verdict = job_liveness(lock_path, running=True, writer=ProcessIdentity.from_dict(writer))
    holder = verdict.holder.describe() if verdict.holder else None
    return Liveness(verdict.alive, verdict.verdict.value, verdict.reason, holder)


def _identity(record: Any) -> dict[str, Any] | None:
    """``{pid, host, started_at}`` of a lock file's or a checkpoint's writer record."""
    if not isinstance(record, dict) or not isinstance(record.get("pid"), int):
        return None
    return {
        "pid": record["pid"],
        "host": record.get("host"),
        "started_at": record.get("started_at"),
    }


def settle(checkpoint: Checkpoint, liveness: Liveness) -> None:
    """Show a dead run's state as the loader does: paused, no pid, a note why."""
    head = checkpoint.head
    if head.get("status") != "running" or liveness.verdict != "dead":
        return
    previous = head.get("pid")
    head["status"] = "paused"
    head["pid"] = None
    if not head.get("error_message"):
        who = f"pid {previous}" if previous is not None else "the recorded process"
        head["error_message"] = (
            f"Recovered from a stale running state ({who} is no longer running this job); "
            f"the job is paused and can be resumed. Evidence: {liveness.reason}."
        )


def observe(ref: JobRef) -> tuple[Checkpoint, Liveness, bool]:
    """Read ``ref``, judge its liveness and settle a dead run's status.

    Returns the checkpoint, the verdict, and whether the files said "running". A run that
    finishes between the read and the lock probe would look dead (its files said running,
    its lock is free by the time it is probed); so a "dead" verdict only stands if the
    files did not change meanwhile, else they are read again.
    """
    for _ in range(3):
        before = _files_of(ref)
        checkpoint = read_checkpoint(ref)
        liveness = judge(checkpoint)
        if liveness.verdict != "dead" or _files_of(ref) == before:
            break
    was_running = checkpoint.status == "running"
    settle(checkpoint, liveness)
    return checkpoint, liveness, was_running


def _files_of(ref: JobRef) -> tuple[int, ...]:
    try:
        st = ref.state_path.stat()
    except OSError:
        return ()
    return (st.st_ino, st.st_size, st.st_mtime_ns, file_size(ref.history_path))


def exit_code_for(status: str) -> int:
    """The exit code `mzt run` gives for a job that ended in ``status``."""
    return {"completed": 0, "failed": 1, "cancelled": 4}.get(status, 3)
