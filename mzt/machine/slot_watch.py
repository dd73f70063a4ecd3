"""Waking a waiting run the moment the slots it waits for may have come free.

A slot's release empties and closes its file, a take writes its holder's record, a
holder killed has its file closed by the kernel, and a ticket leaving is an unlink: each
is an inotify event in the limit's folder or its ``tickets/`` folder, and only those that
may give a waiter its turn wake it (:func:`may_free`). While a run waits, a daemon thread
blocks reading those events (:mod:`mzt.machine.inotify`, never recursive) and calls
``wake`` after each batch that counts, so the waiter looks again at once instead of at its
next poll. Only a waiter near its turn follows them (see
:class:`~mzt.machine.fairshare.Waiter`): with fifty runs waiting, waking all of them at
every slot let go cost more than the attempts themselves.

The watch is set up in the caller's thread before :meth:`SlotWatch.follow` returns, and
the reading thread wakes the waiter once as it starts: a slot freed after the waiter's
last look but before the watch existed makes no event, and would otherwise sit unused
until :data:`QUIET_SECONDS` passed.

Where inotify is unavailable (another system, the user's watch limit reached), the watch
fails and :attr:`SlotWatch.live` stays False: the waiter then polls (see
:data:`POLL_SECONDS`). Either way a missed event costs only latency, never correctness.

Why not watchfiles, which `mzt watch` uses: its reader wakes every few milliseconds to
look for changes (1.6 % of a core per waiting run, and the interpreter lock taken each
time) and hands a batch over a few milliseconds after it came, while a turn passed to
another run leaves a slot idle until that run hears of it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from mzt.machine import inotify
from mzt.machine.fairshare import SUFFIX as TICKET_SUFFIX
from mzt.machine.slots import CONTENDED
from mzt.machine.slots import SUFFIX as SLOT_SUFFIX
from mzt.state.lockprobe import PROBE_FLAGS
from mzt.support import paths

POLL_SECONDS = 0.1  # without file events: how often a waiter looks again
QUIET_SECONDS = 1.0  # with them: a look anyway, for what makes no event

MASK = inotify.IN_MODIFY | inotify.IN_CLOSE_WRITE | inotify.IN_DELETE | inotify.IN_MOVED_FROM


def may_free(mask: int, path: str) -> bool:
    """Whether an event in a limit's folders may give a waiter its turn.

    A slot file emptied (a release; a take writes a record into it) or closed while its
    lock is free (a holder killed, whose record stays), or a ticket gone (its waiter
    served or giving up, so those behind it move up). A slot taken, a take that found
    the slot held, or a ticket joined never does: with several runs waiting, waking them
    all for those too tripled the looks each attempt cost.
    """
    if mask & inotify.IN_Q_OVERFLOW:
        return True  # events were lost: look
    name = path.rpartition("/")[2]
    if name.endswith(SLOT_SUFFIX):
        try:
            if os.stat(path).st_size == 0:  # noqa: PTH116 (a str path, per event)
                return True
        except OSError:
            return True  # gone: look, and let the look find out
        return bool(mask & inotify.IN_CLOSE_WRITE) and not _held(path)
    if name.endswith(TICKET_SUFFIX) and not name.startswith("."):
        return bool(mask & (inotify.IN_DELETE | inotify.IN_MOVED_FROM))
    return False


def _held(path: str) -> bool:
    try:
        fd = os.open(path, PROBE_FLAGS)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as exc:
        return exc.errno in CONTENDED
    finally:
        os.close(fd)  # closing drops the shared lock, if it was taken
    return False


class SlotWatch:
    """Calls ``wake`` after changes in the folders of the limits it follows."""

    def __init__(self, wake: Callable[[], None], *, home: Path | None = None) -> None:
        self.wake = wake
        self.home = home
        self.folders: tuple[str, ...] = ()
        self.limits: tuple[str, ...] = ()  # what the folders are of
        self.notify: inotify.Inotify | None = None
        self.thread: threading.Thread | None = None
        self.failed = False

    @property
    def live(self) -> bool:
        """Whether file events are being delivered (False: poll instead)."""
        return not self.failed and self.thread is not None and self.thread.is_alive()

    def recheck_in(self) -> float:
        """The longest a waiter should wait before it looks again without a wake-up."""
        return QUIET_SECONDS if self.live else POLL_SECONDS

    def follow(self, limits: Iterable[str]) -> None:
        """Watch the folders of ``limits`` (each made already, as a waiter's ticket makes it)."""
        wanted = tuple(sorted(set(limits)))
        if self.failed or (wanted == self.limits and self.live):
            return  # asked again at every look of a wait: nothing to check
        folders: list[str] = []
        for limit in wanted:
            folder = paths.slot_limit_dir(limit, self.home)
            for path in (folder, folder / "tickets"):
                if path.is_dir():
                    folders.append(str(path))
        if tuple(folders) == self.folders and self.live:
            return
        self.stop()
        if not folders:
            return
        try:
            notify = inotify.Inotify(folders, MASK)
        except OSError:
            self.failed = True  # polled from now on
            return
        self.notify = notify
        self.folders = tuple(folders)
        self.limits = wanted
        self.thread = threading.Thread(target=self._run, args=(notify,), name="mzt-slots")
        self.thread.daemon = True
        self.thread.start()

    def _run(self, notify: inotify.Inotify) -> None:
        try:
            self.wake()  # for a change made before the watch was up (see the notes)
            while (batch := notify.read()) is not None:
                if any(may_free(mask, path) for mask, path in batch):
                    self.wake()
        except Exception:
            if self.notify is notify:
                self.failed = True
                self.wake()  # the waiter learns at once that it must poll now
        finally:
            notify.close()

    def stop(self) -> None:
        """Stop following (the thread ends at once and closes its descriptors)."""
        if self.notify is not None:
            with contextlib.suppress(OSError):
                self.notify.stop()
        self.notify = None
        self.thread = None
        self.folders = ()
        self.limits = ()
