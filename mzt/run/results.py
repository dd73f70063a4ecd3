"""What a run was asked to do and how it ended, importable without the run loop.

Records (`mzt.support.records`), not dataclasses: `mzt run` of a completed job builds
them and nothing else, and `dataclasses` would double that answer's imports.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mzt.support import records

if TYPE_CHECKING:
    from mzt.state import CheckpointState


@records.record(frozen=True, slots=True)
class RunOptions:
    """How `mzt run` / `mzt resume` was asked to run."""

    fresh: bool = False
    start_sheet: int | None = None
    instrument: str | None = None
    resume: bool = False  # `mzt resume`: only continue, never start fresh by itself
    force: bool = False  # `mzt resume --force`: restart a completed job
    take_over: bool = False  # `--take-over`: continue a run another host marked running
    no_queue: bool = False  # `--no-queue`: exit 75 rather than wait for a machine job slot
    executor: str | None = None  # `--executor`/MZT_EXECUTOR; None: the machine config's


@records.record(frozen=True, slots=True)
class SheetFailure:
    """Why one sheet failed, as its last error recorded it."""

    sheet_num: int
    error_code: str | None
    message: str
    instrument: str | None
    exit_code: int | None = None  # the instrument's exit status at its last attempt

    def to_json(self) -> dict[str, object]:
        return {
            "sheet": self.sheet_num,
            "error_code": self.error_code,
            "message": self.message,
            "instrument": self.instrument,
        }


@records.record(frozen=True, slots=True)
class RunResult:
    """How the run ended."""

    job_id: str
    status: str
    exit_code: int
    completed: int
    total: int
    failed_sheets: list[int]
    duration: float
    workspace: Path
    message: str = ""
    failures: tuple[SheetFailure, ...] = ()
    # Sheets whose running attempt a signal or the cancel file cut short.
    stopped_sheets: tuple[int, ...] = ()
    # The on_success hook results this run recorded (see `mzt.run.after.hooks`).
    hooks: tuple[dict[str, object], ...] = ()


NOTHING_TO_DO_MESSAGE = "already completed; nothing to do"


def result_of(
    state: CheckpointState,
    job_id: str,
    workspace: Path,
    *,
    code: int,
    message: str,
    duration: float,
    stopped: tuple[int, ...] = (),
    hooks: tuple[dict[str, object], ...] = (),
) -> RunResult:
    """How a run of ``state`` ended, with the last error of each failed sheet."""
    done, total = state.get_progress()
    failed = sorted(n for n, s in state.sheets.items() if s.status.value == "failed")
    return RunResult(
        job_id=job_id,
        status=state.status.value,
        exit_code=int(code),
        completed=done,
        total=total,
        failed_sheets=failed,
        duration=duration,
        workspace=workspace,
        message=message or (state.error_message or ""),
        failures=tuple(
            SheetFailure(
                n,
                (sheet := state.sheets[n]).error_code,
                sheet.error_message or "",
                sheet.instrument_name,
                sheet.exit_code,
            )
            for n in failed
        ),
        stopped_sheets=stopped,
        hooks=hooks,
    )
