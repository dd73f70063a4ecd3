"""Between a ready sheet and its launch: the machine's slots, fair turns and backpressure.

Every `mzt run` on a machine passes its attempts through one of these, so that independent
processes keep the machine configuration's limits together (`mzt.machine`):

- the run holds a ``jobs`` slot from its first launch to its end (:meth:`MachineGate.enter`),
  so an extra run waits, or with ``--no-queue`` exits 75 before it touches anything;
- each attempt holds a ``sheets`` slot, a slot of its instrument profile and, when the
  configuration limits its model, one of its model, taken together before it is prepared
  (:meth:`MachineGate.admit`) and let go the moment it ends (:meth:`MachineGate.release`);
- when attempts of several jobs wait, they take turns (:mod:`mzt.machine.fairshare`);
- before any of that, the machine's pressure (:mod:`mzt.machine.pressure`): at ``critical``
  nothing is launched until it clears, below it launches of this run are spaced by the
  level's delay (0.1 s at ``low`` up to 2 s at ``high``).

A sheet that cannot have its slots yet stays pending and spends nothing: no attempt, no
retry budget. The run waits on file events in the slots' folders (a slot let go, a ticket
gone) and on its own controls, so pause, cancel and signals act while it waits, and
:meth:`MachineGate.stand_down` leaves every queue whenever the run stops wanting a slot
(pausing, halted, stopping): a ticket nobody tries to use would hold up the others.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from mzt.instruments import ratelimits
from mzt.machine import fairshare, limits, pressure, slot_use, slots
from mzt.machine.config import MachineConfig
from mzt.machine.slot_watch import POLL_SECONDS, QUIET_SECONDS, SlotWatch
from mzt.support import records
from mzt.support.errors import MztError
from mzt.support.exitcodes import ExitCode

# A waiter this many tickets behind a turn stops following the slots' file events; one
# between 1 and this keeps a watch it has, so that one hovering at the edge of its turn
# does not start and stop a watch at every look.
FOLLOW_BAND = 2


class JobsFullError(MztError):
    """``--no-queue`` and every job slot of the machine is held: exit 75 before any change."""

    exit_code = ExitCode.LOCKED
    code = "JOBS_FULL"

    def __init__(self, capacity: int, holders: str = "") -> None:
        self.capacity = capacity
        super().__init__(
            f"This machine already runs its limit of {capacity} job"
            f"{'s' if capacity != 1 else ''} at once (max_concurrent_jobs{holders}), and "
            "--no-queue asks not to wait for one to end; nothing was started or changed",
            hint="Run it again later (from cron: at the next tick), raise max_concurrent_jobs "
            "in $MZT_HOME/config.yaml or with MZT_MAX_CONCURRENT_JOBS, or leave out --no-queue "
            "to wait for a job slot.",
        )


def load_config(environ: dict[str, str]) -> MachineConfig:
    """The machine configuration a run keeps: a bad file stops the run before it starts."""
    from mzt.machine.config import load

    return load(environ=environ)


@records.record(frozen=True, slots=True)
class Hold:
    """Why a sheet does not start yet, and how long until the run looks again by itself."""

    kind: str  # "slot" or "pressure"
    limit: str  # the limit it waits for first ("pressure" for backpressure)
    text: str  # "waiting for a claude-code slot: 4/4 held by jobs a, b"; "" when not worth a line
    recheck: float  # seconds; a file event or a control wakes the run sooner
    own: bool = False  # only this run holds the limit: its own attempts are the wait


class MachineGate:
    """The machine-wide limits of one run, for its main thread."""

    def __init__(
        self,
        job_id: str,
        workspace: Path,
        config: MachineConfig,
        *,
        wake: Callable[[], None],
        home: Path | None = None,
    ) -> None:
        self.job_id = job_id
        self.workspace = str(workspace)
        self.config = config
        self.home = home
        self.held: dict[int, slots.SlotSet] = {}
        self.job_slot: slots.SlotSet | None = None
        self.waiter: fairshare.Waiter | None = None
        self.waiting_for: tuple[int | None, tuple[tuple[str, int], ...]] | None = None
        self.wake = wake
        self.watch = SlotWatch(self._woken, home=home)
        # A wait looks at the slot files again only when something it depends on may have
        # changed (a file event, a slot this run let go) or its recheck time has come: the
        # run's loop asks at every pass, and most passes are about other things.
        self.changed = True
        self.look_at = 0.0  # monotonic
        self.shown: dict[int | None, str] = {}  # the wait last reported, per sheet
        self.said_own: set[str] = set()  # limits whose own-attempts wait was reported
        self.last_hold: Hold | None = None  # the current wait's words, read once
        self.last_launch = float("-inf")  # monotonic: the pressure delay spaces launches

    # --- the run's job slot ------------------------------------------------------------------

    def enter(self) -> Hold | None:
        """Take the run's ``jobs`` slot: None once held, else why the run waits."""
        if self.job_slot is not None:
            return None
        wanted = ((limits.JOBS, self.config.max_concurrent_jobs),)
        again = self._unchanged(None, wanted)
        if again is not None:
            return again
        taken = self._try(None, wanted, slots.Holder(self.job_id, self.workspace))
        if taken is None:
            return self._hold(None, wanted)
        self.job_slot = taken
        return None

    def enter_at_once(self) -> None:
        """``--no-queue``: the ``jobs`` slot now, without waiting or queueing, else raise
        :class:`JobsFullError`."""
        if self.job_slot is not None:
            return
        capacity = self.config.max_concurrent_jobs
        holder = slots.Holder(self.job_id, self.workspace)
        self.job_slot = slots.take_all([(limits.JOBS, capacity)], holder, home=self.home)
        if self.job_slot is None:
            use = slot_use.read_limit(limits.JOBS, capacity, home=self.home)
            jobs = use.holders()
            raise JobsFullError(capacity, f": held by {', '.join(jobs)}" if jobs else "")

    # --- each attempt's slots ----------------------------------------------------------------

    def admit(self, num: int, profile: str, instrument: str, model: str | None) -> Hold | None:
        """Take sheet ``num``'s slots: None once they are held, else why it waits."""
        if num in self.held:
            return None
        wanted = tuple(limits.attempt_limits(self.config, profile, model))
        again = self._unchanged(num, wanted)
        if again is not None:
            return again
        held_back = self._pressure()
        if held_back is not None:
            return held_back
        taken = self._try(num, wanted, slots.Holder(self.job_id, self.workspace, num, instrument))
        if taken is None:
            return self._hold(num, wanted)
        self.held[num] = taken
        self.last_launch = time.monotonic()
        return None

    def adopt(self, num: int, profile: str, instrument: str, model: str | None) -> bool:
        """Hold the slots of an attempt that runs already (a Slurm job a dead run of this job
        submitted): taken at once when free, never queued for, since it runs either way.
        False when a limit is full: it then runs outside the limits until it ends."""
        wanted = limits.attempt_limits(self.config, profile, model)
        holder = slots.Holder(self.job_id, self.workspace, num, instrument)
        taken = slots.take_all(wanted, holder, home=self.home)
        if taken is None:
            return False
        self.held[num] = taken
        return True

    def _pressure(self) -> Hold | None:
        """Why backpressure holds the next launch, if it does."""
        reading = pressure.check(self.config, rate_limits=ratelimits.all_records, home=self.home)
        if not reading.allows_launch:
            # Nothing may start, so no place in a slot queue either: it would hold others up.
            self.stand_down()
            text = f"held by backpressure: {reading.summary()}"
            return Hold("pressure", "pressure", text, pressure.RECHECK_SECONDS)
        left = self.last_launch + reading.delay - time.monotonic()
        if left > 0:  # a short, routine spacing: not worth a line of output
            return Hold("pressure", "delay", "", left)
        return None

    def release(self, num: int) -> None:
        """The attempt of ``num`` has ended: its slots are free for anyone from now on."""
        taken = self.held.pop(num, None)
        if taken is not None:
            taken.release()
            self.changed = True  # a wait for a limit this run fills may end now

    def release_all(self) -> None:
        """Every attempt has ended (a stop, the loop's end): free all their slots."""
        for num in list(self.held):
            self.release(num)

    @property
    def waiting(self) -> bool:
        return self.waiter is not None

    def stand_down(self, *, keep_watch: bool = False) -> None:
        """Stop waiting (pause, a halt, a stop): leave every queue, keep what is held."""
        if self.waiter is not None:
            self.waiter.leave()
        self.waiter = None
        self.waiting_for = None
        self.last_hold = None
        if not keep_watch:
            self.watch.stop()

    def close(self) -> None:
        """The run ends: nothing waits, nothing is held, the job slot goes last."""
        self.stand_down()
        self.release_all()
        if self.job_slot is not None:
            self.job_slot.release()
            self.job_slot = None

    # --- waiting -----------------------------------------------------------------------------

    def _woken(self) -> None:
        self.changed = True
        self.wake()

    def _unchanged(self, num: int | None, wanted: tuple[tuple[str, int], ...]) -> Hold | None:
        """The current wait's hold once more, when looking again could not end it yet."""
        hold = self.last_hold
        if hold is None or self.waiting_for != (num, wanted):
            return None
        for name, capacity in wanted:
            mine = sum(
                1 for taken in self.held.values() for slot in taken.slots if slot.limit == name
            )
            if mine >= capacity:  # only one of this run's own attempts ending can free it
                return records.replace(hold, recheck=QUIET_SECONDS)
        left = self.look_at - time.monotonic()
        if self.changed or left <= 0:
            return None
        return records.replace(hold, recheck=left)

    def _try(
        self, num: int | None, wanted: tuple[tuple[str, int], ...], holder: slots.Holder
    ) -> slots.SlotSet | None:
        if self.waiting_for != (num, wanted):
            self.stand_down(keep_watch=True)  # a different sheet, or other limits: a new place
            self.waiter = fairshare.Waiter(wanted, holder, home=self.home)
            self.waiting_for = (num, wanted)
        assert self.waiter is not None
        self.changed = False  # before the look: a change during it makes another one
        taken = self.waiter.try_take()
        if taken is not None:
            # The watch stays up: a run with more sheets to start waits again at once, for
            # the same folders. A launch pass that ends without a wait stops it (`settle`).
            self.waiter = None
            self.waiting_for = None
            self.shown.pop(num, None)
            self.last_hold = None
        return taken

    def _hold(self, num: int | None, wanted: tuple[tuple[str, int], ...]) -> Hold:
        """Why the wait, in the words the views use too (:func:`slot_use.wait_text`).

        Said once per wait: the holders change at every slot taken or let go, and reading
        them for words nobody prints would cost a probe of every slot at every look.
        """
        assert self.waiter is not None
        distance = self.waiter.distance
        if distance == 0:
            self.watch.follow(name for name, _ in wanted)
        elif distance > FOLLOW_BAND:
            self.watch.stop()  # far back: its turn is many slots away, no wake-up at each
        if self.waiter.missed:
            recheck = POLL_SECONDS  # its turn now: soon, whether or not an event comes
        elif self.watch.live:
            recheck = self.watch.recheck_in()
        else:  # polled: the further back, the less often (a turn is that many slots away)
            recheck = min(QUIET_SECONDS, POLL_SECONDS * max(1, distance))
        if self.last_hold is None:  # a new wait (a new waiter clears it)
            uses = [
                slot_use.read_limit(name, capacity, home=self.home) for name, capacity in wanted
            ]
            limit, text = slot_use.wait_text(uses)
            use = next(use for use in uses if use.limit == limit)
            own = use.held >= use.capacity and use.holders() == [self.job_id]
            self.last_hold = Hold("slot", limit, text, recheck, own)
        self.look_at = time.monotonic() + recheck
        return records.replace(self.last_hold, recheck=recheck)

    def settle(self) -> None:
        """A launch pass ended without waiting for a slot: slot events need not wake the run."""
        if self.waiter is None:
            self.watch.stop()

    def news(self, num: int | None, hold: Hold) -> bool:
        """Whether ``hold`` is worth a line: ``num`` starts waiting, or for another limit.

        Who holds the limit changes all the time while a sheet waits; a line for each
        change would bury the run's output, and `status` and `top` show it live. A wait
        for a limit only this run holds (its own attempts fill it, as its own
        ``max_concurrent`` would) is said once for the whole run, not for each sheet.
        """
        if not hold.text or self.shown.get(num) == hold.limit:
            return False
        if hold.own:
            if hold.limit in self.said_own:
                return False
            self.said_own.add(hold.limit)
        self.shown[num] = hold.limit
        return True
