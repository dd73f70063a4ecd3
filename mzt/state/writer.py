"""The ``writer`` block of a checkpoint: which process wrote it."""

from __future__ import annotations

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
        """This process."""
        me = current_identity()
        return cls(
            pid=me.pid,
            start_time=me.start_time,
            started_at=me.started_at,
            host=me.host,
            boot_id=me.boot_id,
        )

    def identity(self) -> ProcessIdentity:
        """As a :class:`~mzt.state.liveness.ProcessIdentity` for liveness checks."""
        return ProcessIdentity(self.pid, self.start_time, self.host, self.boot_id)
