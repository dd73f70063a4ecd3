"""The error types that reach users: each knows its hint and its exit code."""

from __future__ import annotations

from mzt.support import records
from mzt.support.exitcodes import ExitCode

TYPE_CHECKING = False  # not `typing`: the no-op `mzt run` imports this module

if TYPE_CHECKING:
    from typing import ClassVar


class MztError(Exception):
    """Something the user can act on; rendered as one paragraph plus a hint, never a traceback."""

    exit_code: ExitCode = ExitCode.USAGE
    code: str = "MZT"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(MztError):
    """The command line asked for something that cannot be done as asked."""

    code = "USAGE"


@records.record(frozen=True, slots=True)
class Issue:
    """One finding about a score: an error (score unusable) or a warning."""

    code: str
    message: str
    path: str = ""
    line: int | None = None
    column: int | None = None
    hint: str | None = None
    severity: str = "error"  # "error", "warning" or "info"

    def render(self, source: str = "") -> str:
        """One paragraph: where, what, and what to do."""
        where = source
        if self.line is not None:
            where = f"{where}:{self.line}" if where else f"line {self.line}"
            if self.column is not None:
                where = f"{where}:{self.column}"
        parts = [f"{where}:" if where else "", f"[{self.code}]"]
        if self.path:
            parts.append(f"{self.path}:")
        parts.append(self.message)
        text = " ".join(p for p in parts if p)
        if self.hint:
            text += f" Hint: {self.hint}"
        return text

    def to_json(self) -> dict[str, object]:
        return {
            "code": self.code,
            "message": self.message,
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "hint": self.hint,
            "severity": self.severity,
        }


class ScoreError(MztError):
    """The score cannot be used: YAML, schema or plan problems, each with its location."""

    code = "SCORE"

    def __init__(self, source: str, issues: list[Issue] | Issue) -> None:
        self.source = source
        self.issues: list[Issue] = [issues] if isinstance(issues, Issue) else list(issues)
        # Each issue carries its own hint inline, so the error as a whole has none.
        super().__init__("\n".join(i.render(source) for i in self.issues))

    def __str__(self) -> str:
        return "\n".join(i.render(self.source) for i in self.issues)


# --- state, locks and job look-up -------------------------------------------------------------


def _holder_text(holder: dict[str, object] | None) -> str:
    """``pid 123 on host box, started 2026-05-01T10:00:00Z`` from a holder record."""
    if not holder:
        return "holder unknown"
    text = f"pid {holder.get('pid') or '?'}"
    if holder.get("host"):
        text += f" on host {holder['host']}"
    if holder.get("started_at"):
        text += f", started {holder['started_at']}"
    return text


class StateCorruptionError(MztError):
    """A checkpoint exists but cannot be used; the file is left exactly as it was."""

    exit_code = ExitCode.STATE
    code = "STATE_CORRUPT"

    def __init__(self, job_id: str, path: str, error_type: str, detail: str) -> None:
        self.job_id = job_id
        self.path = path
        self.error_type = error_type
        self.detail = detail
        if error_type in ("empty", "nul_filled"):
            hint = (
                "This usually means the machine lost power before the data reached the disk. "
                "The file was left untouched; restore it from a backup or start over with "
                "`mzt run --fresh`, which discards it."
            )
        else:
            hint = (
                "The file was left untouched. Inspect or restore it, or start over with "
                "`mzt run --fresh`, which discards it."
            )
        super().__init__(
            f"Checkpoint of job '{job_id}' at {path} is unusable ({error_type}): {detail}",
            hint=hint,
        )


class FutureSchemaError(StateCorruptionError):
    """A checkpoint was written by a newer mzt whose format this version cannot read."""

    code = "STATE_FUTURE_SCHEMA"

    def __init__(self, job_id: str, path: str, found: int, supported: int) -> None:
        super().__init__(
            job_id,
            path,
            "future_schema",
            f"written with schema version {found}; this mzt reads versions up to {supported}",
        )
        self.found = found
        self.supported = supported
        self.hint = "Upgrade mzt to read this checkpoint; it was left untouched."


class StateWriteError(MztError):
    """A state, history or registry file could not be written; the previous file is kept."""

    exit_code = ExitCode.STATE
    code = "STATE_WRITE"

    _HINTS: ClassVar[dict[str, str]] = {
        "ENOSPC": "The disk is full: free some space, then resume the job.",
        "EDQUOT": "The disk quota is exhausted: free some space or raise the quota, then resume.",
        "EROFS": "The file system is read-only: remount it read-write or use another workspace.",
        "EIO": "The disk reported an I/O error: check the device and the kernel log.",
        "EACCES": "Permission denied: check the owner and mode of the folder.",
        "EPERM": "Operation not permitted: check the owner and mode of the folder.",
    }

    def __init__(
        self, path: str, errno_name: str, reason: str, step: str, *, replaced: bool = False
    ) -> None:
        self.path = path
        self.errno_name = errno_name
        self.step = step
        self.replaced = replaced
        message = f"Could not write {path}: {reason} ({errno_name}, during {step})"
        if replaced:
            message += "; the new file is in place but may not survive a power loss"
        else:
            message += "; the previous contents were kept"
        super().__init__(
            message,
            hint=self._HINTS.get(errno_name, "Check the disk and the folder's permissions."),
        )


class JobLockedError(MztError):
    """Another process holds the job's run lock: the job is already running."""

    exit_code = ExitCode.LOCKED
    code = "LOCKED"

    def __init__(self, job_id: str, lock_path: str, holder: dict[str, object] | None) -> None:
        self.job_id = job_id
        self.lock_path = lock_path
        self.holder = holder
        pid = holder.get("pid") if holder else None
        check = f" Check it with `ps -p {pid}`." if pid else ""
        super().__init__(
            f"Job '{job_id}' is already running ({_holder_text(holder)}); lock {lock_path}",
            hint=f"Wait for it to finish or stop it with `mzt pause {job_id}`.{check}",
        )


class ForeignHostError(MztError):
    """The checkpoint says a run is active on another host, so its liveness cannot be proven.

    ``command`` is the exact command that takes the job over; the command line replaces
    it with the one the user typed plus ``--take-over`` (:meth:`take_over_with`).
    """

    exit_code = ExitCode.LOCKED
    code = "FOREIGN_HOST"

    def __init__(
        self,
        job_id: str,
        path: str,
        holder: dict[str, object] | None,
        *,
        last_written: str | None = None,
        here: str | None = None,
        command: str | None = None,
    ) -> None:
        self.job_id = job_id
        self.path = path
        self.holder = holder
        self.last_written = last_written
        self.host = str(holder.get("host")) if holder and holder.get("host") else "another host"
        facts = [f"started {holder['started_at']}"] if holder and holder.get("started_at") else []
        if last_written:
            facts.append(f"last wrote its checkpoint at {last_written}")
        detail = f" ({', '.join(facts)})" if facts else ""
        pid = f"pid {holder.get('pid')} on " if holder and holder.get("pid") else ""
        machine = f"this machine ({here})" if here else "this machine"
        super().__init__(
            f"Job '{job_id}' is marked running by {pid}host {self.host}{detail}, not by "
            f"{machine}, where no run holds its lock. mzt cannot tell from here whether that "
            f"run is still going ({self.host} may be running it on storage it shares with "
            f"this machine), so it leaves the job alone ({path})",
        )
        import shlex  # only this refusal needs it
        from pathlib import PurePath

        workspace = str(PurePath(path).parent.parent)  # <workspace>/.marianne/<job>.json
        quoted = f"{shlex.quote(job_id)} -w {shlex.quote(workspace)}"
        self.take_over_with(command or f"mzt resume {quoted} --take-over")

    def take_over_with(self, command: str) -> None:
        """Name ``command`` as the way to take the job over."""
        self.command = command
        self.hint = (
            f"If the run on {self.host} is gone (for example this machine got a new host "
            f"name after a crash), take the job over with `{command}`; processes that "
            f"{self.host} started are never signalled from here. Otherwise stop the run on "
            f"{self.host} first."
        )


class JobNotFoundError(MztError):
    """No checkpoint or registry record matches the job the user named."""

    exit_code = ExitCode.USAGE
    code = "JOB_NOT_FOUND"

    def __init__(self, job_ref: str, searched: list[str]) -> None:
        self.job_ref = job_ref
        self.searched = searched
        where = "; ".join(searched) if searched else "nowhere"
        super().__init__(
            f"No job '{job_ref}' found (looked in: {where})",
            hint="Pass the score file, or the workspace with -w; `mzt list` shows known jobs.",
        )


class AmbiguousJobError(MztError):
    """The same job id is registered in several workspaces, so the name alone is not enough."""

    exit_code = ExitCode.USAGE
    code = "JOB_AMBIGUOUS"

    def __init__(self, job_id: str, workspaces: list[str]) -> None:
        self.job_id = job_id
        self.workspaces = workspaces
        listing = "\n".join(f"  {w}" for w in workspaces)
        super().__init__(
            f"Job '{job_id}' exists in {len(workspaces)} workspaces:\n{listing}",
            hint="Choose one with -w/--workspace, or pass the score file instead of the id.",
        )


class LockFileError(MztError):
    """The run-lock file cannot be used: a symlink, a file system without locks, no access."""

    exit_code = ExitCode.STATE
    code = "LOCK_FILE"

    def __init__(self, lock_path: str, errno_name: str, reason: str) -> None:
        self.lock_path = lock_path
        self.errno_name = errno_name
        super().__init__(
            f"Cannot use the run lock {lock_path}: {reason} ({errno_name})",
            hint=(
                "Keep workspaces on a local file system, and make sure the lock path is a "
                "plain file you own (not a symlink)."
            ),
        )


class FolderError(MztError):
    """A folder mzt needs (a workspace, ``.marianne/``, MZT_HOME's) cannot be made or used."""

    exit_code = ExitCode.STATE
    code = "FOLDER"

    _HINTS: ClassVar[dict[str, str]] = {
        "EROFS": "The file system is read-only: remount it read-write or choose another place.",
        "EACCES": "Permission denied: check the owner and mode of the folders above it.",
        "EPERM": "Operation not permitted: check the owner and mode of the folders above it.",
        "ENOSPC": "The disk is full: free some space, then try again.",
        "EDQUOT": "The disk quota is exhausted: free some space or raise the quota.",
        "ENOENT": (
            "Folders cannot be created there (a pseudo file system such as /proc?): "
            "choose a folder on a real disk."
        ),
        "ELOOP": "Too many symlinks on the way: point it at the real folder.",
    }

    def __init__(
        self, path: str, errno_name: str, reason: str, *, blocker: str | None = None
    ) -> None:
        self.path = path
        self.errno_name = errno_name
        self.blocker = blocker
        if blocker is not None:
            hint = (
                f"{blocker} is in the way and is not a folder: move it aside, or choose "
                "another place (the score's `workspace`, `-w`, or MZT_HOME)."
            )
        else:
            hint = self._HINTS.get(errno_name, "Check the path and the disk, or choose another.")
        super().__init__(
            f"Cannot create or use the folder {path}: {reason} ({errno_name})", hint=hint
        )
