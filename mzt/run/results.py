"""What a run was asked to do and how it ended, importable without the run loop.

Records (`mzt.support.records`), not dataclasses: `mzt run` of a completed job builds
them and nothing else, and `dataclasses` would double that answer's imports.
"""

from __future__ import annotations

from pathlib import Path

from mzt.support import records


@records.record(frozen=True, slots=True)
class RunOptions:
    """How `mzt run` / `mzt resume` was asked to run."""

    fresh: bool = False
    start_sheet: int | None = None
    instrument: str | None = None
    resume: bool = False  # `mzt resume`: only continue, never start fresh by itself
    force: bool = False  # `mzt resume --force`: restart a completed job
    take_over: bool = False  # `--take-over`: continue a run another host marked running


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
