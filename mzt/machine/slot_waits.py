"""Which sheets wait for machine slots, and who holds each limit: what the views show.

A run's checkpoint does not record a slot wait (the sheet stays pending and spends
nothing), so `status`, `watch` and `top` read it where the run keeps it: a waiting attempt
holds a ticket in ``slots/<limit>/tickets/`` of every limit it wants, with its record (job,
workspace, sheet; see :mod:`mzt.machine.fairshare`), and a run waiting for its job slot
holds one in ``slots/jobs/tickets/`` with no sheet.

Everything here only reads. A ticket is live while a shared probe of its lock fails (as
:mod:`mzt.machine.slot_use` probes slots); a dead waiter's ticket is skipped and left for
the next waiter to remove. When nothing waits, listing the folders is all it costs: the
configuration and the slot reader are imported only once a live ticket is found.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mzt.support import paths, records

if TYPE_CHECKING:
    from mzt.machine.config import MachineConfig
    from mzt.machine.slot_use import LimitUse

TICKETS = "tickets"
TICKET_SUFFIX = ".ticket"  # fairshare.SUFFIX, named here so that nothing heavy is imported
_RECORD_MAX_BYTES = 4096


@records.record(frozen=True, slots=True)
class SlotWait:
    """One sheet (or the run itself, for a job slot) waiting for slots, and why."""

    limit: str  # the limit it waits for first
    text: str  # "waiting for a cli slot: 4/4 held by jobs a, b"

    def to_json(self) -> dict[str, str]:
        return {"limit": self.limit, "text": self.text}


@records.record(frozen=True, slots=True)
class _Ticket:
    folder: str  # the limit's folder name
    job_id: str
    workspace: str
    sheet: int | None


def waiting_sheets(
    job_id: str,
    workspace: Path | str,
    config: MachineConfig | None = None,
    home: Path | None = None,
) -> dict[int | None, SlotWait]:
    """The waits of one job's run: per waiting sheet, and under ``None`` its job slot.

    ``config``: the machine configuration the capacities come from (read when needed if
    None). Only a live run waits: callers ask for a job whose run lock is held.
    """
    tickets = _live_tickets(home, paths.job_id_from_name(job_id))
    if not tickets:
        return {}
    return find_waits(SlotReader(config, home).waits(tickets), job_id, workspace)


def machine_waits(
    config: MachineConfig | None = None, home: Path | None = None
) -> dict[tuple[str, str], dict[int | None, SlotWait]]:
    """Every job's waits, by (job id, workspace as its records hold it)."""
    tickets = _live_tickets(home, None)
    return SlotReader(config, home).waits(tickets) if tickets else {}


def machine_slots(config: MachineConfig | None = None, home: Path | None = None) -> list[LimitUse]:
    """Who holds each limit: ``sheets`` and ``jobs``, then every instrument or model limit
    whose folder exists (a limit the configuration dropped only while slots are held)."""
    return SlotReader(config, home).uses()


def machine_state(
    config: MachineConfig | None = None, home: Path | None = None
) -> tuple[list[LimitUse], dict[tuple[str, str], dict[int | None, SlotWait]]]:
    """:func:`machine_slots` and :func:`machine_waits` at once, each limit read once."""
    reader = SlotReader(config, home)
    tickets = _live_tickets(home, None)
    return reader.uses(), reader.waits(tickets) if tickets else {}


def find_waits(
    waits: dict[tuple[str, str], dict[int | None, SlotWait]], job_id: str, workspace: Path | str
) -> dict[int | None, SlotWait]:
    """One job's entry of :func:`machine_waits`. Records hold the workspace redacted: the
    plain path is tried first, which spares loading the redaction rules for most paths."""
    if not waits:
        return {}
    return waits.get((job_id, str(workspace))) or waits.get(_key(job_id, workspace)) or {}


def use_json(use: LimitUse) -> dict[str, Any]:
    """One limit in `top`'s JSON: ``{limit, capacity, held, by_job}``."""
    by_job: dict[str, int] = {}
    for slot in use.slots:
        if slot.held:
            job = slot.holder.get("job_id") if slot.holder else None
            name = job if isinstance(job, str) and job else "?"
            by_job[name] = by_job.get(name, 0) + 1
    return {
        "limit": use.limit,
        "capacity": use.capacity,
        "held": use.held,
        "by_job": by_job,
        "problem": use.problem or None,
    }


def tickets_folders(home: Path | None = None) -> list[Path]:
    """The tickets folders that exist now: a view follows them for waits starting or ending."""
    return [folder / TICKETS for folder in _limit_folders(home) if (folder / TICKETS).is_dir()]


def slot_folders(home: Path | None = None) -> list[Path]:
    """Each limit's folder and its tickets folder: slots taken or let go, waits coming or going."""
    return sorted([*_limit_folders(home), *tickets_folders(home)])


# --- reading ---------------------------------------------------------------------------------


class SlotReader:
    """The configuration and each limit's holders, read once for one view's frame."""

    def __init__(self, config: MachineConfig | None, home: Path | None) -> None:
        from mzt.machine import limits

        self.limits = limits
        self.config = config if config is not None else view_config(home)
        self.home = home
        self._uses: dict[str, LimitUse | None] = {}
        self._names = {
            paths.slot_limit_name(name): name
            for name in [
                *(limits.instrument_limit(n) for n in self.config.instruments),
                *(limits.model_limit(n) for n in self.config.models),
            ]
        }

    def use(self, folder: str) -> LimitUse | None:
        """Who holds the limit whose folder is ``folder``; None: no such limit any more."""
        if folder not in self._uses:
            from mzt.machine import slot_use

            limit = self._names.get(folder, folder)
            capacity = self.limits.capacity_of(self.config, limit)
            found = slot_use.read_limit(limit, capacity or 0, home=self.home)
            self._uses[folder] = found if capacity or found.held else None
        return self._uses[folder]

    def uses(self) -> list[LimitUse]:
        folders = {folder.name for folder in _limit_folders(self.home)}
        names = ["sheets", "jobs", *sorted(folders - {"sheets", "jobs"}, key=_rank_key)]
        return [use for name in names if (use := self.use(name)) is not None]

    def waits(self, tickets: list[_Ticket]) -> dict[tuple[str, str], dict[int | None, SlotWait]]:
        from mzt.machine import slot_use

        wanted: dict[tuple[str, str, int | None], set[str]] = {}
        for ticket in tickets:
            wanted.setdefault((ticket.job_id, ticket.workspace, ticket.sheet), set()).add(
                ticket.folder
            )
        found: dict[tuple[str, str], dict[int | None, SlotWait]] = {}
        for (job_id, workspace, sheet), folders in wanted.items():
            uses = [use for f in sorted(folders, key=_rank_key) if (use := self.use(f))]
            if not uses or any(_holds(use, job_id, workspace, sheet) for use in uses):
                continue  # served: it holds its slots and is leaving the queue this instant
            limit, text = slot_use.wait_text(uses)
            found.setdefault((job_id, workspace), {})[sheet] = SlotWait(limit, text)
        return found


def view_config(home: Path | None = None) -> MachineConfig:
    """The machine configuration as a view reads it: the defaults if the file is bad."""
    from mzt.machine import config
    from mzt.support.errors import MztError

    try:
        return config.load(home=home)
    except MztError:
        # A view keeps drawing: the run that waits refused to start with such a file, or
        # read it before it went bad; `mzt config check` says what is wrong with it.
        return config.defaults()


def _holds(use: LimitUse, job_id: str, workspace: str, sheet: int | None) -> bool:
    wanted = {"job_id": job_id, "workspace": workspace, "sheet": sheet}
    return any(
        slot.held and slot.holder and all(slot.holder.get(k) == v for k, v in wanted.items())
        for slot in use.slots
    )


def _rank_key(folder: str) -> tuple[int, str]:
    # The order the run names an attempt's limits in (limits.attempt_limits): the text
    # names the first full one, as the run's own output does.
    if folder == "sheets":
        return 0, folder
    for rank, prefix in enumerate(("instrument-", "model-"), start=1):
        if folder.startswith(prefix):
            return rank, folder
    return (3 if folder == "jobs" else 4), folder


def _key(job_id: str, workspace: Path | str) -> tuple[str, str]:
    """The (job, workspace) a run's records hold: the workspace redacted as they store it."""
    from mzt.support.redact import redact

    return job_id, redact(str(workspace))


def _limit_folders(home: Path | None) -> list[Path]:
    try:
        with os.scandir(paths.slots_dir(home)) as entries:
            return sorted(Path(e.path) for e in entries if e.is_dir(follow_symlinks=False))
    except OSError:
        return []


def _live_tickets(home: Path | None, job: str | None) -> list[_Ticket]:
    """The live tickets of every limit (of job ``job`` only, if given), oldest first."""
    found: list[tuple[str, _Ticket]] = []
    for folder in _limit_folders(home):
        tickets = folder / TICKETS
        try:
            with os.scandir(tickets) as entries:
                names = [e.name for e in entries]
        except OSError:
            continue
        for name in names:
            parts = name[: -len(TICKET_SUFFIX)].split(".")
            if name.startswith(".") or not name.endswith(TICKET_SUFFIX) or len(parts) != 3:
                continue
            if job is not None and parts[2] != job:
                continue
            record = _live_record(f"{tickets}/{name}")
            if record is not None:
                found.append((name, _ticket(folder.name, record)))
    return [ticket for _, ticket in sorted(found, key=lambda item: item[0])]


def _ticket(folder: str, record: dict[str, Any]) -> _Ticket:
    sheet = record.get("sheet")
    return _Ticket(
        folder,
        str(record.get("job_id") or "?"),
        str(record.get("workspace") or ""),
        sheet if isinstance(sheet, int) and not isinstance(sheet, bool) else None,
    )


def _live_record(path: str) -> dict[str, Any] | None:
    """The waiter's record if its ticket is locked (alive), else None; nothing is changed."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return None  # gone meanwhile, or not a file mzt made
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            data = os.pread(fd, _RECORD_MAX_BYTES, 0)
        except OSError:
            return None
        else:
            return None  # its waiter is gone: the next waiter removes it
        try:
            document = json.loads(data)
        except ValueError:
            return None
        return document if isinstance(document, dict) else None
    finally:
        os.close(fd)  # closing drops the shared lock, if it was taken
