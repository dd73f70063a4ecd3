"""The local executor: attempts on worker threads, each child in its own session here.

Every attempt is started held (see `mzt.support.spawnhold`), as a rule by `launch`
itself in the runner's thread: it returns the placed handle — pid, group, start time, boot
id, host, token — and the child runs only once the runner has recorded it and called
`release`, which hands the child to a worker thread to watch. (Attempts that cannot be
spawned so — HTTP instruments, errors to report — run whole on a worker, which announces
the handle with a `Placed` event.) The token is also put in the
attempt's environment (``MZT_ATTEMPT``), so processes that left the attempt's group with
``setsid`` are still found: by the token in /proc/<pid>/environ, started no earlier than
the attempt, on the same boot.

While a run is in progress the process is a child subreaper (Linux), so such processes
are re-parented to mzt rather than to init when their parent exits; they are stopped with
their attempt and reaped here, never left as zombies.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
import time
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

from mzt.execute.base import (
    ATTEMPT_VARIABLE,
    AttemptHandle,
    Event,
    Finished,
    Leftover,
    Placed,
    StopCheck,
    drain,
    new_token,
    next_event,
)
from mzt.support import procinfo, records
from mzt.support.process import StopRequest
from mzt.support.spawnhold import Hold, current_hold, spawned_pids

if TYPE_CHECKING:  # loaded by the first launch: finding leftovers needs none of it
    from mzt.execute.attempt import AttemptReport, AttemptSpec, StartedAttempt

NAME = "local"
LEFTOVER_GRACE_SECONDS = 5.0
_HELD_POLL = 0.05
_REAP_EVERY = 0.5


@records.record
class _Attempt:
    handle: AttemptHandle
    released: threading.Event = records.field(default_factory=threading.Event)
    hold: Hold | None = None  # the held child's release line, once it is spawned
    stop: StopRequest | None = None
    future: Future[AttemptReport] | None = None
    # Spawned by `launch` itself: watched by a worker from `release` on (see `_watch`).
    started: StartedAttempt | None = None
    stop_check: StopCheck | None = None


@records.record(frozen=True, slots=True)
class _Ahead:
    spec: AttemptSpec  # as `prestart` was given it, without the token
    token: str
    started: StartedAttempt


def _carrying(spec: AttemptSpec, token: str) -> AttemptSpec:
    """``spec`` with its attempt's token in the environment (finds escaped processes)."""
    return records.replace(spec, environ={**spec.environ, ATTEMPT_VARIABLE: token})


class LocalExecutor:
    """Attempts as contained child processes of this mzt process."""

    name = NAME

    def __init__(
        self, max_concurrent: int = 1, *, subreaper: bool = False, grace: float | None = None
    ) -> None:
        self.pool = ThreadPoolExecutor(max(1, max_concurrent), thread_name_prefix="mzt-sheet")
        self.events: queue.Queue[Event | None] = queue.Queue()  # None: a wake-up
        self.attempts: dict[str, _Attempt] = {}
        self.lock = threading.Lock()
        self.aborting = False
        self.grace = LEFTOVER_GRACE_SECONDS if grace is None else grace
        self.host = procinfo.host()
        self.boot_id = procinfo.boot_id()
        self.subreaper = subreaper and procinfo.become_subreaper()
        self.adopted: set[int] = set()
        self.reap_lock = threading.Lock()  # the main thread and finishing workers both reap
        self.next_reap = 0.0
        self.ahead: _Ahead | None = None  # a child spawned by `prestart`, not launched yet

    # --- running attempts ----------------------------------------------------------------------

    def launch(self, spec: AttemptSpec, should_stop: StopCheck) -> AttemptHandle:
        from mzt.execute.attempt import execute, start

        ahead = self._take_ahead(spec)
        token = ahead.token if ahead is not None else new_token()
        handle = AttemptHandle(
            executor=NAME,
            token=token,
            sheet_num=spec.sheet_num,
            attempt=spec.attempt,
            host=self.host,
            boot_id=self.boot_id,
        )
        entry = _Attempt(handle)
        with self.lock:
            self.attempts[token] = entry
        spec = _carrying(spec, token)

        def stop_check() -> StopRequest | None:
            if entry.stop is not None:
                return entry.stop
            request = should_stop()
            if request is None and self.aborting:
                return StopRequest("interrupted")
            return request

        def on_spawned(pid: int, pgid: int, start_time: int | None) -> bool:
            placed = records.replace(
                entry.handle, pid=pid, pgid=pgid, start_time=start_time, started_at=time.time()
            )
            entry.handle = placed
            entry.hold = current_hold()
            self.events.put(Placed(placed))
            # Held until the runner has recorded the handle (and let the child go itself,
            # see `release`), or stopped unstarted.
            while not entry.released.wait(_HELD_POLL):
                if stop_check() is not None:
                    return entry.hold is not None and not entry.hold.cancel()
            return True

        def work() -> AttemptReport:
            try:
                return execute(spec, stop_check, on_spawned)
            finally:
                with contextlib.suppress(OSError):
                    self._sweep(entry.handle)

        # The usual case: the child is spawned held here, in the thread that records its
        # handle and lets it go, with no round trip through a worker before it runs.
        started: StartedAttempt | None
        if ahead is not None:
            started = ahead.started
            started.process.renew()  # its time counts from this launch, not its spawn
        else:
            started = start(spec)
        if started is not None:
            pid = started.process.proc.pid
            start_time = started.process.start_time
            if start_time is None:
                stat = procinfo.read_stat(pid)
                start_time = stat.start_time if stat else None
            entry.handle = records.replace(
                handle, pid=pid, pgid=pid, start_time=start_time, started_at=time.time()
            )
            entry.hold = started.process.hold
            entry.started = started
            entry.stop_check = stop_check
            return entry.handle  # placed: the runner records it and calls `release` now
        entry.future = self.pool.submit(work)
        entry.future.add_done_callback(lambda future: self._done(entry, future))
        return handle

    def prestart(self, spec: AttemptSpec) -> None:
        """Spawn ``spec``'s child held now, ahead of its `launch` (which uses it when its
        spec is the same), so that the program's start-up overlaps what runs before it.

        Nothing of it runs and nothing records it until that launch: dropped unused, or
        left behind by a killed run, the held child ends without doing anything.
        """
        from mzt.execute.attempt import start

        self._drop_ahead()
        token = new_token()
        try:
            started = start(_carrying(spec, token))
        except Exception:  # only a guess: its launch meets the problem and reports it
            return
        if started is not None:
            self.ahead = _Ahead(spec, token, started)

    def _take_ahead(self, spec: AttemptSpec) -> _Ahead | None:
        """The child started ahead for ``spec``, if it was for exactly this spec."""
        ahead = self.ahead
        if ahead is not None and ahead.spec != spec:
            self._drop_ahead()
            return None
        self.ahead = None
        return ahead

    def _drop_ahead(self) -> None:
        from mzt.execute.attempt import drop

        ahead, self.ahead = self.ahead, None
        if ahead is not None:
            drop(ahead.started)

    def _watch(self, entry: _Attempt) -> None:
        """Hand an attempt spawned by `launch` to a worker (once), released or cancelled."""
        started, check = entry.started, entry.stop_check
        with self.lock:
            if started is None or check is None or entry.future is not None:
                return
            future = entry.future = self.pool.submit(lambda: self._finish(entry, started, check))
        future.add_done_callback(lambda done: self._done(entry, done))

    def _finish(self, entry: _Attempt, started: StartedAttempt, check: StopCheck) -> AttemptReport:
        from mzt.execute.attempt import finish

        try:
            return finish(started, check)
        finally:
            with contextlib.suppress(OSError):
                self._sweep(entry.handle)

    def _cancel_held(self, entry: _Attempt) -> None:
        """Stop unstarted a child `launch` spawned that was not let go yet."""
        if entry.started is not None and entry.hold is not None:
            entry.hold.cancel()  # a child already let go runs on: its watcher stops it
            self._watch(entry)

    def _done(self, entry: _Attempt, future: Future[AttemptReport]) -> None:
        # Announced before it is forgotten: stop_all counts on finding every report queued.
        if not future.cancelled() and future.exception() is None:
            self.events.put(Finished(entry.handle, future.result()))
        with self.lock:
            self.attempts.pop(entry.handle.token, None)

    def release(self, handle: AttemptHandle) -> None:
        entry = self.attempts.get(handle.token)
        if entry is not None:
            # Sent from here, the recording thread: the program starts now, not once the
            # attempt's thread has woken and taken the interpreter lock back.
            if entry.hold is not None:
                entry.hold.go()
            entry.released.set()
            self._watch(entry)

    def adopt(self, handle: AttemptHandle, spec: AttemptSpec, should_stop: StopCheck) -> None:
        raise NotImplementedError("a dead run's local attempts are stopped, never adopted")

    def wait(self, timeout: float) -> Event | None:
        self._reap_adopted()
        return next_event(self.events, timeout)

    def wake(self) -> None:
        self.events.put(None)

    def stop(self, handle: AttemptHandle, *, immediate: bool = False) -> None:
        entry = self.attempts.get(handle.token)
        if entry is not None:
            entry.stop = StopRequest("cancelled", immediate=immediate)
            self._cancel_held(entry)

    def stop_all(self) -> list[AttemptReport]:
        self.aborting = True
        self._drop_ahead()
        self._cancel_all_held()
        return drain(self.events, self._count, _HELD_POLL)

    def _count(self) -> int:
        with self.lock:
            return len(self.attempts)

    def close(self) -> None:
        self.aborting = True
        self._drop_ahead()
        self._cancel_all_held()
        self.pool.shutdown(wait=True)
        self._reap_adopted(force=True)
        if self.subreaper:  # the process may go on (tests, embedding): adopt no more
            procinfo.become_subreaper(False)
            self.subreaper = False

    def _cancel_all_held(self) -> None:
        with self.lock:
            entries = list(self.attempts.values())
        for entry in entries:
            self._cancel_held(entry)

    # --- what escaped the attempt's group -------------------------------------------------------

    def _sweep(self, handle: AttemptHandle) -> None:
        """The attempt ended: stop whatever still carries its token, and reap it if ours."""
        if handle.pid is None:
            return
        with self.reap_lock:
            mine = procinfo.children_of_self() - spawned_pids()
            # As subreaper every escapee is below one of our adopted children, so the
            # search stays within our own tree instead of reading all of /proc.
            targets = (
                _carrying_token(handle, procinfo.subtree(mine))
                if self.subreaper
                else _scan([handle]).get(handle.token, [])
            )
            # Adopted escapees are ours to reap once stopped; note them while they live.
            self.adopted.update(t.pid for t in targets if t.pid in mine)
        if targets:
            procinfo.stop_targets(targets, min(self.grace, 2.0))
            self._reap_adopted(force=True)

    def _reap_adopted(self, *, force: bool = False) -> None:
        """Collect exited processes adopted as subreaper (attempts' escaped helpers)."""
        if not self.subreaper or (not force and time.monotonic() < self.next_reap):
            return
        self.next_reap = time.monotonic() + _REAP_EVERY
        with self.lock:
            tokens = {_entry(e.handle.token) for e in self.attempts.values()}
        with self.reap_lock:
            for pid in procinfo.children_of_self() - spawned_pids() - self.adopted:
                stat = procinfo.read_stat(pid)
                if stat is not None and stat.alive and procinfo.read_environ(pid) & tokens:
                    self.adopted.add(pid)
            # Re-checked now: a child of `run_process` is always reaped by its own thread.
            self.adopted -= procinfo.reap(self.adopted - spawned_pids())

    # --- leftovers of a dead run ----------------------------------------------------------------

    def find_leftovers(self, handles: Iterable[AttemptHandle]) -> list[Leftover]:
        found, unchecked = self._match(handles)
        return unchecked + [
            Leftover(handle, tuple(sorted(t.pid for t in targets)))
            for handle, targets in found
            if targets
        ]

    def stop_leftovers(self, handles: Iterable[AttemptHandle]) -> list[Leftover]:
        found, unchecked = self._match(handles)
        every = [target for _, targets in found for target in targets]
        # Not reaped here: a dead run's processes are not children of this one.
        hit = {t.pid for t in procinfo.stop_targets(every, self.grace)} if every else set()
        stopped = [
            Leftover(handle, tuple(sorted(t.pid for t in targets if t.pid in hit)))
            for handle, targets in found
        ]
        return unchecked + [item for item in stopped if item.pids]

    def _match(
        self, handles: Iterable[AttemptHandle]
    ) -> tuple[list[tuple[AttemptHandle, list[procinfo.Target]]], list[Leftover]]:
        local: list[AttemptHandle] = []
        unchecked: list[Leftover] = []
        for handle in handles:
            if handle.host != self.host:
                unchecked.append(Leftover(handle, (), f"ran on {handle.host}; not checked here"))
            elif not (handle.boot_id and self.boot_id and handle.boot_id != self.boot_id):
                local.append(handle)  # after a reboot nothing of it can be left
        scanned = _scan(local) if local else {}
        return [(handle, scanned.get(handle.token, [])) for handle in local], unchecked


def _scan(handles: list[AttemptHandle]) -> dict[str, list[procinfo.Target]]:
    """Live processes of each attempt: in its group or session while its leader is still
    itself, or carrying its token; never one started before the attempt."""
    me = procinfo.read_stat(os.getpid())
    groups: dict[int, AttemptHandle] = {}
    for handle in handles:
        leader = procinfo.read_stat(handle.pid) if handle.pid else None
        if leader is not None and leader.alive and leader.start_time == handle.start_time:
            groups[handle.pgid or handle.pid or 0] = handle
    earliest = min((h.start_time or 0 for h in handles), default=0)
    tokens = {_entry(h.token): h for h in handles}
    found: dict[str, list[procinfo.Target]] = {}
    for pid in procinfo.own_uid_pids():
        stat = procinfo.read_stat(pid)
        if stat is None or not stat.alive or stat.start_time < earliest:
            continue
        if me is not None and pid in (me.pid, me.ppid):
            continue
        owner = groups.get(stat.pgid) or groups.get(stat.sid)
        if owner is None:
            environ = procinfo.read_environ(pid)
            owner = next((h for t, h in tokens.items() if t in environ), None)
        if owner is None or stat.start_time < (owner.start_time or 0):
            continue
        found.setdefault(owner.token, []).append(procinfo.Target(pid, stat.start_time))
    return found


def _carrying_token(handle: AttemptHandle, pids: Iterable[int]) -> list[procinfo.Target]:
    """Those of ``pids`` alive with the attempt's token, started no earlier than it."""
    entry = _entry(handle.token)
    found: list[procinfo.Target] = []
    for pid in pids:
        stat = procinfo.read_stat(pid)
        if stat is None or not stat.alive or stat.start_time < (handle.start_time or 0):
            continue
        if entry in procinfo.read_environ(pid):
            found.append(procinfo.Target(pid, stat.start_time))
    return found


def _entry(token: str) -> bytes:
    return f"{ATTEMPT_VARIABLE}={token}".encode()
