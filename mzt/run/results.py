"""What a run was asked to do and how it ended, importable without the run loop.

Plain `Frozen` values rather than dataclasses: `mzt run` of a completed job builds
them and nothing else, and `dataclasses` would double that answer's imports.
"""

from __future__ import annotations

from pathlib import Path

from mzt.support.frozen import Frozen


class RunOptions(Frozen):
    """How `mzt run` / `mzt resume` was asked to run."""

    __slots__ = ("force", "fresh", "instrument", "resume", "start_sheet", "take_over")
    fresh: bool
    start_sheet: int | None
    instrument: str | None
    resume: bool  # `mzt resume`: only continue, never start fresh by itself
    force: bool  # `mzt resume --force`: restart a completed job
    take_over: bool  # `--take-over`: continue a run another host marked running

    def __init__(
        self,
        fresh: bool = False,
        start_sheet: int | None = None,
        instrument: str | None = None,
        resume: bool = False,
        force: bool = False,
        take_over: bool = False,
    ) -> None:
        self._set(
            fresh=fresh,
            start_sheet=start_sheet,
            instrument=instrument,
            resume=resume,
            force=force,
            take_over=take_over,
        )


class SheetFailure(Frozen):
    """Why one sheet failed, as its last error recorded it."""

    __slots__ = ("error_code", "exit_code", "instrument", "message", "sheet_num")
    sheet_num: int
    error_code: str | None
    message: str
    instrument: str | None
    exit_code: int | None  # the instrument's exit status at its last attempt

    def __init__(
        self,
        sheet_num: int,
        error_code: str | None,
        message: str,
        instrument: str | None,
        exit_code: int | None = None,
    ) -> None:
        self._set(
            sheet_num=sheet_num,
            error_code=error_code,
            message=message,
            instrument=instrument,
            exit_code=exit_code,
        )

    def to_json(self) -> dict[str, object]:
        return {
            "sheet": self.sheet_num,
            "error_code": self.error_code,
            "message": self.message,
            "instrument": self.instrument,
        }


class RunResult(Frozen):
    """How the run ended."""

    __slots__ = (
        "completed",
        "duration",
        "exit_code",
        "failed_sheets",
        "failures",
        "job_id",
        "message",
        "status",
        "stopped_sheets",
        "total",
        "workspace",
    )
    job_id: str
    status: str
    exit_code: int
    completed: int
    total: int
    failed_sheets: list[int]
    duration: float
    workspace: Path
    message: str
    failures: tuple[SheetFailure, ...]
    # Sheets whose running attempt a signal or the cancel file cut short.
    stopped_sheets: tuple[int, ...]

    def __init__(
        self,
        job_id: str,
        status: str,
        exit_code: int,
        completed: int,
        total: int,
        failed_sheets: list[int],
        duration: float,
        workspace: Path,
        message: str = "",
        failures: tuple[SheetFailure, ...] = (),
        stopped_sheets: tuple[int, ...] = (),
    ) -> None:
        self._set(
            job_id=job_id,
            status=status,
            exit_code=exit_code,
            completed=completed,
            total=total,
            failed_sheets=failed_sheets,
            duration=duration,
            workspace=workspace,
            message=message,
            failures=failures,
            stopped_sheets=stopped_sheets,
        )


NOTHING_TO_DO_MESSAGE = "already completed; nothing to do"
