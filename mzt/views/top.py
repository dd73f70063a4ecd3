"""Every job on the machine, live: the frames `mzt top` shows.

There is no daemon to ask, so a frame is put together from the files every run already
writes: the registry says which jobs exist, each job's checkpoint (through the store's
loader, kept up to date line by line by :class:`~mzt.views.watch.JobTracker`) says what
its sheets do, its run lock says whether its run is alive, and the shared records say
which instruments are rate limited or have an open circuit. The machine's slot folders say
who holds each limit's slots and which sheets wait in its queue (a slot wait is not in the
checkpoint: the sheet stays pending), and the runs' shared pressure reading (measured
afresh when no run has refreshed it lately) says how loaded the machine is.

A frame costs little: the registry is listed again only when its folder changed, and a
job is read again only when its snapshot or journal changed (then only the new journal
lines are applied). What changes with no file event (a run killed with SIGKILL, a rate
limit running out) is caught by looking again every ``interval`` seconds.

Like the other views it never takes a lock and never writes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mzt.machine.slot_waits import (
    SlotWait,
    find_waits,
    machine_state,
    slot_folders,
    use_json,
    view_config,
)
from mzt.state.reading import Checkpoint, JobRef, file_size, registered_jobs
from mzt.support import paths, records
from mzt.support.errors import JobNotFoundError, StateCorruptionError
from mzt.views import pressure_view
from mzt.views.file_events import Wakeups, polling_forced
from mzt.views.liveness import judge
from mzt.views.status import FINISHED_FOR_LIST
from mzt.views.top_rows import (
    Scan,
    active_rate_limits,
    corrupt_row,
    job_row,
    open_circuits,
    scan,
)
from mzt.views.watch import JobTracker

SCHEMA_TOP = "mzt.top/1"
DEFAULT_INTERVAL = 1.0
MIN_GAP = 0.1  # seconds: at most ten frames a second, however busy the runs
SLOT_SUFFIXES = (".lock", ".ticket")  # a slot taken or let go, a ticket come or gone


@records.record(frozen=True)
class TopFrame:
    """The machine at one moment: its jobs, rate limits, open circuits and slots."""

    ts: datetime
    jobs: list[dict[str, Any]]
    rate_limits: list[dict[str, Any]]
    circuits: list[dict[str, Any]]
    # Per limit {limit, capacity, held, by_job}: sheets and jobs, then each limit in use.
    slots: list[dict[str, Any]] = records.field(default_factory=list)
    # The machine's backpressure (``mzt.pressure/1``); None only in frames built by hand.
    pressure: dict[str, Any] | None = None

    @property
    def totals(self) -> dict[str, Any]:
        return {
            "jobs": len(self.jobs),
            # A job runs while a run holds its lock, between two sheets too.
            "jobs_running": sum(1 for job in self.jobs if job["alive"]),
            "sheets_running": sum(len(job["running"]) for job in self.jobs),
            "sheets_waiting": sum(len(job["waiting"]) + _slot_sheets(job) for job in self.jobs),
            "sheets_waiting_for_slot": sum(_slot_sheets(job) for job in self.jobs),
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
                tuple((item["sheet"], _slurm_key(item.get("slurm"))) for item in job["running"]),
                tuple((item["sheet"], item["reason"], item["until"]) for item in job["waiting"]),
                job["cost_usd"],
                tuple((item["sheet"], item["limit"]) for item in job["waiting_for_slot"]),
            )
            for job in self.jobs
        )
        limits = tuple((item["instrument"], item["limited_until"]) for item in self.rate_limits)
        circuits = tuple((item["instrument"], item["state"]) for item in self.circuits)
        slots = tuple(
            (item["limit"], item["capacity"], tuple(item["by_job"].items())) for item in self.slots
        )
        level = self.pressure["level"] if self.pressure else None
        return (jobs, limits, circuits, slots, level)

    def to_json(self) -> dict[str, Any]:
        """The ``mzt.top/1`` line."""
        return {
            "schema": SCHEMA_TOP,
            "ts": self.ts.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "totals": self.totals,
            "jobs": self.jobs,
            "rate_limits": self.rate_limits,
            "circuits": self.circuits,
            "slots": self.slots,
            "pressure": self.pressure,
        }


def _slurm_key(slurm: dict[str, Any] | None) -> tuple[Any, ...]:
    return () if slurm is None else tuple(slurm.values())


def _slot_sheets(job: dict[str, Any]) -> int:
    return sum(1 for item in job["waiting_for_slot"] if item["sheet"] is not None)


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
        """What to watch for changes: each job's files, the registry, the shared records,
        each limit's slots and queue."""
        found = {ref.state_path.parent for ref in self._refs}
        found.update((paths.registry_dir(), paths.ratelimits_dir(), paths.circuits_dir()))
        found.update(slot_folders())
        found.add(paths.pressure_file().parent)
        return sorted(found)

    def relevant(self, path: Path) -> bool:
        if path == paths.pressure_file():
            return True
        if path.parent in (paths.registry_dir(), paths.ratelimits_dir(), paths.circuits_dir()):
            return True
        if path.name.endswith(SLOT_SUFFIXES):
            # A run's own lock file makes no event worth a frame; a slot or a ticket does.
            return paths.slots_dir() in path.parents
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

    def _row(
        self, ref: JobRef, now: datetime, waits: dict[tuple[str, str], dict[int | None, SlotWait]]
    ) -> dict[str, Any] | None:
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
        tracker = self._trackers[key]
        slurm = tracker.slurm_jobs(checkpoint) if liveness.alive and found.active else ()
        return job_row(
            checkpoint,
            liveness,
            now,
            found,
            find_waits(waits, ref.job_id, ref.workspace),
            {job.sheet_num: job for job in slurm},
        )

    def frame(self, now: datetime | None = None) -> TopFrame:
        """The machine now."""
        moment = now or datetime.now(UTC)
        refs = self.refs()
        live = {(ref.job_id, ref.workspace) for ref in refs}
        for gone in set(self._trackers) - live:
            self._trackers.pop(gone, None)
            self._signatures.pop(gone, None)
            self._scans.pop(gone, None)
        config = view_config()
        uses, waits = machine_state(config)
        jobs = [row for ref in refs if (row := self._row(ref, moment, waits)) is not None]
        if not self.include_all:
            jobs = [job for job in jobs if job["status"] not in FINISHED_FOR_LIST]
        # Live runs first, then by the last change, newest first.
        jobs.sort(key=lambda job: str(job["updated_at"] or ""), reverse=True)
        jobs.sort(key=lambda job: not job["alive"])
        slots = [use_json(use) for use in uses]
        load = pressure_view.reading(config, now=moment)
        return TopFrame(
            moment,
            jobs,
            active_rate_limits(moment),
            open_circuits(moment),
            slots,
            load.to_json(),
        )


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
