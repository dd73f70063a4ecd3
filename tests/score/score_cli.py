"""Helpers for the score tests: run the installed `mzt` command, or its entry point in-process."""

from __future__ import annotations

import contextvars
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
EXAMPLES = REPO / "examples"
BAD = HERE / "bad"
MARIANNE = HERE / "marianne"

# The `validate --json` fields promised by the contract (§8), and those of each issue.
VALIDATE_FIELDS = ("schema", "valid", "errors", "warnings", "total_sheets")
ISSUE_FIELDS = ("code", "message", "path", "line")


def mzt_command() -> list[str]:
    """The installed console script next to this interpreter, else ``python -m mzt``."""
    script = Path(sys.executable).with_name("mzt")
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "mzt"]


@dataclass(frozen=True)
class CliResult:
    """What one run of the command line produced."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def run_mzt(
    *args: str | Path,
    home: Path | None = None,
    cwd: Path | None = None,
    timeout: float = 60,
    preexec_fn: Callable[[], None] | None = None,
) -> CliResult:
    """Run ``mzt ARGS`` as a separate process and capture everything it printed."""
    env = dict(os.environ)
    env["NO_COLOR"] = "1"
    if home is not None:
        env["MZT_HOME"] = str(home)
    argv = [*mzt_command(), *map(str, args)]
    proc = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        errors="replace",
        env=env,
        cwd=cwd,
        timeout=timeout,
        preexec_fn=preexec_fn,
        check=False,
    )
    return CliResult(tuple(argv[len(mzt_command()) :]), proc.returncode, proc.stdout, proc.stderr)


def run_many(commands: Iterable[Sequence[str | Path]], *, home: Path) -> list[CliResult]:
    """Run several ``mzt`` command lines concurrently (each is mostly interpreter start-up)."""
    commands = list(commands)
    workers = max(2, min(4, os.cpu_count() or 2))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda args: run_mzt(*args, home=home), commands))


def run_in_process(
    args: Sequence[str | Path], capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str]:
    """Run the real CLI entry point in this process; returns (exit code, stdout, stderr).

    Each call gets a fresh copy of the context, so flags that the CLI records in context
    variables (such as --json) cannot leak from one call into the next.
    """
    from mzt.cli import cli
    from mzt.cli.errors import run_guarded

    capsys.readouterr()
    context = contextvars.copy_context()
    code = context.run(run_guarded, cli, [str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def fingerprint(path: Path) -> tuple[str, int]:
    """Content hash and modification time: enough to tell that a file was left alone."""
    data = path.read_bytes()
    return hashlib.sha256(data).hexdigest(), path.stat().st_mtime_ns


def assert_validate_document(document: Any, *, valid: bool) -> None:
    """The `validate --json` document has the contract's shape."""
    assert isinstance(document, dict), document
    for key in VALIDATE_FIELDS:
        assert key in document, f"`{key}` missing from validate --json: {document}"
    assert document["schema"] == "mzt.validate/1"
    assert document["valid"] is valid
    assert isinstance(document["errors"], list)
    assert isinstance(document["warnings"], list)
    for issue in [*document["errors"], *document["warnings"]]:
        for key in ISSUE_FIELDS:
            assert key in issue, f"`{key}` missing from issue {issue}"
        assert isinstance(issue["code"], str) and issue["code"]
        assert isinstance(issue["message"], str) and issue["message"]
        assert isinstance(issue["path"], str)
        assert issue["line"] is None or (isinstance(issue["line"], int) and issue["line"] >= 1)
    if valid:
        assert document["errors"] == []
        assert isinstance(document["total_sheets"], int) and document["total_sheets"] >= 1
    else:
        assert document["errors"], "an invalid score must report at least one error"
