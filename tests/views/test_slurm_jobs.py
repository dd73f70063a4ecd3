"""Which Slurm job each running attempt is: ids from the checkpoint, places from Slurm."""

from __future__ import annotations

from collections.abc import Iterable

from mzt.execute.base import AttemptHandle
from mzt.execute.slurm_cli import SlurmError
from mzt.state import CheckpointState, JobStatus, SheetState, SheetStatus
from mzt.views.slurm_jobs import SlurmJob, SlurmLookup, recorded_jobs


def handle(sheet: int, executor: str, job_id: str | None, attempt: int = 1) -> dict[str, object]:
    """The record a run journals for an attempt (a Slurm one gains its id once placed)."""
    extra = {} if job_id is None else {"job_id": job_id}
    return AttemptHandle(executor, f"t{sheet}", sheet, attempt, "login1", extra=extra).to_record()


def state() -> CheckpointState:
    made = CheckpointState(job_id="j", job_name="j", total_sheets=4, status=JobStatus.RUNNING)
    handles = {
        1: handle(1, "slurm", "812", attempt=2),
        2: handle(2, "local", None),
        3: handle(3, "slurm", None),  # submitted, its id not journaled yet
        4: handle(4, "slurm", "813"),
    }
    for num, record in handles.items():
        made.sheets[num] = SheetState(
            sheet_num=num, status=SheetStatus.IN_PROGRESS, attempt_handle=record
        )
    return made


class Slurm:
    """Answers like `squeue`, counting the questions."""

    def __init__(self, places: dict[str, tuple[str, str | None]]) -> None:
        self.places = places
        self.asked: list[list[str]] = []
        self.fails = False

    def __call__(self, ids: Iterable[str]) -> dict[str, tuple[str, str | None]]:
        self.asked.append(list(ids))
        if self.fails:
            raise SlurmError("squeue failed (exit 1): slurm_load_jobs error")
        return {i: self.places[i] for i in self.asked[-1] if i in self.places}


def test_only_slurm_handles_with_a_journaled_id_are_named() -> None:
    assert recorded_jobs(state()) == [SlurmJob(1, 2, "812"), SlurmJob(4, 1, "813")]
    assert recorded_jobs(state(), [2, 4, 9]) == [SlurmJob(4, 1, "813")]


def test_the_lookup_asks_again_when_the_ids_change_or_the_interval_passed() -> None:
    now = [0.0]
    slurm = Slurm({"812": ("RUNNING", "node07"), "813": ("PENDING", None)})
    lookup = SlurmLookup(every=2.0, clock=lambda: now[0], ask=slurm)
    first = lookup.jobs(state(), [1, 4])
    assert first == (SlurmJob(1, 2, "812", "RUNNING", "node07"), SlurmJob(4, 1, "813", "PENDING"))
    now[0] = 1.0
    slurm.places["813"] = ("RUNNING", "node08")
    assert lookup.jobs(state(), [1, 4]) == first  # within the interval: the last answer
    assert lookup.jobs(state(), [4])[0].state == "RUNNING"  # other ids: asked at once
    now[0] = 3.5
    assert lookup.jobs(state(), [4])[0].node == "node08"
    assert slurm.asked == [["812", "813"], ["813"], ["813"]]


def test_a_job_slurm_does_not_list_or_a_slurm_that_fails_leaves_the_place_unknown() -> None:
    slurm = Slurm({"812": ("RUNNING", "node07")})
    lookup = SlurmLookup(every=0.0, ask=slurm)
    assert lookup.jobs(state(), [1, 4])[1] == SlurmJob(4, 1, "813", None, None)
    slurm.fails = True
    assert lookup.jobs(state(), [1, 4]) == (SlurmJob(1, 2, "812"), SlurmJob(4, 1, "813"))


def test_no_slurm_attempt_running_asks_nothing() -> None:
    slurm = Slurm({})
    assert SlurmLookup(ask=slurm).jobs(state(), [2, 3]) == ()
    assert slurm.asked == []
