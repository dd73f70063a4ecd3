"""`mzt run` of a job that already completed, answered before any model is built.

Cron runs the same `mzt run score.yaml` line again and again; once the job completed,
each of those runs has nothing to do. `answer_noop` recognises that case from three
small files — the score's bytes, its job's registry record and its checkpoint head —
and returns exactly the result the full path would return, without importing the
score or state models, reading instrument profiles or building the plan.

It answers only when all of this holds, and otherwise returns ``None`` for the full path
(which also stays the judge of invalid scores, held locks and damaged checkpoints):

* no option that changes what a run does (``--fresh``, ``--start-sheet``, ``--instrument``):
  ``--no-queue`` and ``--executor`` do not, since a job with nothing to do needs neither a
  job slot nor a place to run attempts;
* exactly one registered job was last run from this score file, in the score's own
  workspace (or in the ``--workspace`` given), and its checkpoint head says ``completed``
  with the SHA-256 of exactly these bytes — or, for a run that ``--workspace`` moved out
  of the score's own workspace, a hash of those bytes and that workspace — so equal
  hashes also mean the same job id and workspace;
* nobody holds the job's run lock (a live holder makes the full path exit 75).
"""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

from mzt.run.results import NOTHING_TO_DO_MESSAGE, RunOptions, RunResult
from mzt.state import registry
from mzt.state.head import Head, read_head
from mzt.state.lockprobe import LockProbe, probe_lock
from mzt.support import paths, records
from mzt.support.exitcodes import ExitCode

TYPE_CHECKING = False  # not `typing`: a share of the no-op `mzt run`'s whole answer

if TYPE_CHECKING:
    from mzt.run.reporting import Reporter

MAX_SCORE_BYTES = 1 << 20  # as mzt.score.loader: a bigger file is the full path's error
_DEFAULT_OPTIONS = RunOptions()


def run_score(
    path: Path,
    *,
    workspace: Path | None = None,
    options: RunOptions | None = None,
    reporter: Reporter | None = None,
) -> RunResult:
    """Run the score at ``path`` in this process until it completes, fails or stops.

    A completed job whose score file is unchanged is answered at once (`answer_noop`).
    """
    answer = answer_noop(path, workspace=workspace, options=options)
    if answer is not None:
        return answer
    from mzt.run.launch import run_score as run_fully

    return run_fully(path, workspace=workspace, options=options, reporter=reporter)


def _bearing(options: RunOptions) -> RunOptions:
    """``options`` without those that cannot change a no-op's answer."""
    return records.replace(options, no_queue=False, executor=None)


def answer_noop(
    path: Path, *, workspace: Path | None = None, options: RunOptions | None = None
) -> RunResult | None:
    """The result of running an unchanged, completed job; None when a run must decide."""
    started = time.monotonic()
    if options is not None and _bearing(options) != _DEFAULT_OPTIONS:
        return None
    raw = _read_score(path)
    if raw is None:
        return None
    digest = paths.sha256_hex(raw)
    score = path.resolve()
    wanted = workspace.expanduser().resolve() if workspace is not None else None
    # With -w the job may have been run there by -w, or be the score's own workspace.
    accepted = {digest} if wanted is None else {digest, moved_digest(digest, wanted)}
    found: dict[tuple[str, Path], Head] = {}
    for record in registry.read_records():
        if record.score_path != score or (wanted is not None and record.workspace != wanted):
            continue
        head = read_head(record.workspace, record.job_id)
        if head is not None and head.status == "completed" and head.score_hash in accepted:
            found[(record.job_id, record.workspace)] = head
    if len(found) != 1:
        return None
    ((job_id, ws), head), *_ = found.items()
    if probe_lock(paths.lock_file(ws, job_id)) != LockProbe.FREE:
        return None
    return RunResult(
        job_id=job_id,
        status=head.status,
        exit_code=int(ExitCode.OK),
        completed=head.completed_sheets,
        total=head.total_sheets,
        failed_sheets=list(head.failed_sheets),
        duration=time.monotonic() - started,
        workspace=ws,
        message=NOTHING_TO_DO_MESSAGE,
    )


def moved_digest(file_digest: str, workspace: Path) -> str:
    """The score hash recorded by a run that ``--workspace`` put in ``workspace``."""
    return paths.sha256_hex(f"-w\0{workspace}\0{file_digest}".encode())


def _read_score(path: Path) -> bytes | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        raw = os.read(fd, MAX_SCORE_BYTES + 1)
        while len(raw) <= MAX_SCORE_BYTES and (more := os.read(fd, MAX_SCORE_BYTES + 1)):
            raw += more
    except OSError:
        return None
    finally:
        os.close(fd)
    return raw if len(raw) <= MAX_SCORE_BYTES else None
