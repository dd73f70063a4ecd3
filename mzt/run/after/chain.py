"""`run_job` hooks: start the next job of a concert as its own `mzt run`.

The chained job is a plain `mzt run <job_path>` — this Python running ``-m mzt``, as an
argument list, never through a shell — started from the directory the parent was started
in, so a relative ``job_path`` means what it meant on the parent's command line. Its
depth in the chain travels in ``MZT_CHAIN_DEPTH``; a run at ``concert.max_chain_depth``
starts nothing more, which is what ends a job that chains itself.

Attached, the parent waits for it like for any hook (same stop ladder, logs in
``<workspace>/hooks/``). Detached, it gets its own session, stdin from /dev/null and its
output in ``<workspace>/hooks/chain-<UTC time>.log``, and the parent only checks that it
is still alive a moment later. A detached child of the parent's own job would find the
run lock still held by the parent, so it is told the parent's pid
(``MZT_CHAIN_PARENT_PID``) and waits for that run to let go of the lock first.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mzt.score.models import PostSuccessHook
from mzt.score.models.hooks import ConcertConfig
from mzt.state.lock import read_holder
from mzt.state.lockprobe import LockProbe, probe_lock
from mzt.support import records
from mzt.support.fsutil import ensure_private_dir, open_nofollow
from mzt.support.process import ProcessRequest, StopRequest, run_process
from mzt.support.redact import redact

if TYPE_CHECKING:
    from mzt.score.preparation import PreparedScore

CHAIN_DEPTH_ENV = "MZT_CHAIN_DEPTH"
CHAIN_PARENT_ENV = "MZT_CHAIN_PARENT_PID"
ALIVE_CHECK_SECONDS = 0.2
LOCKED_EXIT = 75


@records.record
class ChainContext:
    """What a chain step needs from the run that fires it."""

    workspace: Path
    job_id: str
    fields: dict[str, str]  # {workspace}, {job_id}, {sheet_count}
    concert: ConcertConfig
    environ: Mapping[str, str]
    log_dir: Path


def chain_depth(environ: Mapping[str, str]) -> int:
    """This run's depth in its concert: 0 unless a `run_job` hook started it."""
    try:
        return max(0, int(environ.get(CHAIN_DEPTH_ENV, "0")))
    except ValueError:
        return 0


def expand(text: str, fields: Mapping[str, str]) -> str:
    """Plain field replacement, for text that is a path or one argument (no shell)."""
    for key, value in fields.items():
        text = text.replace("{" + key + "}", value)
    return text


def stamp(moment: datetime | None = None) -> str:
    return (moment or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")


def chain_argv(
    hook: PostSuccessHook, ctx: ChainContext
) -> tuple[tuple[str, ...], Path, Path | None]:
    """The child's argv, its score and its workspace (None: the score's own)."""
    job_path = Path(expand(hook.job_path or "", ctx.fields))
    if hook.job_workspace:
        workspace: Path | None = Path(expand(hook.job_workspace, ctx.fields))
    elif ctx.concert.inherit_workspace:
        workspace = ctx.workspace
    else:
        workspace = None
    argv = [sys.executable, "-m", "mzt", "run", str(job_path)]
    if hook.fresh:
        argv.append("--fresh")
    if workspace is not None:
        argv += ["-w", str(workspace)]
    return tuple(argv), job_path, workspace


def start_chain(
    hook: PostSuccessHook,
    ctx: ChainContext,
    index: int,
    should_stop: Callable[[], StopRequest | None],
) -> dict[str, Any]:
    """Start the chained job; the fields of its hook result (``success``, ``error``…)."""
    argv, job_path, workspace = chain_argv(hook, ctx)
    depth = chain_depth(ctx.environ) + 1
    found: dict[str, Any] = {
        "job_path": str(job_path),
        "workspace": str(workspace) if workspace else None,
        "depth": depth,
        "detached": hook.detached,
    }
    if not job_path.is_file():
        return {**found, "success": False, "error": f"the chained score is not a file: {job_path}"}
    env = {**ctx.environ, CHAIN_DEPTH_ENV: str(depth)}
    env.pop(CHAIN_PARENT_ENV, None)
    if hook.detached:
        return {**found, **_detached(argv, env, ctx)}
    log = ctx.log_dir / f"hook-{index}-{stamp()}"
    outcome = run_process(
        ProcessRequest(
            argv=argv,
            cwd=Path.cwd(),
            env=env,
            timeout=hook.timeout_seconds,
            stdout_log=log.with_suffix(".log"),
            stderr_log=log.with_suffix(".stderr.log"),
        ),
        should_stop=should_stop,
    )
    result: dict[str, Any] = {
        **found,
        "exit_code": outcome.exit_code,
        "signal": outcome.signal,
        "reason": outcome.reason,
        "log_path": _existing(log.with_suffix(".log")),
        "stderr_log_path": _existing(log.with_suffix(".stderr.log")),
        "success": outcome.succeeded,
        "error": None,
    }
    if outcome.succeeded:
        return result
    if outcome.reason == "timeout":
        error = f"the chained run timed out after {hook.timeout_seconds:g}s and was stopped"
    elif outcome.exit_code == LOCKED_EXIT:
        error = (
            "the chained job is already running (exit 75); a job that chains itself "
            "must use `detached: true`"
        )
    elif outcome.error:
        error = outcome.error
    elif outcome.exit_code is not None:
        error = f"the chained run exited {outcome.exit_code}"
    else:
        error = f"the chained run stopped ({outcome.reason}, signal {outcome.signal})"
    result["error"] = error
    return result


def _detached(argv: tuple[str, ...], env: dict[str, str], ctx: ChainContext) -> dict[str, Any]:
    log = ctx.log_dir / f"chain-{stamp()}.log"
    env = {**env, CHAIN_PARENT_ENV: str(os.getpid())}
    try:
        fd = open_nofollow(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    except OSError as exc:
        return {"success": False, "error": f"cannot open the chain log {log}: {exc.strerror}"}
    try:
        proc = subprocess.Popen(
            argv,
            cwd=Path.cwd(),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=fd,
            stderr=fd,
            start_new_session=True,
            close_fds=True,
        )
    except OSError as exc:
        return {"success": False, "log_path": str(log), "error": f"cannot start: {exc}"}
    finally:
        os.close(fd)
    time.sleep(ALIVE_CHECK_SECONDS)
    code = proc.poll()
    if code is not None:
        return {
            "success": False,
            "pid": proc.pid,
            "exit_code": code,
            "log_path": str(log),
            "error": f"the chained run (pid {proc.pid}) exited at once with {code}; see {log}",
        }
    _DETACHED.append(proc)  # never waited for: kept so no warning says it was forgotten
    return {"success": True, "pid": proc.pid, "log_path": str(log), "error": None}


_DETACHED: list[subprocess.Popen[bytes]] = []


def _existing(path: Path) -> str | None:
    return str(path) if path.exists() else None


def concert_log_path(ctx: ChainContext) -> Path:
    """``concert.concert_log_path`` (fields expanded, relative to the workspace), or
    ``<workspace>/concert.log``."""
    configured = ctx.concert.concert_log_path
    if not configured:
        return ctx.workspace / "concert.log"
    path = Path(expand(configured, ctx.fields))
    return path if path.is_absolute() else ctx.workspace / path


def never_archived(prepared: PreparedScore) -> list[Path]:
    """What `--fresh` archiving must leave in place for a concert to stay one record: the
    hooks' logs and the concert log (a self-chaining job archives at every step)."""
    score, workspace = prepared.loaded.score, prepared.workspace
    if not score.on_success:
        return []
    fields = {"workspace": str(workspace), "job_id": prepared.job_id, "sheet_count": ""}
    ctx = ChainContext(workspace, prepared.job_id, fields, score.concert, {}, workspace / "hooks")
    return [ctx.log_dir, concert_log_path(ctx)]


def log_step(ctx: ChainContext, what: str, outcome: str) -> None:
    """One line of the concert log: time, job, depth, what started, outcome."""
    path = concert_log_path(ctx)
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    line = f"{now}  job={ctx.job_id}  depth={chain_depth(ctx.environ)}  {what}  {outcome}"
    line = redact(line).replace("\n", " ") + "\n"
    try:
        ensure_private_dir(path.parent)
        fd = open_nofollow(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    except OSError:
        return  # the log is a courtesy; the hook result in the checkpoint is the record
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def wait_for_parent(lock_path: Path, environ: Mapping[str, str], *, poll: float = 0.05) -> None:
    """In a detached chained run: wait while the run that started it holds this job's lock.

    The parent lets go of the lock when its own hooks are done; until then a chained run
    of the same job would be refused (exit 75). A lock held by anyone else is left to the
    run lock itself to report.
    """
    try:
        parent = int(environ.get(CHAIN_PARENT_ENV, ""))
    except ValueError:
        return
    while probe_lock(lock_path) == LockProbe.HELD_ELSEWHERE:
        holder = read_holder(lock_path)
        if holder is None or holder.pid != parent:
            return
        time.sleep(poll)


def describe(hook: PostSuccessHook, found: Mapping[str, Any]) -> str:
    """What a chain step started, for the concert log and progress lines."""
    where = f" -w {found['workspace']}" if found.get("workspace") else ""
    fresh = " --fresh" if hook.fresh else ""
    how = "detached" if hook.detached else "attached"
    return f"mzt run {found.get('job_path')}{fresh}{where} ({how}, depth {found.get('depth')})"
