"""Waking a waiting run soon after the slots it waits for may have come free.

A slot's release empties and closes its file, a take writes its holder's record and a
ticket arriving or leaving is a rename or an unlink: each is a file event in the limit's
folder or its ``tickets/`` folder, and only those that may give a waiter its turn wake it
(:func:`may_free`). While a run waits, a daemon thread follows those
folders with watchfiles (inotify on Linux, never recursive) and calls ``wake`` after each
batch of changes, so the waiter looks again within milliseconds instead of at its next
poll. Only a waiter near its turn follows them (see
:class:`~mzt.machine.fairshare.Waiter`): with fifty runs waiting, waking all of them at
every slot let go cost more than the attempts themselves. The thread starts with the
first wait (watchfiles is imported then, not at every start) and follows a new set of
folders when the waiter waits for other limits.

A change made after the waiter's last look but before the watch is set up (importing
watchfiles and starting inotify take a while on a loaded machine) makes no event the
thread sees. So until the watch is up the waiter polls, and once it is up (its first
batch or timeout) the thread wakes the waiter once to look again: without that, a slot
freed in the gap would sit unused for up to :data:`QUIET_SECONDS`.

Where file events are unavailable (watchfiles raises: no inotify, its limits used up), the
thread ends and :attr:`SlotWatch.live` turns False: the waiter then polls (see
:data:`POLL_SECONDS`). Either way a missed event costs only latency, never correctness.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from mzt.machine.fairshare import SUFFIX as TICKET_SUFFIX
from mzt.machine.slots import SUFFIX as SLOT_SUFFIX
from mzt.support import paths

POLL_SECONDS = 0.1  # without file events: how often a waiter looks again
QUIET_SECONDS = 1.0  # with them: a look anyway, for what makes no event (a holder killed)
_STEP_MS = 2  # yield a batch this long after its last change ...
_DEBOUNCE_MS = 20  # ... and never hold one back longer


def may_free(change: object, path: str) -> bool:
    """Whether a change in a limit's folders may give a waiter its turn.

    A slot let go (its file emptied: a take writes a record into it, a release empties
    it) or a ticket gone (its waiter served or giving up, so those behind it move up).
    A slot taken or a ticket joined never does: with several runs waiting, waking them
    all for those too tripled the looks each attempt cost.
    """
    name = path.rpartition("/")[2]
    if name.endswith(SLOT_SUFFIX):
        try:
            return os.stat(path).st_size == 0  # noqa: PTH116 (a str path, per event)
        except OSError:
            return True  # gone: look, and let the look find out
    if name.endswith(TICKET_SUFFIX) and not name.startswith("."):
        return getattr(change, "name", "") == "deleted"
    return False


class SlotWatch:
    """Calls ``wake`` after changes in the folders of the limits it follows."""

    def __init__(self, wake: Callable[[], None], *, home: Path | None = None) -> None:
        self.wake = wake
        self.home = home
        self.folders: tuple[str, ...] = ()
        self.limits: tuple[str, ...] = ()  # what the folders are of
        self.thread: threading.Thread | None = None
        self.stop_event = threading.Event()
        self.ready = threading.Event()  # the current thread's watch is set up
        self.failed = False

    @property
    def live(self) -> bool:
        """Whether file events are being delivered (False: poll instead)."""
        return not self.failed and self.thread is not None and self.thread.is_alive()

    def recheck_in(self) -> float:
        """The longest a waiter should wait before it looks again without a wake-up."""
        return QUIET_SECONDS if self.live and self.ready.is_set() else POLL_SECONDS

    def follow(self, limits: Iterable[str]) -> None:
        """Watch the folders of ``limits`` (each made already, as a waiter's ticket makes it)."""
        wanted = tuple(sorted(set(limits)))
        if wanted == self.limits and self.live:
            return  # asked again at every look of a wait: nothing to check
        folders: list[str] = []
        for limit in wanted:
            folder = paths.slot_limit_dir(limit, self.home)
            for path in (folder, folder / "tickets"):
                if path.is_dir():
                    folders.append(str(path))
        if self.failed or (tuple(folders) == self.folders and self.live):
            return
        self.stop()
        if not folders:
            return
        self.folders = tuple(folders)
        self.limits = wanted
        self.stop_event = threading.Event()
        self.ready = threading.Event()
        self.thread = threading.Thread(
            target=self._run,
            args=(self.folders, self.stop_event, self.ready),
            name="mzt-slots",
            daemon=True,
        )
        self.thread.start()

    def _run(self, folders: tuple[str, ...], stop: threading.Event, ready: threading.Event) -> None:
        try:
            import watchfiles

            for changes in watchfiles.watch(
                *folders,
                watch_filter=may_free,
                debounce=_DEBOUNCE_MS,
                step=_STEP_MS,
                stop_event=stop,
                recursive=False,
                raise_interrupt=False,
                # Short timeouts only to learn soon that the watch is up (see the notes).
                rust_timeout=int(POLL_SECONDS * 1000),
                yield_on_timeout=True,
            ):
                if stop.is_set():
                    return
                if changes or not ready.is_set():
                    ready.set()
                    self.wake()
        except Exception:
            if not stop.is_set():
                self.failed = True
                self.wake()  # the waiter learns at once that it must poll now

    def stop(self) -> None:
        """Stop following (the thread ends within one watchfiles step)."""
        self.stop_event.set()
        self.thread = None
        self.folders = ()
        self.limits = ()
