"""How a run is told to stop: pause and cancel files, and signals.

Pause and cancel requests are plain files in the workspace that anyone (a script, cron,
`mzt pause`) can create; they are honoured only when they are regular files owned by
the user running mzt, and deleted once acted on. SIGINT, SIGTERM and SIGHUP stop the run
like a cancel, except that the job is saved paused so it can be resumed; a second
signal skips the grace period given to running children.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType

from mzt.support import paths, records
from mzt.support.fsutil import is_own_regular_file
from mzt.support.process import StopRequest

_HANDLED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@records.record
class Controls:
    """The stop requests a run consults; safe to read from any thread."""

    workspace: Path
    job_id: str
    signum: int | None = None
    signals_seen: int = 0
    _wake: threading.Event = records.field(default_factory=threading.Event)
    pause_path: Path = records.field(init=False)
    cancel_path: Path = records.field(init=False)

    def __post_init__(self) -> None:
        # Built once: they are checked several times per sheet.
        self.pause_path = paths.pause_file(self.workspace, self.job_id)
        self.cancel_path = paths.cancel_file(self.workspace, self.job_id)

    def clear_stale(self) -> None:
        """Remove request files left from earlier runs (only ones we may act on)."""
        for path in (self.pause_path, self.cancel_path):
            if is_own_regular_file(path):
                path.unlink(missing_ok=True)

    def pause_requested(self) -> bool:
        return is_own_regular_file(self.pause_path)

    def cancel_requested(self) -> bool:
        return is_own_regular_file(self.cancel_path)

    def consume(self, path: Path) -> None:
        with contextlib.suppress(OSError):
            path.unlink()

    @property
    def interrupted(self) -> bool:
        return self.signum is not None

    def stop_request(self) -> StopRequest | None:
        """What a running child should do now: keep going, or stop (and how fast)."""
        if self.signum is not None:
            return StopRequest("interrupted", immediate=self.signals_seen > 1)
        if self.cancel_requested():
            return StopRequest("cancelled")
        return None

    def wait(
        self, seconds: float, *, also: Callable[[], bool] = lambda: False, poked: bool = False
    ) -> bool:
        """Sleep up to ``seconds``; return True early when a signal, pause or cancel arrives.

        The pause and cancel files are checked a few times a second; signals wake the
        sleep at once. With ``poked``, any :meth:`poke` ends it too (returning False unless
        a stop came with it): a run that waits for nothing in flight is woken that way when
        a machine slot comes free.
        """
        end = time.monotonic() + seconds
        while True:
            if self._asked_to_stop(also):
                return True
            left = end - time.monotonic()
            if left <= 0:
                return False
            if self._wake.wait(min(left, 0.25)):
                self._wake.clear()
                if poked:
                    return self._asked_to_stop(also)

    def _asked_to_stop(self, also: Callable[[], bool]) -> bool:
        return self.interrupted or self.cancel_requested() or self.pause_requested() or also()

    def poke(self) -> None:
        """Wake a `wait` (a worker finished, a signal arrived)."""
        self._wake.set()

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self.signals_seen += 1
        if self.signum is None:
            self.signum = signum
        self.poke()

    @contextlib.contextmanager
    def handling_signals(self) -> Iterator[None]:
        """Route SIGINT/SIGTERM/SIGHUP to this object for the duration (main thread only).

        A signal that was ignored when mzt started (``nohup`` ignores SIGHUP, background
        jobs of a non-interactive shell ignore SIGINT) stays ignored.
        """
        previous = {}
        for signum in _HANDLED:
            current = signal.getsignal(signum)
            if current is signal.SIG_IGN:
                continue
            previous[signum] = current
            signal.signal(signum, self._on_signal)
        try:
            yield
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
