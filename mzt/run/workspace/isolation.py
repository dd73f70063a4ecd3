"""Git worktree isolation (score key ``isolation``): where the job's agents edit files.

With ``isolation.enabled`` and mode ``worktree`` the repository is the folder the first
sheet's instrument is configured to work in (``backend.working_directory`` or an instrument
setting; else the workspace). When the run starts, a detached worktree of it is made at
``<base>/<job_id>`` from ``source_branch`` (default HEAD), or the one the checkpoint records
is reused, and locked with the run's pid; every instrument folder inside the repository is
moved to the same place inside the worktree. Validations keep checking the workspace,
as in Marianne. With ``per_sheet`` (mzt only) each sheet gets its own worktree
``<base>/<job_id>/sheet-<N>`` from the same commit, made when the sheet first starts and
recorded on the sheet, so agents running in parallel never share a checkout.

When the run ends every lock is released; worktrees are removed only when the job ended
completed (``cleanup_on_success``) or failed (``cleanup_on_failure``) — with ``per_sheet``,
by each sheet's own outcome — never when it paused, was cancelled or was interrupted.
A folder that is no repository, or a worktree that cannot be made, runs the job in place
with a note under ``fallback_on_error`` and stops it (exit 2, the job left paused)
otherwise.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from mzt.run.bookkeeping import Bookkeeper
from mzt.run.sheetrun import PromptError, configured_workdir
from mzt.score.preparation import PreparedScore
from mzt.state import CheckpointState, JobStatus, SheetStatus
from mzt.support import git
from mzt.support.errors import FolderError, MztError
from mzt.support.exitcodes import ExitCode
from mzt.support.fsutil import ensure_private_dir

MODE_JOB = "worktree"
MODE_PER_SHEET = "worktree_per_sheet"
MODE_NONE = "none"
WORKDIR_CODE = "E603"  # the sheet's working directory cannot be had


class IsolationError(MztError):
    """The job must run in a git worktree (``fallback_on_error: false``) and cannot."""

    exit_code = ExitCode.USAGE
    code = "ISOLATION"


class WorktreeUnavailable(PromptError):
    """A sheet's own worktree cannot be made and running it in place is not allowed."""

    def __init__(self, sheet_num: int, detail: str) -> None:
        super().__init__(sheet_num, detail, WORKDIR_CODE)
        self.args = (f"sheet {sheet_num}'s git worktree cannot be made: {detail}",)


class _Unavailable(Exception):
    """Why isolation cannot be set up (turned into a note or an error by the caller)."""


class Isolation:
    """One run's worktrees: set up at the start, handed to sheets, released at the end."""

    def __init__(
        self,
        prepared: PreparedScore,
        book: Bookkeeper,
        note: Callable[[str], None],
        instrument: str | None = None,
    ) -> None:
        self.cfg = prepared.loaded.score.isolation
        self.prepared = prepared
        self.job_id = prepared.job_id
        self.book = book
        self.note = note
        self.instrument = instrument
        self.source = self.base = prepared.workspace  # both found by `start`
        self.repo: Path | None = None  # set once isolation is on for this run
        self.commit = ""
        self.job_tree: Path | None = None
        self.ready: dict[int, Path | None] = {}  # per sheet: its worktree, None = in place
        self.locked: set[Path] = set()

    @property
    def wanted(self) -> bool:
        return self.cfg.enabled and self.cfg.mode == "worktree"

    @contextlib.contextmanager
    def active(self, state: CheckpointState) -> Iterator[None]:
        """Worktrees in place for the body; locks released (and cleanup done) after it."""
        self.start(state)
        try:
            yield
        finally:
            self.finish(state)

    # --- start -----------------------------------------------------------------------------

    def start(self, state: CheckpointState) -> None:
        if not self.wanted:
            return
        self._find_folders()
        try:
            if not git.available():
                raise _Unavailable("git is not installed (not on PATH)")
            repo = git.toplevel(self.source)
            if repo is None:
                raise _Unavailable(f"{self.source} is not inside a git repository")
            self.commit = git.commit_of(repo, self.cfg.source_branch)
            self.repo = repo
            if self.cfg.per_sheet:
                state.isolation_mode = MODE_PER_SHEET
                state.worktree_base_commit = self.commit
            else:
                self._job_worktree(state)
        except (_Unavailable, git.GitError, FolderError) as exc:
            self.repo = None
            self._unavailable(state, str(exc))
            return
        state.isolation_fallback_used = False
        self.book.store.save(state)

    def _find_folders(self) -> None:
        """The folder to isolate (sheet 1's instrument's) and where worktrees go."""
        prepared = self.prepared
        base_dir = prepared.loaded.base_dir
        if prepared.plan.total_sheets:
            choice = prepared.plan.sheet(1).chain(self.instrument)[0]
            self.source = configured_workdir(choice, base_dir, prepared.workspace)
        configured = self.cfg.worktree_base
        base = Path(configured).expanduser() if configured else prepared.workspace / ".worktrees"
        self.base = base if base.is_absolute() else base_dir / base

    def _job_worktree(self, state: CheckpointState) -> None:
        assert self.repo is not None
        recorded = Path(state.worktree_path) if state.worktree_path else None
        if recorded is not None and _is_worktree(recorded):
            path = recorded
            self.commit = state.worktree_base_commit or self.commit
            self.note(f"isolation: continuing in the worktree {path}")
        else:
            path = self.base / self.job_id
            new = not os.path.lexists(path)
            self._make(path)
            if new:
                self.note(f"isolation: working in the new worktree {path} from {self.commit[:12]}")
        self.job_tree = path
        state.worktree_path = str(path)
        state.worktree_branch = None  # detached: no branch is taken
        state.worktree_base_commit = self.commit
        state.isolation_mode = MODE_JOB
        state.worktree_locked = self._lock(path)

    def _make(self, path: Path) -> Path:
        assert self.repo is not None
        if os.path.lexists(path):
            if _is_worktree(path):
                # Kept by an earlier run (a failed one, or one that died before recording
                # it): its changes are the user's, so it is used, never replaced.
                self.note(
                    f"isolation: using the worktree {path} an earlier run left "
                    f"(`git worktree remove --force {path}` for a clean start)"
                )
                return path
            raise _Unavailable(
                f"{path} already exists and is not a worktree of {self.repo} "
                "(remove it, or set isolation.worktree_base)"
            )
        ensure_private_dir(path.parent)
        git.add_detached(self.repo, path, self.commit)
        return path

    def _lock(self, path: Path) -> bool:
        if not self.cfg.lock_during_execution or self.repo is None:
            return False
        try:
            git.lock(self.repo, path, f"mzt run {self.job_id} pid {os.getpid()}")
        except git.GitError as exc:
            self.note(f"isolation: the worktree {path} stays unlocked: {exc}")
            return False
        self.locked.add(path)
        return True

    def _unavailable(self, state: CheckpointState, reason: str) -> None:
        if self.cfg.fallback_on_error:
            state.isolation_fallback_used = True
            state.isolation_mode = MODE_NONE
            self.note(
                f"isolation: {reason}; running without a worktree, in {self.source} "
                "(isolation.fallback_on_error)"
            )
            return
        message = (
            f"The job {self.job_id} must run in a git worktree and cannot: {reason}. "
            "Nothing was run; the job is paused with its checkpoint as it was."
        )
        self.book.pause(state, message)
        raise IsolationError(
            message,
            hint=(
                f"make {self.source} a git repository with a commit (git init, git commit), "
                "fix isolation.source_branch or isolation.worktree_base, or set "
                "isolation.fallback_on_error: true to run in place; then run again"
            ),
        )

    # --- sheets ------------------------------------------------------------------------------

    def workdir(self, state: CheckpointState, num: int, folder: Path) -> Path:
        """Where sheet ``num``'s instrument runs, given its configured ``folder``."""
        if self.repo is None:
            return folder
        try:
            inside = folder.resolve().relative_to(self.repo)
        except ValueError:
            return folder  # a folder outside the repository is not isolated
        tree = self.job_tree if not self.cfg.per_sheet else self._sheet_tree(state, num)
        return folder if tree is None else tree / inside

    def _sheet_tree(self, state: CheckpointState, num: int) -> Path | None:
        if num in self.ready:
            return self.ready[num]
        record = state.sheet(num)
        recorded = Path(record.worktree_path) if record.worktree_path else None
        try:
            if recorded is not None and _is_worktree(recorded):
                path = recorded
            else:
                path = self._make(self.base / self.job_id / f"sheet-{num}")
                record.worktree_base_commit = self.commit
        except (_Unavailable, git.GitError, FolderError) as exc:
            if not self.cfg.fallback_on_error:
                raise WorktreeUnavailable(num, str(exc)) from None
            state.isolation_fallback_used = True
            self.note(f"isolation: sheet {num} runs without its own worktree: {exc}")
            self.ready[num] = None
            return None
        record.worktree_path = str(path)
        record.worktree_base_commit = record.worktree_base_commit or self.commit
        if self._lock(path):
            state.worktree_locked = True
        self.ready[num] = path
        return path

    # --- finish ------------------------------------------------------------------------------

    def finish(self, state: CheckpointState) -> None:
        if self.repo is None:
            return
        for path in sorted(self.locked):
            try:
                git.unlock(self.repo, path)
            except git.GitError as exc:
                self.note(f"isolation: the worktree {path} could not be unlocked: {exc}")
        self.locked.clear()
        state.worktree_locked = False
        if state.status not in (JobStatus.COMPLETED, JobStatus.FAILED):
            return  # paused, cancelled or interrupted: it is wanted again
        if not self.cfg.per_sheet:
            if self.job_tree is not None and self._cleanup_for(state.status == JobStatus.COMPLETED):
                if self._remove(self.job_tree):
                    self.note(f"isolation: removed the worktree {self.job_tree}")
                    state.worktree_path = None
                    state.worktree_base_commit = None
            elif self.job_tree is not None:
                self.note(f"isolation: the job's changes are kept in {self.job_tree}")
            return
        kept = []
        for num in sorted(state.sheets):
            record = state.sheets[num]
            if not record.worktree_path:
                continue
            succeeded = record.status == SheetStatus.COMPLETED
            if self._cleanup_for(succeeded) and self._remove(Path(record.worktree_path)):
                record.worktree_path = None
                record.worktree_base_commit = None
                continue
            kept.append(num)
        if kept:
            listed = ", ".join(map(str, kept))
            self.note(f"isolation: worktrees kept in {self.base / self.job_id} for sheets {listed}")
        with contextlib.suppress(OSError):
            (self.base / self.job_id).rmdir()  # only when every sheet's worktree went

    def _cleanup_for(self, succeeded: bool) -> bool:
        return self.cfg.cleanup_on_success if succeeded else self.cfg.cleanup_on_failure

    def _remove(self, path: Path) -> bool:
        assert self.repo is not None
        try:
            git.remove(self.repo, path)
        except git.GitError as exc:
            self.note(f"isolation: the worktree {path} could not be removed: {exc}")
            return False
        return True


def _is_worktree(path: Path) -> bool:
    """Whether ``path`` is the top of a checkout (a worktree left by an earlier run)."""
    top = git.toplevel(path)
    return top is not None and top == path.resolve()
