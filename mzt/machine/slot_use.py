"""Who holds a limit's machine slots, read without creating, changing or disturbing any.

A slot is held when its file's lock is: a probe tries a shared, non-blocking ``flock`` on
a fresh descriptor and drops it at once (as :mod:`mzt.state.lockprobe` does for run
locks). A held slot's record says who holds it; a free slot's stale record is ignored.
Odd files are reported as problems, never raised: `status` and `top` must keep drawing.
"""

from __future__ import annotations

import fcntl
import json
import os
import stat
from pathlib import Path

from mzt.machine import limits
from mzt.machine.slots import CONTENDED, RECORD_MAX_BYTES, SUFFIX, errno_name, odd_reason
from mzt.state.lockprobe import PROBE_FLAGS
from mzt.support import paths, records
from mzt.support.fsutil import kind_of


@records.record(frozen=True, slots=True)
class SlotView:
    """One slot as a reader saw it: held or free, its holder's record, or what is wrong."""

    index: int
    held: bool
    holder: dict[str, object] | None = None  # the record, only for a held slot
    problem: str = ""  # an odd file at the slot's path: it cannot be taken


@records.record(frozen=True, slots=True)
class LimitUse:
    """Who holds a limit's slots, for `status`, `top` and the run's output."""

    limit: str
    capacity: int
    slots: tuple[SlotView, ...]  # 0..capacity-1, and any held slot above a lowered capacity
    problem: str = ""  # the folder itself cannot be used

    @property
    def held(self) -> int:
        return sum(1 for slot in self.slots if slot.held)

    def holders(self) -> list[str]:
        """The holding jobs' ids, each once, in slot order (``?`` for an unreadable record)."""
        found: list[str] = []
        for slot in self.slots:
            if slot.held:
                job = slot.holder.get("job_id") if slot.holder else None
                name = job if isinstance(job, str) and job else "?"
                if name not in found:
                    found.append(name)
        return found

    def summary(self) -> str:
        """``4/4 held by jobs a, b``, ``0/4 held``."""
        text = f"{self.held}/{self.capacity} held"
        jobs = self.holders()
        if jobs:
            text += f" by job{'s' if len(jobs) > 1 else ''} {', '.join(jobs)}"
        return text


def wait_text(uses: list[LimitUse]) -> tuple[str, str]:
    """Why an attempt wanting these limits' slots waits: (the limit, the run's own words).

    The first full limit and who holds it (``waiting for a cli slot: 4/4 held by jobs a,
    b``), else the first limit, whose turn is other jobs'. The run's output and the views
    (`status`, `watch`, `top`) say it alike.
    """
    full = [use for use in uses if use.held >= use.capacity]
    use = full[0] if full else uses[0]
    text = f"waiting for {limits.describe(use.limit)}: {use.summary()}"
    if not full:
        text += ", other jobs' turn first"
    return use.limit, text


def read_limit(limit: str, capacity: int, *, home: Path | None = None) -> LimitUse:
    """Who holds ``limit``'s slots now, without creating, changing or disturbing anything."""
    folder = paths.slot_limit_dir(limit, home)
    for path in (folder.parent, folder):
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            return LimitUse(limit, capacity, tuple(SlotView(i, False) for i in range(capacity)))
        except OSError as exc:
            return LimitUse(limit, capacity, (), problem=f"{path}: {exc.strerror}")
        if not stat.S_ISDIR(mode):
            return LimitUse(limit, capacity, (), problem=f"{path}: it is {kind_of(path, mode)}")
    views = [_probe(f"{folder}/{i}{SUFFIX}", i) for i in range(capacity)]
    for index in _indexes_above(folder, capacity):
        view = _probe(f"{folder}/{index}{SUFFIX}", index)
        if view.held:
            views.append(view)
    return LimitUse(limit, capacity, tuple(views))


def _indexes_above(folder: Path, capacity: int) -> list[int]:
    try:
        names = [entry.name for entry in folder.iterdir()]
    except OSError:
        return []
    found = []
    for name in names:
        stem = name[: -len(SUFFIX)] if name.endswith(SUFFIX) else ""
        if stem.isdigit() and stem == str(int(stem)) and int(stem) >= capacity:
            found.append(int(stem))
    return sorted(found)


def _probe(path: str, index: int) -> SlotView:
    try:
        fd = os.open(path, PROBE_FLAGS)
    except FileNotFoundError:
        return SlotView(index, False)
    except OSError as exc:
        return SlotView(index, False, problem=odd_reason(path, exc))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            return SlotView(index, False, problem=f"it is {kind_of(Path(path), mode)}")
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in CONTENDED:
                return SlotView(index, False, problem=f"{exc.strerror} ({errno_name(exc)})")
            return SlotView(index, True, _parse(os.pread(fd, RECORD_MAX_BYTES, 0)))
        fcntl.flock(fd, fcntl.LOCK_UN)
        return SlotView(index, False)
    finally:
        os.close(fd)


def _parse(data: bytes) -> dict[str, object] | None:
    """The holder's record; None while it is being written or if it is not one."""
    try:
        document = json.loads(data)
    except ValueError:
        return None
    return document if isinstance(document, dict) else None
