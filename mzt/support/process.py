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

import contextlib
import fcntl
import os
import selectors
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import BinaryIO, Literal

from mzt.support import records
from mzt.support.output_log import DEFAULT_LOG_MAX_BYTES, OutputStream
from mzt.support.spawnhold import SpawnHook, hold_argv, release, spawned, unrunnable

DRAIN_SECONDS = 2.0
DEFAULT_GRACE_SECONDS = 5.0
DEFAULT_TAIL_BYTES = 50 * 1024
_CHUNK = 1024 * 1024
_PIPE_BYTES = 1024 * 1024
_TICK = 0.05
_CHECK_EVERY = 0.5  # how often the stop callback (cancel file, signals) is consulted
# Output held back by the redactor reaches the log once the child has been quiet this long.
_RELEASE_AFTER = 0.2
_EXITED = object()  # selector tag of the child's pidfd

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
    started = clock()
    streams = {
        "out": OutputStream(request.stdout_log, request.tail_bytes, request.max_log_bytes),
        "err": OutputStream(request.stderr_log, request.tail_bytes, request.max_log_bytes),
    }
    # Logs of an earlier attempt with the same number (a resumed job) must not linger.
    for log in (request.stdout_log, request.stderr_log):
        if log is not None and log.exists():
            log.unlink()
    held = request.on_spawned is not None
    argv = request.argv
    if held:
        argv = hold_argv(request.argv, with_stdin=request.stdin is not None)
        problem = unrunnable(request.argv[0], request.cwd, request.env)
        if problem is not None:
            for stream in streams.values():
                stream.finish()
            return _spawn_failure(request, problem, 0.0)
    try:
        proc = subprocess.Popen(
            argv,
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
    with spawned(proc.pid):
        if held and not release(proc, request.on_spawned, keep_stdin=request.stdin is not None):
            for stream in streams.values():
                stream.finish()
            return _unreleased(clock() - started)
        watcher = _Watcher(proc, request, streams, should_stop, clock)
        try:
            reason = watcher.watch()
        finally:
            watcher.close()
            for stream in streams.values():
                stream.finish()
    code = proc.returncode
    return Outcome(
        exit_code=code if code is not None and code >= 0 else None,
        signal=-code if code is not None and code < 0 else None,
        reason=reason,
        duration=clock() - started,
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


def _live_member(entry: os.DirEntry[str], pgid: int) -> bool:
    if not entry.name.isdigit():
        return False
    try:
        stat = Path(entry.path, "stat").read_bytes()
    except OSError:
        return False
    fields = stat[stat.rfind(b")") + 2 :].split()
    return fields[0] != b"Z" and int(fields[2]) == pgid


class _Watcher:
    """The selector loop around one child."""

    def __init__(
        self,
        proc: subprocess.Popen[bytes],
        request: ProcessRequest,
        streams: dict[str, OutputStream],
        should_stop: Callable[[], StopRequest | None],
        clock: Callable[[], float],
    ) -> None:
        self.proc = proc
        self.request = request
        self.clock = clock
        self.should_stop = should_stop
        self.selector = selectors.DefaultSelector()
        self.pgid = proc.pid  # the child leads its own session and group
        self.last_output = clock()
        self.streams = streams
        self.released = True  # nothing held back yet
        assert proc.stdout is not None and proc.stderr is not None
        for pipe, key in ((proc.stdout, "out"), (proc.stderr, "err")):
            os.set_blocking(pipe.fileno(), False)
            # A bigger pipe lets a chatty child write more between two of mzt's reads:
            # fewer wake-ups for both (best effort; the kernel may cap or refuse it).
            with contextlib.suppress(AttributeError, OSError):
                fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, _PIPE_BYTES)
            self.selector.register(pipe, selectors.EVENT_READ, streams[key])
        # A pidfd wakes the loop the moment the child exits; without one, poll often.
        self.exit_fd: int | None = None
        with contextlib.suppress(AttributeError, OSError):
            self.exit_fd = os.pidfd_open(proc.pid)
            self.selector.register(self.exit_fd, selectors.EVENT_READ, _EXITED)
        self.pending = memoryview(request.stdin or b"")
        if proc.stdin is not None:
            os.set_blocking(proc.stdin.fileno(), False)
            if self.pending:
                self.selector.register(proc.stdin, selectors.EVENT_WRITE, None)
            else:
                proc.stdin.close()

    def watch(self) -> ExitReason:
        started = self.clock()
        deadline = started + self.request.timeout if self.request.timeout else None
        next_check = started + _CHECK_EVERY
        while self.proc.poll() is None:
            now = self.clock()
            wait = next_check - now
            if deadline is not None:
                wait = min(wait, deadline - now)
            if self.request.idle_timeout is not None:
                wait = min(wait, self.last_output + self.request.idle_timeout - now)
            if self.exit_fd is None:
                wait = min(wait, _TICK)
            if not self.released:
                wait = min(wait, self.last_output + _RELEASE_AFTER - now)
            self._pump(max(0.0, wait))
            now = self.clock()
            if not self.released and now - self.last_output >= _RELEASE_AFTER:
                for stream in self.streams.values():
                    stream.release()
                self.released = True
            if deadline is not None and now >= deadline:
                self._stop(immediate=False)
                return "timeout"
            idle = self.request.idle_timeout
            if idle is not None and now - self.last_output >= idle:
                self._stop(immediate=False)
                return "stale"
            if now >= next_check:
                next_check = now + _CHECK_EVERY
                stop = self.should_stop()
                if stop is not None:
                    self._stop(immediate=stop.immediate)
                    return stop.reason
        self._drain(DRAIN_SECONDS)
        self._stop_leftovers()
        return "completed"

    def _pump(self, timeout: float) -> bool:
        """Move data for up to ``timeout`` seconds; False once every pipe is closed."""
        if not self._pipes_open():
            if self.proc.returncode is not None:
                return False
            if self.exit_fd is not None:
                self.selector.select(timeout)  # wakes on exit
            else:
                time.sleep(timeout)
            return False
        for key, _ in self.selector.select(timeout):
            if key.data is _EXITED:
                self.selector.unregister(key.fileobj)
                continue
            if key.data is None:
                self._write_stdin(key.fileobj)  # type: ignore[arg-type]
                continue
            try:
                data = os.read(key.fd, _CHUNK)
            except BlockingIOError:
                continue
            if data:
                key.data.feed(data)
                self.last_output = self.clock()
                self.released = False
            else:
                self.selector.unregister(key.fileobj)
        return self._pipes_open()

    def _pipes_open(self) -> bool:
        return any(key.data is not _EXITED for key in self.selector.get_map().values())

    def _write_stdin(self, pipe: BinaryIO) -> None:
        try:
            written = os.write(pipe.fileno(), self.pending[:_CHUNK])
            self.pending = self.pending[written:]
        except BlockingIOError:
            return
        except (BrokenPipeError, OSError):
            self.pending = memoryview(b"")  # the child stopped reading; that is its business
        if not self.pending:
            self.selector.unregister(pipe)
            with contextlib.suppress(OSError):
                pipe.close()

    def _drain(self, seconds: float) -> None:
        end = self.clock() + seconds
        while self.clock() < end and self._pump(min(_TICK, max(0.0, end - self.clock()))):
            pass

    def _stop(self, *, immediate: bool) -> None:
        """The ladder: SIGTERM the group, grace, SIGKILL the group, bounded drain."""
        if not immediate:
            self._signal_group(signal.SIGTERM)
            end = self.clock() + self.request.grace_seconds
            while self.proc.poll() is None and self.clock() < end:
                self._pump(_TICK)
        self._signal_group(signal.SIGKILL)
        self._reap()
        self._drain(DRAIN_SECONDS)

    def _stop_leftovers(self) -> None:
        """The child is gone; stop anything it left running in its group."""
        if not self._group_alive():
            return
        self._signal_group(signal.SIGTERM)
        end = self.clock() + min(self.request.grace_seconds, DRAIN_SECONDS)
        while self._group_alive() and self.clock() < end:
            time.sleep(0.05)
        self._signal_group(signal.SIGKILL)

    def _group_alive(self) -> bool:
        """Whether a live (not zombie) process is still in the child's group."""
        try:
            os.killpg(self.pgid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        with os.scandir("/proc") as entries:
            return any(_live_member(entry, self.pgid) for entry in entries)

    def _signal_group(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pgid, signum)

    def _reap(self) -> None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=DRAIN_SECONDS)

    def close(self) -> None:
        if self.proc.poll() is None:  # only on an exception inside the loop
            self._signal_group(signal.SIGKILL)
            self._reap()
        self.selector.close()
        if self.exit_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.exit_fd)
        for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
