"""A job's head — status, score hash, sheet counts — read without building the state model.

`mzt run` of a job that already completed must answer in a few milliseconds (cron runs
it again and again), so it asks `read_head` first. The head is the snapshot's job fields
plus the sheet statuses, with newer journal transitions folded in as the store's loader
folds them (:mod:`mzt.state.json_store` describes the files).

`read_head` answers only for a document it fully understands: the current schema, the
expected job, well-typed fields, sheets filed under their own numbers, no damaged line
before a transition. Anything else returns ``None`` and the caller takes the full path,
whose validating loader stays the only judge of damaged files (exit 5). This module is
the one place that knows the file format for that shortcut; keep it that small.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mzt.state.statuses import JobStatus, SheetStatus
from mzt.support import paths

SCHEMA_VERSION = 1  # CheckpointState.schema_version; another version takes the full path
MAX_HEAD_BYTES = 64 << 20  # bigger checkpoints are read by the loader
_JOB_STATUSES = frozenset(s.value for s in JobStatus)
_SHEET_STATUSES = frozenset(s.value for s in SheetStatus)
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


@dataclass(frozen=True, slots=True)
class Head:
    """What a job's checkpoint says about the job as a whole."""

    job_id: str
    status: str
    score_hash: str | None  # SHA-256 of the score file's bytes (see CheckpointState)
    config_path: str | None
    total_sheets: int
    completed_sheets: int
    failed_sheets: tuple[int, ...]
    error_message: str | None


class _Irregular(Exception):
    """Not exactly the expected format: let the full path decide."""


def read_head(workspace: Path, job_id: str) -> Head | None:
    """The head of ``job_id``'s checkpoint in ``workspace``; None when it is not plain."""
    try:
        raw = _read(paths.state_file(workspace, job_id))
        job = _job_fields(_loads(raw), job_id)
        sheets = _sheet_statuses(job.pop("sheets"))
        _fold_journal(paths.history_file(workspace, job_id), job, sheets)
    except (OSError, ValueError, RecursionError, _Irregular):
        return None
    return Head(
        job_id=job_id,
        status=job["status"],
        score_hash=job["config_file_hash"],
        config_path=job["config_path"],
        total_sheets=job["total_sheets"],
        completed_sheets=sum(1 for s in sheets.values() if s == SheetStatus.COMPLETED),
        failed_sheets=tuple(sorted(n for n, s in sheets.items() if s == SheetStatus.FAILED)),
        error_message=job["error_message"],
    )


def _read(path: Path) -> bytes:
    fd = os.open(path, _READ_FLAGS)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_HEAD_BYTES:
            raise _Irregular("not a plain checkpoint file")
        chunks = []
        while chunk := os.read(fd, 1 << 22):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _loads(raw: bytes) -> Any:
    # As strict as the store's loader: UTF-8 only, and no NaN or Infinity.
    return json.loads(raw.decode("utf-8"), parse_constant=_reject)


def _reject(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _optional_str(value: Any) -> bool:
    return value is None or isinstance(value, str)


def _job_fields(data: Any, job_id: str) -> dict[str, Any]:
    if not isinstance(data, dict) or data.get("schema_version") != SCHEMA_VERSION:
        raise _Irregular("another format")
    if data.get("job_id") != job_id or data.get("status") not in _JOB_STATUSES:
        raise _Irregular("another job, or an unknown status")
    if not all(_is_int(data.get(k)) for k in ("seq", "total_sheets", "journal_offset")):
        raise _Irregular("counters are not numbers")
    if not isinstance(data.get("instance_id"), str) or not isinstance(data.get("sheets"), dict):
        raise _Irregular("no instance id or no sheets")
    job = {k: data.get(k) for k in _JOB_KEYS}
    job["sheets"] = data["sheets"]
    _check_job(job)
    return job


_JOB_KEYS = (
    "seq",
    "instance_id",
    "journal_offset",
    "status",
    "total_sheets",
    "config_file_hash",
    "config_path",
    "error_message",
)


def _check_job(job: dict[str, Any]) -> None:
    for key in ("config_file_hash", "config_path", "error_message"):
        if not _optional_str(job[key]):
            raise _Irregular(f"{key} is not text")


def _sheet_statuses(sheets: Any) -> dict[int, str]:
    found: dict[int, str] = {}
    if not isinstance(sheets, dict):
        raise _Irregular("sheets is not a mapping")
    for key, sheet in sheets.items():
        if not isinstance(sheet, dict) or not key.isdigit():
            raise _Irregular("a sheet is not an object under its number")
        num = sheet.get("sheet_num")
        if not _is_int(num) or str(num) != key or sheet.get("status") not in _SHEET_STATUSES:
            raise _Irregular("a sheet is filed under another number or has no status")
        found[num] = sheet["status"]
    return found


def _fold_journal(history: Path, job: dict[str, Any], sheets: dict[int, str]) -> None:
    """Apply the transitions newer than the snapshot, as the store's loader does."""
    try:
        fd = os.open(history, _READ_FLAGS)
    except FileNotFoundError:
        return
    try:
        size = os.fstat(fd).st_size
        offset = job["journal_offset"]
        if offset > size or (offset > 0 and os.pread(fd, 1, offset - 1) != b"\n"):
            offset = 0  # not the start of a line: the store reads from the beginning too
        data = os.pread(fd, size - offset, offset) if size > offset else b""
    finally:
        os.close(fd)
    damaged = False
    for line in data.split(b"\n")[:-1]:  # the last piece is empty or a torn line
        try:
            record = _loads(line)
        except ValueError:
            damaged = True
            continue
        if damaged:
            # Damage followed by intact lines may be corruption: the loader judges it.
            raise _Irregular("a damaged journal line before an intact one")
        if isinstance(record, dict) and record.get("kind") == "sheet":
            _apply(record, job, sheets)


def _apply(record: dict[str, Any], job: dict[str, Any], sheets: dict[int, str]) -> None:
    seq = record.get("seq")
    if record.get("instance") != job["instance_id"] or not _is_int(seq) or seq <= job["seq"]:
        return  # an older transition, or one of an earlier instance of the job
    changes, changed = record.get("job") or {}, record.get("sheets")
    if not isinstance(changes, dict) or not isinstance(changed, dict):
        raise _Irregular("a transition without sheets")
    sheets.update(_sheet_statuses(changed))
    for key in _JOB_KEYS:
        if key in changes and key not in ("seq", "instance_id", "journal_offset"):
            job[key] = changes[key]
    job["seq"] = seq
    if job["status"] not in _JOB_STATUSES or not _is_int(job["total_sheets"]):
        raise _Irregular("an unknown status in the journal")
    _check_job(job)
