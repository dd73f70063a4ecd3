"""The git commands worktree isolation needs, run the one safe way.

git is always started as an argument vector (never through a shell, so no value from a
score can become shell syntax), with stdin closed, a timeout, and ``GIT_TERMINAL_PROMPT=0``
so a credential helper can never wait for a keyboard. A failure raises :class:`GitError`
carrying git's own stderr, redacted, for the caller to put into its message.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

from mzt.support.redact import redact

GIT_TIMEOUT_SECONDS = 60.0
_STDERR_KEPT = 2000  # characters of git's stderr kept in a message


class GitError(Exception):
    """A git command could not run or exited non-zero; ``detail`` is its redacted stderr."""

    def __init__(self, command: str, detail: str) -> None:
        super().__init__(f"`git {command}` failed: {detail}" if detail else f"`git {command}`")
        self.command = command
        self.detail = detail


def available() -> bool:
    """Whether a ``git`` program is on PATH."""
    import shutil  # here: a run without isolation never asks

    return shutil.which("git") is not None


def run(args: Sequence[str], *, cwd: Path, timeout: float = GIT_TIMEOUT_SECONDS) -> str:
    """Run ``git ARGS`` in ``cwd``; its stdout, stripped."""
    # Named by its subcommand only: the other arguments are paths and refs from the score.
    command = " ".join(args[:2]) if args[0] == "worktree" else args[0]
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError as exc:
        missing = "git is not installed (not on PATH)" if not available() else str(exc)
        raise GitError(command, missing) from None
    except subprocess.TimeoutExpired:
        raise GitError(command, f"no answer within {timeout:g} seconds") from None
    except OSError as exc:
        raise GitError(command, redact(str(exc))) from None
    if done.returncode != 0:
        detail = " ".join(done.stderr.split())[:_STDERR_KEPT] or f"exit status {done.returncode}"
        raise GitError(command, redact(detail))
    return done.stdout.strip()


def toplevel(folder: Path) -> Path | None:
    """The root of the checkout ``folder`` is in; None when it is in none (or is missing)."""
    if not folder.is_dir():
        return None
    try:
        return Path(run(["rev-parse", "--show-toplevel"], cwd=folder))
    except GitError:
        return None


def commit_of(repo: Path, ref: str | None) -> str:
    """The full commit id ``ref`` (None: HEAD) names in ``repo``."""
    name = ref or "HEAD"
    if name.startswith("-"):
        # Never an option: git would read `--output=…` as one.
        raise GitError("rev-parse", f"{name!r} is not a branch, tag or commit")
    try:
        args = ["rev-parse", "--verify", "--quiet", "--end-of-options", f"{name}^{{commit}}"]
        return run(args, cwd=repo)
    except GitError as exc:
        raise GitError("rev-parse", f"{name!r} names no commit in {repo} ({exc.detail})") from None


def add_detached(repo: Path, path: Path, commit: str) -> None:
    """Check ``commit`` out at the new worktree ``path`` (detached: no branch is taken)."""
    run(["worktree", "add", "--detach", str(path), commit], cwd=repo)


def lock(repo: Path, path: Path, reason: str) -> None:
    """Lock the worktree ``path`` (a lock a dead run left behind is replaced)."""
    unlock(repo, path)
    run(["worktree", "lock", "--reason", reason, str(path)], cwd=repo)


def unlock(repo: Path, path: Path) -> None:
    """Unlock the worktree ``path``; one that is not locked is fine."""
    try:
        run(["worktree", "unlock", str(path)], cwd=repo)
    except GitError as exc:
        if "not locked" not in exc.detail:
            raise


def remove(repo: Path, path: Path) -> None:
    """Remove the worktree ``path`` with whatever it holds, then prune git's records."""
    try:
        run(["worktree", "remove", "--force", str(path)], cwd=repo)
    finally:
        run(["worktree", "prune"], cwd=repo)
