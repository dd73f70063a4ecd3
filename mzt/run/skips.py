"""`skip_when_command`: a shell command whose success skips a sheet."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from mzt.score.fields import substitute_command
from mzt.score.models import SkipWhenCommand
from mzt.support.process import ProcessRequest, run_process


def run_skip_command(rule: SkipWhenCommand, workspace: Path, environ: Mapping[str, str]) -> bool:
    """True when the command exits 0. A failure, a timeout or a missing folder means: run."""
    if not workspace.is_dir():
        return False
    text, additions = substitute_command(rule.command, {"workspace": str(workspace)})
    env = {k: v for k, v in environ.items() if not k.startswith("MZT_V_")}
    env.update(additions)
    outcome = run_process(
        ProcessRequest(
            argv=("bash", "-c", text),
            cwd=workspace,
            env=env,
            timeout=rule.timeout_seconds,
            grace_seconds=1.0,
            tail_bytes=4096,
        )
    )
    return outcome.reason == "completed" and outcome.exit_code == 0


__all__ = ["run_skip_command"]
