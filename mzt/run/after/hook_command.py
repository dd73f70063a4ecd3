"""`run_command` and `run_script` hooks: one process each, bounded like an attempt.

``run_command`` runs ``bash -c``; each ``{workspace}``, ``{job_id}`` and ``{sheet_count}``
becomes a quoted reference to an environment variable that holds the value, as in
validation commands. ``run_script`` runs without a shell: the command is split into words
as a shell would (quotes respected, nothing expanded), the fields are replaced inside each
word, and the first word is executed. Either way a value can never become shell syntax.
The process runs through `mzt.support.process` (own session, the SIGTERM → SIGKILL stop
ladder on a timeout or a stop request, redacted capped logs).
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from typing import Any

from mzt.run.after.chain import ChainContext, expand, stamp
from mzt.score.models import PostSuccessHook
from mzt.support.process import ProcessRequest, StopRequest, run_process


def run_hook_command(
    hook: PostSuccessHook,
    ctx: ChainContext,
    index: int,
    should_stop: Callable[[], StopRequest | None],
) -> dict[str, Any]:
    """Run a run_command or run_script hook; the fields of its result (``success``…)."""
    # Jinja comes with the templating module: imported by a run only when a hook fires.
    from mzt.score.fields import COMMAND_ENV_PREFIX, TemplateError, substitute_command

    env = {k: v for k, v in ctx.environ.items() if not k.startswith(COMMAND_ENV_PREFIX)}
    command = hook.command or ""
    try:
        if hook.type == "run_command":
            text, additions = substitute_command(command, ctx.fields)
            argv: tuple[str, ...] = ("bash", "-c", text)
            env.update(additions)
        else:
            argv = tuple(expand(word, ctx.fields) for word in shlex.split(command))
    except (TemplateError, ValueError) as exc:
        return {"error": f"cannot use the command: {exc}"}
    if not argv:
        return {"error": "the command is empty"}
    cwd = ctx.workspace
    if hook.working_directory:
        cwd = ctx.workspace / expand(hook.working_directory, ctx.fields)
    if not cwd.is_dir():
        return {"error": f"the working directory is not a folder: {cwd}"}
    log = ctx.log_dir / f"hook-{index}-{stamp()}"
    out, err = log.with_suffix(".log"), log.with_suffix(".stderr.log")
    outcome = run_process(
        ProcessRequest(
            argv=argv,
            cwd=cwd,
            env=env,
            timeout=hook.timeout_seconds,
            stdout_log=out,
            stderr_log=err,
            tail_bytes=4096,
        ),
        should_stop=should_stop,
    )
    found: dict[str, Any] = {
        "exit_code": outcome.exit_code,
        "signal": outcome.signal,
        "reason": outcome.reason,
        "log_path": str(out) if out.exists() else None,
        "stderr_log_path": str(err) if err.exists() else None,
        "success": outcome.succeeded,
        "error": None,
    }
    if outcome.reason == "timeout":
        found["error"] = f"timed out after {hook.timeout_seconds:g}s; its processes were stopped"
    elif outcome.error:
        found["error"] = outcome.error
    elif outcome.reason in ("cancelled", "interrupted"):
        found["error"] = f"stopped ({outcome.reason})"
    elif not outcome.succeeded:
        tail = outcome.stderr_tail.strip().splitlines()[-1:] or [""]
        found["error"] = f"exited {outcome.exit_code}" + (f": {tail[0][:200]}" if tail[0] else "")
    return found
