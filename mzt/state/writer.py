"""The ``writer`` block of a checkpoint: which process wrote it."""

from __future__ import annotations

import msgspec

from mzt.state.liveness import ProcessIdentity, current_identity
from mzt.state.structs import Model


class WriterInfo(Model, kw_only=True):
    """The process that wrote a checkpoint: enough to tell it from a later one with its pid."""

    pid: int
    start_time: float | None = None
    started_at: str | None = None
    host: str
    boot_id: str | None = None

    @classmethod
    def current(cls) -> WriterInfo:
        """This process (a fresh copy: the caller may change it)."""
        global _current
        me = current_identity()
        if _current is None or _current[0] is not me:
            # Built once per process: every write names its writer, and the start time's
            # text costs more than the rest of the record.
            writer = cls(
                pid=me.pid,
                start_time=me.start_time,
                started_at=me.started_at,
                host=me.host,
                boot_id=me.boot_id,
            )
            _current = (me, writer)
        return msgspec.structs.replace(_current[1])

    def identity(self) -> ProcessIdentity:
        """As a :class:`~mzt.state.liveness.ProcessIdentity` for liveness checks."""
        return ProcessIdentity(self.pid, self.start_time, self.host, self.boot_id)


class TakeOver(Model, kw_only=True):
    """A job taken over (``--take-over``) from a run that another host had marked running.

    Kept in the checkpoint so `mzt status` and `mzt diagnose` can say whose the job was;
    the history has a ``taken_over`` event for every take-over.
    """

    from_host: str
    from_pid: int | None = None
    from_started_at: str | None = None  # when that host's process started
    last_written_at: str | None = None  # when it last wrote the checkpoint
    at: str  # when this host took the job over
    by_host: str
    by_pid: int
    command: str  # the command that took it over: run, resume, cancel

    def describe(self) -> str:
        """One line for people: whose the job was, and when it changed hands."""
        facts = [f"pid {self.from_pid}"] if self.from_pid is not None else []
        if self.last_written_at:
            facts.append(f"last wrote at {self.last_written_at}")
        detail = f" ({', '.join(facts)})" if facts else ""
        return (
            f"taken over from {self.from_host}{detail} by `mzt {self.command} --take-over` "
            f"on {self.by_host} at {self.at}"
        )


_current: tuple[ProcessIdentity, WriterInfo] | None = None
