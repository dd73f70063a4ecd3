"""Held starts: a child that waits, already spawned, until its caller lets it run.

The child is started through a tiny shell shim that reads one line from its stdin before
it execs the real program, so its pid, group and start time are known — and can be
recorded durably — before the program does anything. No ``preexec_fn`` (unsafe in a
multi-threaded parent) is needed. If the parent dies before the release, the shim reads
end-of-file and exits 125 (the code `env` and `nohup` use for "could not run") without
running anything. When the program is itself a POSIX shell given a script (``bash -c
SCRIPT``, the ``cli`` instrument's form), the wait goes in front of the script on its
first line, so the shell is the shim and no second program is executed.

The hook may let the child go from another thread (`current_hold` inside the hook, then
`Hold.go`): the thread that records the handle starts the program at once, rather than
waking the spawning thread to do it.

Also here: the set of children `run_process` (or `spawn`) is running, which a subreaper consults so
that it never collects a child whose own thread is about to wait for it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import subprocess
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

from mzt.support import pathcache
from mzt.support.procinfo import read_stat

_WAIT = "read _ || exit 125; "
_WAIT_NO_STDIN = "read _ || exit 125; exec </dev/null; "
_EXEC = 'exec "$0" "$@"'
# Shells whose ``read`` takes one line from a pipe byte by byte, leaving the rest
# (the prompt) for the script.
_SHELLS = frozenset({"sh", "bash", "dash"})
_REAP_SECONDS = 2.0

# pid, process group id, start time (clock ticks after boot, None if unknown) → release?
SpawnHook = Callable[[int, int, int | None], bool]

_SPAWNED: set[int] = set()
_SPAWNED_LOCK = threading.Lock()
_HOLDING = threading.local()


class Hold:
    """The release line of one held child, sent at most once, by whichever thread asks.

    ``go`` and ``cancel`` settle it one way for good, so a child is never both let go
    and stopped unstarted.
    """

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._lock = threading.Lock()
        self._state = "held"  # then "sent" or "cancelled"

    def go(self) -> bool:
        """Let the child run (once); False when it was cancelled instead."""
        with self._lock:
            if self._state == "held":
                self._state = "sent"
                with contextlib.suppress(OSError):  # the shim died already: its exit says so
                    os.write(self._fd, b"\n")
            return self._state == "sent"

    def cancel(self) -> bool:
        """Keep the child from ever running; False when it was let go already."""
        with self._lock:
            if self._state == "held":
                self._state = "cancelled"
            return self._state == "cancelled"


def current_hold() -> Hold | None:
    """Inside a hook that `release` runs: the hold of the child it is about."""
    hold: Hold | None = getattr(_HOLDING, "hold", None)
    return hold


def hold_argv(argv: tuple[str, ...], *, with_stdin: bool) -> tuple[str, ...]:
    """``argv`` behind the shim; without stdin the program gets /dev/null as before."""
    wait = _WAIT if with_stdin else _WAIT_NO_STDIN
    if len(argv) >= 3 and argv[1] == "-c" and argv[0].rpartition("/")[2] in _SHELLS:
        # On the script's own first line: the line numbers its errors name stay right.
        return (argv[0], "-c", wait + argv[2], *argv[3:])
    return ("/bin/sh", "-c", wait + _EXEC, *argv)


def locate(program: str, cwd: Path, env: Mapping[str, str]) -> str | OSError:
    """The file ``program`` names (searched on the ``PATH`` of ``env``), or why it cannot
    run: a held start fails as a direct one would."""
    # Strings and os.stat, not Path: this runs before every attempt, over every PATH folder.
    if os.sep in program:
        found = _first_runnable(program, [program if program[0] == "/" else f"{cwd}/{program}"])
        return program if isinstance(found, str) else found
    search = env.get("PATH", os.defpath)
    problem: list[OSError] = []

    def find() -> str | None:
        candidates = [f"{folder or '.'}/{program}" for folder in search.split(":")]
        found = _first_runnable(program, candidates)
        if isinstance(found, OSError):
            problem.append(found)
            return None
        return found

    path = pathcache.lookup("exec", program, search, find, regular=True)
    if path is not None:
        return path
    return problem[0] if problem else FileNotFoundError(program)


def _first_runnable(program: str, candidates: list[str]) -> str | OSError:
    """The first of ``candidates`` that is a regular file this process may execute."""
    found = False
    for path in candidates:
        try:
            regular = stat.S_ISREG(os.stat(path).st_mode)  # noqa: PTH116 (see above)
        except OSError:
            continue
        if regular:
            if os.access(path, os.X_OK):
                return path
            found = True
    return PermissionError(program) if found else FileNotFoundError(program)


def release(proc: subprocess.Popen[bytes], hook: SpawnHook | None, *, keep_stdin: bool) -> bool:
    """Run ``hook`` on the held child, then release it, or stop it unstarted (False)."""
    assert hook is not None and proc.stdin is not None
    stat = read_stat(proc.pid)
    hold = _HOLDING.hold = Hold(proc.stdin.fileno())
    try:
        go = hook(proc.pid, proc.pid, stat.start_time if stat else None)
    except BaseException:
        hold.cancel()
        stop_unstarted(proc)
        raise
    finally:
        _HOLDING.hold = None
    return settle(proc, hold, go=go, keep_stdin=keep_stdin)


def settle(proc: subprocess.Popen[bytes], hold: Hold, *, go: bool, keep_stdin: bool) -> bool:
    """Let the held child run (``go``) or stop it unstarted (False), whichever comes first."""
    # Sent already if it was let go from elsewhere; a refusal that came too late (the
    # child runs) is no refusal.
    if not (hold.go() if go else not hold.cancel()):
        stop_unstarted(proc)
        return False
    if not keep_stdin and proc.stdin is not None:
        with contextlib.suppress(OSError):
            proc.stdin.close()
        proc.stdin = None
    return True


def stop_unstarted(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    for pipe in (proc.stdin, proc.stdout, proc.stderr):
        if pipe is not None:
            with contextlib.suppress(OSError):
                pipe.close()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=_REAP_SECONDS)


def track(pid: int) -> None:
    """Mark ``pid`` as a child that its own watcher reaps (until `untrack`)."""
    with _SPAWNED_LOCK:
        _SPAWNED.add(pid)


def untrack(pid: int) -> None:
    with _SPAWNED_LOCK:
        _SPAWNED.discard(pid)


def spawned_pids() -> frozenset[int]:
    """Pids of the children `run_process` is running now (in any thread)."""
    with _SPAWNED_LOCK:
        return frozenset(_SPAWNED)
