"""Group commit for the journal: the fsync of a line runs beside the run, not in its path.

A run writes one transition line per finished attempt. Written with a plain ``write`` the
line is at once visible to every reader and safe from a crash of mzt (the kernel holds
it); only a power loss before the disk has it can take it away. Waiting for the disk
there costs every sheet a flush. So the line is written at once and its fsync is asked
of this thread, which gathers the requests of a short window (`GATHER_SECONDS`) into one
fsync while the run goes on with the next sheets: quick sheets, two transitions a few
milliseconds apart, would otherwise keep the disk flushing without a pause. The journal
waits for it before anything that must come after durability (a snapshot, a synchronous
line, its close), and such a wait ends the window at once. A power loss can then lose
only the transitions of the last moments, whose sheets run again on resume, as if the
power had failed that much earlier.

An fsync that fails is never retried on the descriptor (a second one can "succeed" with
the data lost): the failure is kept, and the journal refuses every later append with it.
"""

from __future__ import annotations

from collections.abc import Callable

TYPE_CHECKING = False  # not `typing`: reading a job's state imports this module
if TYPE_CHECKING:
    import threading


# How long the first request waits for others to share its fsync. Short enough that a
# power cut loses little; long enough that a run of one-command sheets flushes a few dozen
# times a second, not at every transition.
GATHER_SECONDS = 0.02


class Syncer:
    """fsyncs one descriptor in a thread of its own whenever asked, coalescing requests."""

    def __init__(
        self, fsync: Callable[[int], None], name: str, *, gather: float = GATHER_SECONDS
    ) -> None:
        self._fsync = fsync
        self._name = name
        self._gather = gather
        self._hurry = False  # someone waits for the disk: no more gathering
        import threading  # here: only a journal that is written to makes a syncer

        self._cond = threading.Condition()
        self._fd = -1
        self._asked = False  # an fsync asked for and not begun yet
        self._running = False
        self._closing = False
        self._failure: OSError | None = None
        self._thread: threading.Thread | None = None

    @property
    def failure(self) -> OSError | None:
        """The error of the first fsync that failed, if one did (without waiting)."""
        return self._failure

    def ask(self, fd: int) -> None:
        """fsync ``fd`` soon: everything written to it before this call is covered."""
        with self._cond:
            self._fd = fd
            self._asked = True
            if self._thread is None:
                import threading

                self._thread = threading.Thread(target=self._serve, name=self._name, daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def wait(self) -> OSError | None:
        """Until every fsync asked for has ended; then the failure, if one failed."""
        with self._cond:
            self._hurry_up()
            self._cond.wait_for(self._idle)
            return self._failure

    def stop(self) -> OSError | None:
        """:meth:`wait`, then end the thread (a later :meth:`ask` starts a new one)."""
        with self._cond:
            self._hurry_up()
            self._cond.wait_for(self._idle)
            thread, self._thread = self._thread, None
            self._closing = thread is not None
            self._cond.notify_all()
        if thread is not None:
            thread.join()
        with self._cond:
            self._closing = False
        return self._failure

    def _idle(self) -> bool:
        return not (self._asked or self._running)

    def _hurry_up(self) -> None:
        if self._asked:
            self._hurry = True
            self._cond.notify_all()

    def _serve(self) -> None:
        with self._cond:
            while True:
                self._cond.wait_for(lambda: self._asked or self._closing)
                if not self._asked:
                    return
                self._cond.wait_for(lambda: self._hurry or self._closing, timeout=self._gather)
                self._hurry = False
                fd, self._asked, self._running = self._fd, False, True
                failure: OSError | None = None
                self._cond.release()
                try:
                    if self._failure is None:  # never again on a descriptor that failed
                        self._fsync(fd)
                except OSError as exc:
                    failure = exc
                finally:
                    self._cond.acquire()
                self._running = False
                if failure is not None and self._failure is None:
                    self._failure = failure
                self._cond.notify_all()
