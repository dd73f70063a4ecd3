"""Run one child process the way an orchestrator must: contained, bounded, interruptible.

Every child gets its own session (so its whole group can be signalled), its prompt on
stdin or /dev/null, and its stdout and stderr read by one selector loop that writes
redacted output to the log files (each capped, see `mzt.support.output_log`) and keeps
only a bounded tail in memory. Stopping —
for a timeout, a stale child, a cancel or a signal — climbs the ladder SIGTERM to the
group → grace period → SIGKILL → a pipe drain of at most `DRAIN_SECONDS`, so a
grandchild that keeps the pipes open can never hang mzt. When the child ends, whatever
is left of its group is stopped the same way: a sheet leaves no process behind.

With an ``on_spawned`` hook the child starts held (`mzt.support.spawnhold`): the hook
runs before the program does anything, so the caller can record the pid first.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Literal

from mzt.support import records
from mzt.support.output_log import DEFAULT_LOG_MAX_BYTES, OutputStream
from mzt.support.procinfo import boot_clock_ns, start_time_between
from mzt.support.spawnhold import (
    Hold,
    SpawnHook,
    hold_argv,
    locate,
    release,
    settle,
    track,
    untrack,
)
from mzt.support.watcher import DRAIN_SECONDS as DRAIN_SECONDS  # part of this module's API
from mzt.support.watcher import Watcher

DEFAULT_GRACE_SECONDS = 5.0
DEFAULT_TAIL_BYTES = 50 * 1024

ExitReason = Literal["completed", "timeout", "stale", "cancelled", "interrupted", "error"]


@records.record(frozen=True, slots=True)
class StopRequest:
    """Why a running child must stop; ``immediate`` skips the grace period."""

    reason: Literal["cancelled", "interrupted"]
    immediate: bool = False


@records.record(frozen=True, slots=True)
class ProcessRequest:
    """What to run and how."""

    argv: tuple[str, ...]
    cwd: Path
    env: Mapping[str, str]
    stdin: bytes | None = None  # None: /dev/null
    timeout: float | None = None
    idle_timeout: float | None = None  # stop a child that prints nothing this long
    stdout_log: Path | None = None
    stderr_log: Path | None = None
    tail_bytes: int = DEFAULT_TAIL_BYTES
    max_log_bytes: int = DEFAULT_LOG_MAX_BYTES  # per stream; see `mzt.support.output_log`
    grace_seconds: float = DEFAULT_GRACE_SECONDS
    # Called with the held child before it runs; False stops it unstarted.
    on_spawned: SpawnHook | None = None


@records.record(frozen=True, slots=True)
class Outcome:
    """What happened: the immutable result of one `run_process`."""

    exit_code: int | None
    signal: int | None
    reason: ExitReason
    duration: float
    stdout_tail: str
    stderr_tail: str
    stdout_bytes: int
    stderr_bytes: int
    truncated: bool
    error: str | None = None
    stdout_log_dropped: int = 0  # bytes left out of the middle of a capped log
    stderr_log_dropped: int = 0

    @property
    def succeeded(self) -> bool:
        return self.reason == "completed" and self.exit_code == 0


def run_process(
    request: ProcessRequest,
    *,
    should_stop: Callable[[], StopRequest | None] = lambda: None,
    clock: Callable[[], float] = time.monotonic,
) -> Outcome:
    """Run ``request`` to completion or until it must stop; never raises for the child."""
    started = spawn(request, held=request.on_spawned is not None, clock=clock)
    if isinstance(started, Outcome):
        return started
    if request.on_spawned is not None:
        try:
            go = release(started.proc, request.on_spawned, keep_stdin=request.stdin is not None)
        except BaseException:
            untrack(started.proc.pid)  # stopped unstarted by `release`
            raise
        if not go:
            return started.abandon()
    return started.watch(should_stop)


def spawn(
    request: ProcessRequest, *, held: bool, clock: Callable[[], float] = time.monotonic
) -> Started | Outcome:
    """Start ``request``'s child (``held``: behind the hold shim), or say why it could not.

    The spawn and the watch are two steps so that one thread can start the child and
    record it while another watches it (`Started.watch`); ``on_spawned`` is not run here.
    """
    started = clock()
    streams = {
        "out": OutputStream(request.stdout_log, request.tail_bytes, request.max_log_bytes),
        "err": OutputStream(request.stderr_log, request.tail_bytes, request.max_log_bytes),
    }
    # Logs of an earlier attempt with the same number (a resumed job) must not linger.
    for log in (request.stdout_log, request.stderr_log):
        if log is None:
            continue
        try:
            os.unlink(log)  # noqa: PTH108 (one plain call, not a stat and a call: every attempt)
        except FileNotFoundError:
            pass
        except OSError as exc:  # a folder or an unwritable place where the log goes
            for stream in streams.values():
                stream.finish()
            return _spawn_failure(request, exc, 0.0)
    argv = request.argv
    executable: str | None = None
    if held:
        argv = hold_argv(request.argv, with_stdin=request.stdin is not None)
        found = locate(request.argv[0], request.cwd, request.env)
        if isinstance(found, OSError):
            for stream in streams.values():
                stream.finish()
            return _spawn_failure(request, found, 0.0)
        if argv[0] == request.argv[0] and found[0] == "/":
            executable = found  # found already: the child need not try every PATH folder
    before = boot_clock_ns()
    try:
        proc = subprocess.Popen(
            argv,
            executable=executable,
            cwd=request.cwd,
            env=dict(request.env),
            stdin=subprocess.PIPE if request.stdin is not None or held else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            close_fds=True,
        )
    except OSError as exc:
        for stream in streams.values():
            stream.finish()
        return _spawn_failure(request, exc, clock() - started)
    start_time = start_time_between(before, boot_clock_ns())
    track(proc.pid)
    return Started(proc, request, streams, started, clock, held=held, start_time=start_time)


class Started:
    """A spawned child, reaped by whoever calls `watch` or `abandon` (exactly once).

    Until then its pid is marked as spawned, so a subreaper leaves it alone.
    """

    __slots__ = ("clock", "hold", "proc", "request", "start_time", "started", "streams")

    def __init__(
        self,
        proc: subprocess.Popen[bytes],
        request: ProcessRequest,
        streams: dict[str, OutputStream],
        started: float,
        clock: Callable[[], float],
        *,
        held: bool,
        start_time: int | None = None,
    ) -> None:
        self.proc = proc
        self.start_time = start_time  # clock ticks after boot, if known without /proc
        self.request = request
        self.streams = streams
        self.started = started
        self.clock = clock
        assert proc.stdin is not None or not held
        self.hold = Hold(proc.stdin.fileno()) if held and proc.stdin is not None else None

    def proceed(self, should_stop: Callable[[], StopRequest | None]) -> Outcome:
        """Watch the held child once its hold is settled: run if let go, else stopped."""
        assert self.hold is not None
        if not settle(self.proc, self.hold, go=True, keep_stdin=self.request.stdin is not None):
            return self.abandon()
        return self.watch(should_stop)

    def drop(self) -> None:
        """Stop the held child unstarted and forget it: it ran nothing (a start made ahead
        that was not used)."""
        assert self.hold is not None
        settle(self.proc, self.hold, go=False, keep_stdin=self.request.stdin is not None)
        self.abandon()

    def renew(self) -> None:
        """The child, spawned ahead, is about to be used: its time counts from now."""
        self.started = self.clock()

    def abandon(self) -> Outcome:
        """The child was stopped unstarted: it ran nothing."""
        untrack(self.proc.pid)
        for stream in self.streams.values():
            stream.finish()
        return _unreleased(self.clock() - self.started)

    def watch(self, should_stop: Callable[[], StopRequest | None]) -> Outcome:
        """Run the (released) child to completion or until it must stop."""
        proc, streams, clock = self.proc, self.streams, self.clock
        try:
            watcher = Watcher(proc, self.request, streams, should_stop, clock)
            try:
                reason = watcher.watch()
            finally:
                watcher.close()
                for stream in streams.values():
                    stream.finish()
        finally:
            untrack(proc.pid)
        code = proc.returncode
        return Outcome(
            exit_code=code if code is not None and code >= 0 else None,
            signal=-code if code is not None and code < 0 else None,
            reason=reason,
            duration=clock() - self.started,
            stdout_tail=streams["out"].tail_text(),
            stderr_tail=streams["err"].tail_text(),
            stdout_bytes=streams["out"].total,
            stderr_bytes=streams["err"].total,
            truncated=streams["out"].dropped or streams["err"].dropped,
            stdout_log_dropped=streams["out"].log_dropped,
            stderr_log_dropped=streams["err"].log_dropped,
        )


def _unreleased(duration: float) -> Outcome:
    message = "stopped before it started"
    return Outcome(None, None, "interrupted", duration, "", "", 0, 0, False, error=message)


def _spawn_failure(request: ProcessRequest, exc: OSError, duration: float) -> Outcome:
    if isinstance(exc, FileNotFoundError):
        message = f"Executable not found: {request.argv[0]} is not on PATH"
    elif isinstance(exc, PermissionError):
        message = f"Executable not runnable (permission denied): {request.argv[0]}"
    else:
        message = f"Could not start {request.argv[0]}: {exc.strerror or exc}"
    return Outcome(None, None, "error", duration, "", message, 0, 0, False, error=message)
