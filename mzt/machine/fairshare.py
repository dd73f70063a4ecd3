"""Fair turns at machine slots: when attempts of several jobs wait, no job starves.

A waiting attempt joins the queue of each limit it waits for with a ticket, the file
``slots/<limit>/tickets/<arrival ns>.<pid>.<job>.ticket``, held by an exclusive ``flock``
for as long as it waits (created under a dot name, locked, then renamed into place, so
no reader ever sees it unlocked or empty). It holds the waiter's record, as a held slot
does (job, workspace, sheet, instrument, pid, since), so that `status` and `top` can say
which sheet waits. A ticket whose lock is free belongs to a waiter that died: the waiter
behind it removes it when its turn comes, so kill -9 never blocks a queue.

The queue's order goes round the jobs: a ticket's key is the number of slots its job
already holds plus the number of its job's tickets ahead of it, then its arrival. Each
job's first waiting attempt is thus at the front, a job that holds slots comes after one
that holds none, and no ticket waits forever: its key only falls while it waits, and a
newcomer passes it only with a smaller key. A waiter may take its slots only when each
of its tickets is among the first ``free`` of its limit's queue (``free`` = capacity −
slots held); nobody waiting, an attempt takes its slots at once without a ticket. While
other jobs wait, a job never takes a slot that would give it more than twice its fair
share (the capacity over the jobs that want the limit).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterable
from pathlib import Path

from mzt.machine import slot_use, slots
from mzt.state.lockprobe import PROBE_FLAGS
from mzt.support import paths
from mzt.support.fsutil import ensure_private_dir, open_nofollow

SUFFIX = ".ticket"


def tickets_dir(limit: str, home: Path | None = None) -> Path:
    return paths.slot_limit_dir(limit, home) / "tickets"


class Ticket:
    """A place in one limit's queue, held by this process until :meth:`leave`."""

    __slots__ = ("fd", "job_id", "limit", "name", "path")

    def __init__(self, limit: str, job_id: str, path: Path, fd: int) -> None:
        self.limit = limit
        self.job_id = job_id
        self.path = path
        self.name = path.name
        self.fd = fd

    def leave(self) -> None:
        fd, self.fd = self.fd, -1
        if fd < 0:
            return
        with contextlib.suppress(OSError):
            self.path.unlink()  # before the close: an unlocked ticket would be taken for dead
        os.close(fd)


def join(limit: str, holder: slots.Holder, *, home: Path | None = None) -> Ticket:
    """A new ticket at the back of ``limit``'s queue, holding ``holder``'s record."""
    slots.limit_folder(limit, home)  # made, and neither it nor slots/ is a link
    folder = ensure_private_dir(tickets_dir(limit, home))
    job = paths.job_id_from_name(holder.job_id) or "_"
    name = f"{time.time_ns():020d}.{os.getpid()}.{job}{SUFFIX}"
    hidden = folder / f".{name}"
    fd = open_nofollow(hidden, os.O_RDWR | os.O_CREAT | os.O_EXCL)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a new file: nobody else has it
        os.write(fd, holder.encode())
        hidden.rename(folder / name)
    except BaseException:
        with contextlib.suppress(OSError):
            hidden.unlink()
        os.close(fd)
        raise
    return Ticket(limit, job, folder / name, fd)


def queue(limit: str, held_by_job: dict[str, int], *, home: Path | None = None) -> list[str]:
    """The live tickets' names in their turn order; dead waiters' tickets are removed."""
    tickets = [
        (name, job) for name, job in _listed(limit, home) if _alive_or_removed(limit, name, home)
    ]
    return _order(tickets, held_by_job)


def anyone_waiting(limit: str, *, home: Path | None = None) -> bool:
    """Whether ``limit``'s queue lists a ticket (a dead waiter's counts: its next reader
    removes it, and a newcomer behind it loses one look at most).

    Asked for every limit of every attempt before it takes its slots, nobody waiting as a
    rule: one listing of a folder string, no ``Path`` built, nothing sorted."""
    folder = slots.limit_folder_name(limit, home)
    try:
        names = os.listdir(f"{folder}/tickets")  # noqa: PTH208
    except OSError:
        return False
    return any(name.endswith(SUFFIX) and not name.startswith(".") for name in names)


def _listed(limit: str, home: Path | None) -> list[tuple[str, str]]:
    """(name, job) of every ticket in ``limit``'s folder, in arrival order, unprobed."""
    try:
        # Names only, no Path per entry: every waiter near the front lists at each look.
        names = sorted(os.listdir(tickets_dir(limit, home)))  # noqa: PTH208
    except OSError:
        return []
    listed = []
    for name in names:
        parts = name[: -len(SUFFIX)].split(".")
        if not name.startswith(".") and name.endswith(SUFFIX) and len(parts) == 3:
            listed.append((name, parts[2]))
    return listed


def _alive_or_removed(limit: str, name: str, home: Path | None) -> bool:
    """Whether the ticket ``name`` belongs to a live waiter; a dead one's is removed."""
    path = tickets_dir(limit, home) / name
    if _alive(path):
        return True
    with contextlib.suppress(OSError):
        path.unlink()
    return False


def _order(tickets: list[tuple[str, str]], held_by_job: dict[str, int]) -> list[str]:
    ahead: dict[str, int] = {}
    keyed: list[tuple[int, str]] = []
    for name, job in tickets:
        keyed.append((held_by_job.get(job, 0) + ahead.get(job, 0), name))
        ahead[job] = ahead.get(job, 0) + 1
    return [name for _, name in sorted(keyed)]


def _alive(path: Path) -> bool:
    try:
        fd = os.open(path, PROBE_FLAGS)
    except OSError:
        return False  # gone, or not a file mzt made: not a waiter
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as exc:
        return exc.errno in slots.CONTENDED
    finally:
        os.close(fd)  # closing drops the shared lock, if it was taken
    return False


def my_turn(ticket: Ticket, capacity: int, *, home: Path | None = None) -> bool:
    """True when ``ticket`` is among the first ``free`` of its limit's queue."""
    ahead, free = standing(ticket, capacity, home=home)
    return ahead < free


def standing(ticket: Ticket, capacity: int, *, home: Path | None = None) -> tuple[int, int]:
    """(how many tickets come before ``ticket`` in its limit's turn order, slots free now).

    It is the ticket's turn when fewer come before it than slots are free. The queue is
    read before the slots: a waiter takes its slots before it leaves the queue, so a queue
    without it comes with slots that show what it took. Read the other way round, a waiter
    served meanwhile is gone from the queue while its slot still looks free, and the next
    ticket would count itself first.

    The queue is listed, not probed: with many runs waiting, every slot taken or let go has
    each of the first waiters look again, and a probe of every ticket at every look made
    the looks cost more than the attempts. Only the tickets whose turn it is now (at most
    ``free`` of them) are probed, when this one is not among them: a dead waiter there is
    the only kind that holds anyone up, and it is removed. One further back is probed when
    its own turn comes.
    """
    tickets = _listed(ticket.limit, home)
    use = slot_use.read_limit(ticket.limit, capacity, home=home)
    free = max(0, capacity - use.held)
    held: dict[str, int] = {}
    for slot in use.slots:
        job = slot.holder.get("job_id") if slot.holder and slot.held else None
        if isinstance(job, str):
            held[job] = held.get(job, 0) + 1
    while True:
        capped = _over_share(held, tickets, capacity)
        if ticket.job_id in capped:
            # Its turn comes back when it holds less or nobody else waits: behind everyone.
            return len(tickets), free
        # A capped job's tickets keep no place ahead of the others.
        order = _order([item for item in tickets if item[1] not in capped], held)
        if ticket.name not in order:
            return 0, free  # taken for dead by a reader that probed it in a bad instant
        ahead = order.index(ticket.name)
        if ahead < free:
            return ahead, free
        front = [name for name in order[:free] if name != ticket.name]
        dead = {name for name in front if not _alive_or_removed(ticket.limit, name, home)}
        if not dead:
            return ahead, free
        tickets = [item for item in tickets if item[0] not in dead]


def _over_share(held: dict[str, int], tickets: list[tuple[str, str]], capacity: int) -> set[str]:
    """The waiting jobs that one more slot would take over twice their fair share.

    The fair share is the capacity over the jobs that want the limit (holding or waiting).
    The cap applies only while another job waits, and a job may always hold one slot, so
    no job is ever shut out by the cap alone.
    """
    waiting = {job for _, job in tickets}
    if len(waiting) < 2:
        return set()
    wanting = waiting | {job for job, count in held.items() if count}
    share = max(1.0, 2 * capacity / len(wanting))
    return {job for job in waiting if held.get(job, 0) + 1 > share}


class Waiter:
    """An attempt waiting for its slots: call :meth:`try_take` until it gives a set.

    After a try that gave nothing, :attr:`distance` says how far the attempt is from a
    turn: 0 while it would be served if every held slot came free (it is among the first
    ``capacity`` of each queue), else how many tickets more than that come before it. A
    run follows the slots' file events only at distance 0 and polls further back, so a
    slot let go wakes the few waiters who could take it, not every waiting run.
    """

    def __init__(
        self, limits: Iterable[tuple[str, int]], holder: slots.Holder, *, home: Path | None = None
    ) -> None:
        self.limits = sorted(set(limits))
        self.holder = holder
        self.home = home
        self.tickets: list[tuple[Ticket, int]] = []
        self.distance = 0
        self.missed = False  # the last try was its turn but found a slot taken

    def try_take(self) -> slots.SlotSet | None:
        """The slots when it is this attempt's turn and they are free, else None."""
        if not self.tickets:
            self.distance = 0
            if not any(anyone_waiting(name, home=self.home) for name, _ in self.limits):
                taken = slots.take_all(self.limits, self.holder, home=self.home)
                if taken is not None:
                    return taken
            try:
                for name, capacity in self._join_order():
                    self.tickets.append((join(name, self.holder, home=self.home), capacity))
            except BaseException:
                self.leave()  # a ticket held by nobody waiting would stand in every queue
                raise
        turn = True
        self.distance = 0
        for ticket, capacity in self.tickets:
            ahead, free = standing(ticket, capacity, home=self.home)
            turn = turn and ahead < free
            self.distance = max(self.distance, ahead - capacity + 1)
        self.missed = False
        if not turn:
            return None
        taken = slots.take_all(self.limits, self.holder, home=self.home)
        if taken is not None:
            self.leave()
        else:
            # Its turn, yet a slot counted free was not: a reader's probe held it for an
            # instant, or another waiter took it first. No file event may follow either.
            self.missed = True
        return taken

    def _join_order(self) -> list[tuple[str, int]]:
        """The limits whose slots are all held first, then the others.

        A view reads a wait from the tickets listed at that instant, and one attempt's
        tickets appear one folder at a time: joined in this order, a view that catches only
        the first sees the limit that is really in the way, not a free one whose queue it
        merely joined first.
        """

        def free(limit: tuple[str, int]) -> bool:
            use = slot_use.read_limit(*limit, home=self.home)
            return use.held < use.capacity

        return sorted(self.limits, key=free)  # stable: each group keeps its order

    def leave(self) -> None:
        """Give up waiting (cancel, pause, a signal): the tickets go, nothing is held."""
        for ticket, _ in self.tickets:
            ticket.leave()
        self.tickets = []
