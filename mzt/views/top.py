"""Every job on the machine, live: the frames `mzt top` shows.

There is no daemon to ask, so a frame is put together from the files every run already
writes: the registry says which jobs exist, each job's checkpoint (through the store's
loader, kept up to date line by line by :class:`~mzt.views.watch.JobTracker`) says what
its sheets do, its run lock says whether its run is alive, and the shared records say
which instruments are rate limited or have an open circuit.

A frame costs little: the registry is listed again only when its folder changed, and a
job is read again only when its snapshot or journal changed (then only the new journal
lines are applied). What changes with no file event (a run killed with SIGKILL, a rate
limit running out) is caught by looking again every ``interval`` seconds.

Like the other views it never takes a lock and never writes.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

from mzt.state.models import SheetState
from mzt.state.reading import ACTIVE_SHEET, Checkpoint, JobRef, file_size, registered_jobs
from mzt.state.statuses import SheetStatus
from mzt.support import paths, records
from mzt.support.errors import JobNotFoundError, StateCorruptionError
from mzt.views.circuits import circuit_records
from mzt.views.file_events import Wakeups, polling_forced
from mzt.views.liveness import Liveness, judge
from mzt.views.status import CORRUPT, FINISHED_FOR_LIST
from mzt.views.status_document import elapsed_seconds
from mzt.views.watch import JobTracker

SCHEMA_TOP = "mzt.top/1"
DEFAULT_INTERVAL = 1.0
MIN_GAP = 0.1  # seconds: at most ten frames a second, however busy the runs
# Why a sheet waits, from its status (and, for a waiting sheet, what it waits for): the
# same reading as the run's own output gives ("retry in 4s", "rate limited; next try").
WAIT_RETRY = "retry"
WAIT_COMPLETION = "completion"
WAIT_RATE_LIMIT = "rate_limited"
WAIT_CIRCUIT = "circuit_open"
WAIT_FERMATA = "fermata"


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _seconds(since: datetime | None, until: datetime | None) -> float | None:
    if since is None or until is None:
        return None
    return round(max(0.0, (until - since).total_seconds()), 1)


def wait_reason(status: str, mode: str | None, rate_limited: bool) -> str | None:
    """Why a sheet in ``status`` waits (``None``: it does not wait)."""
    if status == SheetStatus.RETRY_SCHEDULED:
        return WAIT_COMPLETION if mode == "completion" else WAIT_RETRY
    if status == SheetStatus.WAITING:
        # A rate-limit wait records when the limit expires; a circuit wait only when to look.
        return WAIT_RATE_LIMIT if rate_limited else WAIT_CIRCUIT
    if status == SheetStatus.FERMATA:
        return WAIT_FERMATA
    return None


class Scan(msgspec.Struct):
    """What one pass over a job's sheets found; kept while the job's files do not change."""

    counts: dict[str, int]
    active: list[SheetState]
    waiting: list[tuple[SheetState, str]]


def scan(checkpoint: Checkpoint) -> Scan:
    """Sheets per status, the sheets that run and those that wait (with why), in order."""
    counts: dict[str, int] = {}
    active: list[SheetState] = []
    waiting: list[tuple[SheetState, str]] = []
    for num in sorted(checkpoint.sheets):
        sheet = checkpoint.sheets[num]
        value = sheet.status.value
        counts[value] = counts.get(value, 0) + 1
        if sheet.status in ACTIVE_SHEET:
            active.append(sheet)
            continue
        mode = None if sheet.execution_mode is None else str(sheet.execution_mode)
        why = wait_reason(value, mode, sheet.rate_limit_expires_at is not None)
        if why is not None:
            waiting.append((sheet, why))
    return Scan(counts, active, waiting)


def job_row(
    checkpoint: Checkpoint, liveness: Liveness, now: datetime, found: Scan | None = None
) -> dict[str, Any]:
    """One job in a frame: what runs, what waits and why, progress and cost.

    ``found``: the :func:`scan` of this very checkpoint, if one was kept.
    """
    head = checkpoint.head
    status = checkpoint.status
    dead = liveness.verdict == "dead"
    if status == "running" and dead:
        status = "paused"  # as the loader shows a run that died
    found = found or scan(checkpoint)
    # Only a live run runs or waits for anything: a dead or stopped run's sheets keep
    # their stored status, but nothing will start them until the job is resumed.
    acting = bool(liveness.alive) and not dead
    running = [
        {
            "sheet": sheet.sheet_num,
            "instrument": sheet.instrument_name,
            "attempt": sheet.attempt_count,
            "started_at": _iso(sheet.started_at),
            "seconds": _seconds(sheet.started_at, now),
        }
        for sheet in (found.active if acting else [])
    ]
    waiting = [
        {
            "sheet": sheet.sheet_num,
            "instrument": sheet.instrument_name,
            "reason": why,
            "until": _iso(sheet.fire_at),
            "seconds_left": _seconds(now, sheet.fire_at),
        }
        for sheet, why in (found.waiting if acting else [])
    ]
    counts = found.counts
    elapsed = elapsed_seconds(head, now)
    return {
        "job_id": checkpoint.ref.job_id,
        "job_name": head.get("job_name"),
        "workspace": str(checkpoint.ref.workspace),
        "status": status,
        "alive": liveness.alive,
        "pid": None if dead else head.get("pid"),
        "progress": {
            "completed": counts.get("completed", 0),
            "total": checkpoint.total,
            "failed": counts.get("failed", 0),
        },
        "running": running,
        "waiting": waiting,
        "cost_usd": round(float(head.get("total_estimated_cost") or 0.0), 6),
        "elapsed_seconds": None if elapsed is None else round(elapsed, 1),
        "updated_at": head.get("updated_at"),
        "error": None,
    }


def corrupt_row(ref: JobRef, message: str) -> dict[str, Any]:
    """A job whose checkpoint the loader refuses: shown, with the loader's reason."""
    return {
        "job_id": ref.job_id,
        "job_name": None,
        "workspace": str(ref.workspace),
        "status": CORRUPT,
        "alive": None,
        "pid": None,
        "progress": {"completed": None, "total": None, "failed": None},
        "running": [],
        "waiting": [],
        "cost_usd": 0.0,
        "elapsed_seconds": None,
        "updated_at": None,
        "error": message,
    }


def active_rate_limits(now: datetime) -> list[dict[str, Any]]:
    """Shared rate-limit records still in force, the soonest to clear first."""
    if not _has_records(paths.ratelimits_dir()):
        return []
    from mzt.instruments import ratelimits  # only when there are records (see status)

    found = [
        {**limit.to_json(), "seconds_left": round(left, 1)}
        for limit in ratelimits.all_records()
        if (left := limit.seconds_left(now)) > 0
    ]
    return sorted(found, key=lambda item: item["seconds_left"])


def open_circuits(now: datetime) -> list[dict[str, Any]]:
    """Shared circuits that are not closed (open, or half open: a trial may run)."""
    return [doc for doc in circuit_records(now=now) if doc["state"] != "closed"]


def _has_records(folder: Path) -> bool:
    try:
        with os.scandir(folder) as entries:
            return any(entry.name.endswith(".json") for entry in entries)
    except OSError:
        return False


@records.record(frozen=True)
class TopFrame:
    """The machine at one moment: its jobs, its rate limits and open circuits."""

    ts: datetime
    jobs: list[dict[str, Any]]
    rate_limits: list[dict[str, Any]]
    circuits: list[dict[str, Any]]

    @property
    def totals(self) -> dict[str, Any]:
        return {
            "jobs": len(self.jobs),
            # A job runs while a run holds its lock, between two sheets too.
            "jobs_running": sum(1 for job in self.jobs if job["alive"]),
            "sheets_running": sum(len(job["running"]) for job in self.jobs),
            "sheets_waiting": sum(len(job["waiting"]) for job in self.jobs),
            "cost_usd": round(sum(job["cost_usd"] for job in self.jobs), 6),
        }

    @property
    def key(self) -> tuple[Any, ...]:
        """What makes two frames different enough to show both (not the clocks)."""
        jobs = tuple(
            (
                job["job_id"],
                job["workspace"],
                job["status"],
                job["alive"],
                tuple(job["progress"].values()),
                tuple(item["sheet"] for item in job["running"]),
                tuple((item["sheet"], item["reason"], item["until"]) for item in job["waiting"]),
                job["cost_usd"],
            )
            for job in self.jobs
        )
        limits = tuple((item["instrument"], item["limited_until"]) for item in self.rate_limits)
        circuits = tuple((item["instrument"], item["state"]) for item in self.circuits)
        return (jobs, limits, circuits)

    def to_json(self) -> dict[str, Any]:
        """The ``mzt.top/1`` line."""
        return {
            "schema": SCHEMA_TOP,
            "ts": self.ts.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "totals": self.totals,
            "jobs": self.jobs,
            "rate_limits": self.rate_limits,
            "circuits": self.circuits,
        }


class Board:
    """Every registered job, kept up to date between frames at the least cost.

    ``include_all`` keeps completed and cancelled jobs (left out by default, as
    `mzt list` leaves them out).
    """

    def __init__(self, *, include_all: bool = False) -> None:
        self.include_all = include_all
        self._registry_seen: int | None = None
        self._refs: list[JobRef] = []
        self._trackers: dict[tuple[str, Path], JobTracker] = {}
        self._signatures: dict[tuple[str, Path], tuple[int, ...]] = {}
        self._scans: dict[tuple[str, Path], Scan] = {}

    def refs(self) -> list[JobRef]:
        """The registered jobs, listed again only when the registry folder changed."""
        try:
            seen = paths.registry_dir().stat().st_mtime_ns
        except OSError:
            seen = 0
        if seen != self._registry_seen:
            self._registry_seen = seen
            self._refs = registered_jobs()
        return self._refs

    def folders(self) -> list[Path]:
        """What to watch for changes: each job's files, the registry, the shared records."""
        found = {ref.state_path.parent for ref in self._refs}
        found.update((paths.registry_dir(), paths.ratelimits_dir(), paths.circuits_dir()))
        return sorted(found)

    def relevant(self, path: Path) -> bool:
        if path.parent in (paths.registry_dir(), paths.ratelimits_dir(), paths.circuits_dir()):
            return True
        return path.name.endswith((".json", ".jsonl"))

    def _checkpoint(self, ref: JobRef) -> Checkpoint:
        """The job's checkpoint, read again only if its files changed since the last frame."""
        key = (ref.job_id, ref.workspace)
        tracker = self._trackers.get(key)
        if tracker is None:
            tracker = self._trackers[key] = JobTracker(ref)
        signature = _files_of(ref)
        if tracker.checkpoint is None or signature != self._signatures.get(key):
            tracker.refresh()
            self._signatures[key] = signature
            self._scans.pop(key, None)
        assert tracker.checkpoint is not None
        return tracker.checkpoint

    def _row(self, ref: JobRef, now: datetime) -> dict[str, Any] | None:
        try:
            for _ in range(3):
                checkpoint = self._checkpoint(ref)
                liveness = judge(checkpoint)
                # A run that ends between the read and the probe looks dead: it only is if
                # its files did not change meanwhile.
                if liveness.verdict != "dead" or _files_of(ref) == self._signatures.get(
                    (ref.job_id, ref.workspace)
                ):
                    break
        except JobNotFoundError:
            return None
        except StateCorruptionError as exc:
            self._trackers.pop((ref.job_id, ref.workspace), None)
            self._scans.pop((ref.job_id, ref.workspace), None)
            return corrupt_row(ref, exc.message)
        key = (ref.job_id, ref.workspace)
        found = self._scans.get(key)
        if found is None:
            found = self._scans[key] = scan(checkpoint)
        return job_row(checkpoint, liveness, now, found)

    def frame(self, now: datetime | None = None) -> TopFrame:
        """The machine now."""
        moment = now or datetime.now(UTC)
        refs = self.refs()
        live = {(ref.job_id, ref.workspace) for ref in refs}
        for gone in set(self._trackers) - live:
            self._trackers.pop(gone, None)
            self._signatures.pop(gone, None)
            self._scans.pop(gone, None)
        jobs = [row for ref in refs if (row := self._row(ref, moment)) is not None]
        if not self.include_all:
            jobs = [job for job in jobs if job["status"] not in FINISHED_FOR_LIST]
        # Live runs first, then by the last change, newest first.
        jobs.sort(key=lambda job: str(job["updated_at"] or ""), reverse=True)
        jobs.sort(key=lambda job: not job["alive"])
        return TopFrame(moment, jobs, active_rate_limits(moment), open_circuits(moment))


def _files_of(ref: JobRef) -> tuple[int, ...]:
    try:
        st = ref.state_path.stat()
    except OSError:
        return ()
    return (st.st_ino, st.st_size, st.st_mtime_ns, file_size(ref.history_path))


def frames(
    *,
    interval: float = DEFAULT_INTERVAL,
    include_all: bool = False,
    force_poll: bool | None = None,
    stop: threading.Event | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[TopFrame]:
    """A frame now, then one after each file change and at least every ``interval`` s.

    Never ends by itself (``stop`` ends it). The caller decides which frames to show:
    :attr:`TopFrame.key` tells a frame that changed something from one that only ticked.
    ``force_poll`` (default ``MZT_WATCH_POLL``) skips file events and looks every
    ``interval`` seconds.
    """
    board = Board(include_all=include_all)
    yield board.frame()
    wakeups = Wakeups(
        folders=board.folders,
        relevant=board.relevant,
        idle=interval,
        poll=lambda: interval,
        force_poll=polling_forced() if force_poll is None else force_poll,
        stop=stop,
    )
    last = clock()
    held = False  # a change came too soon after the last frame: the next wake-up shows it
    for changed in wakeups:
        if stop is not None and stop.is_set():
            return
        # Busy runs change their files many times a second; a frame per change would cost
        # a core. Changes closer than MIN_GAP wait for the next wake-up (an event, or the
        # interval's tick); a tick with nothing changed is due once the interval is over.
        since = clock() - last
        if changed and since < MIN_GAP:
            held = True
            continue
        if not changed and not held and since < interval * 0.9:
            continue
        held = False
        last = clock()
        yield board.frame()
