"""The selector loop around one running child: output, deadlines, stop requests, and
the SIGTERM → grace → SIGKILL → bounded drain ladder (see `mzt.support.process`)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import selectors
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from mzt.support.output_log import OutputStream

if TYPE_CHECKING:
    from mzt.support.process import ExitReason, ProcessRequest, StopRequest

DRAIN_SECONDS = 2.0
_CHUNK = 1024 * 1024
_PIPE_BYTES = 1024 * 1024
_TICK = 0.05
_CHECK_EVERY = 0.5  # how often the stop callback (cancel file, signals) is consulted
# Output held back by the redactor reaches the log once the child has been quiet this long.
_RELEASE_AFTER = 0.2
_EXITED = object()  # selector tag of the child's pidfd


def _live_member(entry: os.DirEntry[str], pgid: int) -> bool:
    if not entry.name.isdigit():
        return False
    try:
        stat = Path(entry.path, "stat").read_bytes()
    except OSError:
        return False
    fields = stat[stat.rfind(b")") + 2 :].split()
    return fields[0] != b"Z" and int(fields[2]) == pgid


class Watcher:
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
        self._await_group_gone()
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
        self._await_group_gone()

    def _await_group_gone(self) -> None:
        """A killed process dies only once it is next scheduled, which a loaded machine delays;
        the caller is told the command stopped, so that must already be true."""
        end = self.clock() + DRAIN_SECONDS
        while self._group_alive() and self.clock() < end:
            time.sleep(0.01)

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
