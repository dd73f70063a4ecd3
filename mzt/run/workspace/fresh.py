"""What `mzt run --fresh` does to the workspace before starting over: archive it, or warn.

With ``workspace_lifecycle.archive_on_fresh`` the previous run's files move into an
archive folder (`mzt.run.workspace.archive`), so stale outputs cannot pass the new run's
validations. Never moved: mzt's own ``.marianne/`` folder (it holds the run lock this
process has, and the job's logs), the state folders of the workspace's jobs, the job's
git worktree under ``isolation``, the archive folder, and the score and template files
when they live in the workspace. Nothing is archived while another job runs in the same
workspace. Without the setting, a one-line note says when files that validations check
are already there.

Called under the job's run lock, before the old checkpoint is deleted.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mzt.run.after.chain import never_archived
from mzt.run.workspace.archive import ArchiveResult, Keep, archive_workspace, split_relative
from mzt.score.fields import TemplateError
from mzt.score.templating import validation_context
from mzt.state.lockprobe import LockProbe, probe_lock
from mzt.support import paths, records
from mzt.validation.checks import resolve_path

if TYPE_CHECKING:
    from mzt.score.preparation import PreparedScore
    from mzt.state import CheckpointState, JsonStateBackend

# Rule types a file left by an earlier run can satisfy (file_modified wants a new write).
_STALE_KINDS = frozenset({"file_exists", "content_contains", "content_regex"})
_STALE_SHEETS = 1000  # sheets looked at for the note: enough to show the point, and cheap
_SHOWN = 3  # entries named in a note
_SKIPS_SHOWN = 5  # skipped entries given a line of their own in the run output
_EVENT_ITEMS = 100  # skipped entries listed in the history event


@records.record(frozen=True, slots=True)
class FreshStart:
    """Lines for the run output and one history event, recorded once the new state exists."""

    notes: tuple[str, ...] = ()
    event: str | None = None
    fields: dict[str, Any] = records.field(default_factory=dict)

    def record(self, store: JsonStateBackend, state: CheckpointState) -> None:
        if self.event is not None:
            store.record_event(state, self.event, **self.fields)


def fresh_start(prepared: PreparedScore, now: datetime | None = None) -> FreshStart:
    """Archive the workspace (or say what stays in it) for a run started with --fresh."""
    lifecycle = prepared.loaded.score.workspace_lifecycle
    if not lifecycle.archive_on_fresh:
        return _stale_note(prepared)
    busy = _other_running_job(prepared)
    if busy is not None:
        reason = f"the job {busy!r} is running in this workspace"
        return _refused(reason)
    result = archive_workspace(
        str(prepared.workspace),
        _keep(prepared),
        archive_dir=lifecycle.archive_dir,
        naming=lifecycle.archive_naming,
        max_archives=lifecycle.max_archives,
        now=now or datetime.now(UTC),
    )
    if result.refused is not None:
        return _refused(result.refused)
    return _archived(result, lifecycle.max_archives)


def _keep(prepared: PreparedScore) -> Keep:
    lifecycle = prepared.loaded.score.workspace_lifecycle
    exact = {(paths.STATE_DIR,), split_relative(lifecycle.archive_dir)}
    loaded = prepared.loaded
    ws = prepared.workspace
    # The state folders of the workspace's jobs (a `state_path` may put one in the
    # workspace): this job's holds the lock this process has.
    inputs: list[Path | None] = [
        paths.job_state_dir(ws, job) for job in {prepared.job_id, *_job_ids(ws)}
    ]
    inputs.append(loaded.template_path)
    inputs += never_archived(prepared)  # a concert's hook logs and concert log
    isolation = loaded.score.isolation
    if isolation.enabled:  # the job's git worktree: moving it would strand git's records
        configured = isolation.worktree_base
        base = Path(configured).expanduser() if configured else ws / ".worktrees"
        inputs.append((base if base.is_absolute() else loaded.base_dir / base) / prepared.job_id)
    if loaded.source != "<snapshot>":
        inputs.append(Path(loaded.source))
    workspace = os.path.realpath(ws)
    for path in inputs:
        if path is None:
            continue
        rel = os.path.relpath(os.path.realpath(path), workspace)
        if rel != "." and not rel.startswith(("..", "/")):
            exact.add(split_relative(rel))
    return Keep(lifecycle.preserve_patterns, exact)


def _job_ids(workspace: Path) -> list[str]:
    """The workspace's jobs: with state there or pointed to, or with a lock file only (a
    run that has not saved its first checkpoint yet)."""
    try:
        found = set(paths.job_ids_in(workspace))
        found.update(p.name[: -len(".lock")] for p in paths.state_dir(workspace).glob("*.lock"))
    except OSError:
        return []
    return sorted(found)


def _other_running_job(prepared: PreparedScore) -> str | None:
    """A job other than this one whose run lock is held, if any."""
    for job in _job_ids(prepared.workspace):
        if job == prepared.job_id:
            continue
        lock = paths.lock_file(prepared.workspace, job)
        if os.path.lexists(lock) and probe_lock(lock) == LockProbe.HELD_ELSEWHERE:
            return job
    return None


def _refused(reason: str) -> FreshStart:
    return FreshStart(
        notes=(f"not archiving the workspace: {reason}",),
        event="workspace_not_archived",
        fields={"reason": reason},
    )


def _archived(result: ArchiveResult, max_archives: int) -> FreshStart:
    notes: list[str] = []
    if result.folder is not None:
        what = "entry" if result.moved == 1 else "entries"
        notes.append(f"archived {result.moved} {what} of the workspace into {result.folder}/")
    for path, why in result.skipped[:_SKIPS_SHOWN]:
        notes.append(f"could not archive {path} ({why}); it stays in the workspace")
    if len(result.skipped) > _SKIPS_SHOWN:
        more = len(result.skipped) - _SKIPS_SHOWN
        notes.append(f"… and {more} more entries could not be archived (see `mzt history`)")
    if result.pruned:
        notes.append(
            f"removed {_count(len(result.pruned), 'old archive')} beyond max_archives "
            f"{max_archives}: {_listing(result.pruned)}"
        )
    for path, why in result.unpruned:
        notes.append(f"could not remove the old archive {path} ({why})")
    if not notes:
        return FreshStart()
    fields: dict[str, Any] = {"folder": result.folder, "moved": result.moved}
    if result.skipped:
        fields["skipped"] = [{"path": p, "error": w} for p, w in result.skipped[:_EVENT_ITEMS]]
        fields["skipped_count"] = len(result.skipped)
    if result.pruned:
        fields["pruned"] = list(result.pruned)
    if result.unpruned:
        fields["not_pruned"] = [{"path": p, "error": w} for p, w in result.unpruned]
    return FreshStart(tuple(notes), "workspace_archived", fields)


def _stale_note(prepared: PreparedScore) -> FreshStart:
    """Say so when files the validations check are there before anything ran."""
    score, plan = prepared.loaded.score, prepared.plan
    rules = [
        (i, rule.path)
        for i, rule in enumerate(score.validations)
        if rule.type in _STALE_KINDS and rule.path
    ]
    if not rules:
        return FreshStart()
    workspace = prepared.workspace
    found: dict[Path, None] = {}
    for sheet in plan.sheets[:_STALE_SHEETS]:
        applied = set(sheet.validations)
        context = validation_context(plan, sheet, score, str(workspace))
        for index, template in rules:
            if index not in applied:
                continue
            try:
                path = resolve_path(template, context, workspace)
            except TemplateError:
                continue
            if path not in found and os.path.lexists(path):
                found[path] = None
    if not found:
        return FreshStart()
    shown = sorted(_relative(path, workspace) for path in found)
    note = (
        f"--fresh keeps the workspace's files: {_count(len(shown), 'file')} that validations "
        f"check {'is' if len(shown) == 1 else 'are'} already there ({_listing(shown)}) and "
        "may pass before a sheet writes them; workspace_lifecycle.archive_on_fresh moves "
        "them aside"
    )
    fields = {"count": len(shown), "paths": shown[:_EVENT_ITEMS]}
    return FreshStart((note,), "stale_outputs", fields)


def _relative(path: Path, workspace: Path) -> str:
    try:
        return str(path.relative_to(workspace))
    except ValueError:
        return str(path)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _listing(items: list[str] | tuple[str, ...]) -> str:
    head = ", ".join(items[:_SHOWN])
    return head + (", …" if len(items) > _SHOWN else "")
