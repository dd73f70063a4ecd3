"""Waking a reader when files it follows may have changed: file events, else polling.

`mzt watch` and `mzt logs -f` both wait for a run's files to change. They wait with
watchfiles (inotify on Linux) on a few folders, never recursively, so one watch per folder
whatever the job's size. Where inotify is unavailable or its per-user limits are used up
(watchfiles then raises), or when ``MZT_WATCH_POLL=1`` asks for it, they poll instead: a
look every so often. Either way a wake-up also comes when nothing changed for a while, so
a reader can probe what makes no file event (a run's lock being let go).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from mzt.support import records

POLL_ENV = "MZT_WATCH_POLL"
# watchfiles: yield changes this long after the last one (latency) ...
WATCH_STEP_MS = 5
# ... but never group changes for longer than this.
WATCH_DEBOUNCE_MS = 40


def polling_forced(environ: dict[str, str] | None = None) -> bool:
    """``MZT_WATCH_POLL=1`` (any value but empty or ``0``) forces polling."""
    value = (os.environ if environ is None else environ).get(POLL_ENV, "")
    return value not in ("", "0")


@records.record
class Wakeups:
    """Yields the paths that changed, or an empty set when a look is due anyway.

    ``folders`` is asked again at every wake-up: a folder that appears later (a job's log
    folder is made with its first output) is watched from then on. ``relevant`` picks the
    files that matter; ``idle`` is the longest quiet time between two wake-ups with file
    events, ``poll`` the time between two looks when polling.
    """

    folders: Callable[[], list[Path]]
    relevant: Callable[[Path], bool]
    idle: float
    poll: Callable[[], float]
    force_poll: bool
    stop: threading.Event | None = None
    mode: str = "events"  # "events" (watchfiles) or "polling"

    def _stopped(self) -> bool:
        return self.stop is not None and self.stop.is_set()

    def __iter__(self) -> Iterator[set[Path]]:
        if not self.force_poll:
            try:
                yield from self._events()
            except (OSError, RuntimeError):
                pass  # inotify unavailable or exhausted: watchfiles raises; poll instead
            else:
                return
        self.mode = "polling"
        while not self._stopped():
            time.sleep(self.poll())
            yield set()

    def _events(self) -> Iterator[set[Path]]:
        import watchfiles

        def keep(_change: watchfiles.Change, path: str) -> bool:
            return self.relevant(Path(path))

        while not self._stopped():
            watched = [f for f in self.folders() if f.is_dir()]
            if not watched:  # nothing to watch yet: look again after a while
                time.sleep(self.idle)
                yield set()
                continue
            for changes in watchfiles.watch(
                *watched,
                watch_filter=keep,
                debounce=WATCH_DEBOUNCE_MS,
                step=WATCH_STEP_MS,
                rust_timeout=max(1, int(self.idle * 1000)),
                yield_on_timeout=True,
                stop_event=self.stop,
                recursive=False,
                force_polling=False,
            ):
                yield {Path(path) for _change, path in changes}
                if [f for f in self.folders() if f.is_dir()] != watched:
                    break  # a folder appeared or went: watch the new set
            else:
                return  # stopped
