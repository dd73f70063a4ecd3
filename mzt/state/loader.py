"""Reading a job's state: the snapshot decoded and validated, the journal folded in.

This is the only reader of the checkpoint format. The runner, `resume` and every view
(`status`, `list`, `watch`, `diagnose`...) get their state from :func:`read_state`, so
nothing ever shows a state this loader would refuse. Reading takes no lock and writes
nothing: the snapshot is replaced atomically and the journal is append-only.

A snapshot of the current format is decoded straight into the models (strict: types,
bounds, no unknown keys), without building an intermediate tree; an older one goes
through :mod:`mzt.state.migrations` first.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec

from mzt.state.checkpoint import BOOKKEEPING, CURRENT_SCHEMA_VERSION, CheckpointState
from mzt.state.handles import complete_handle
from mzt.state.implied import implied_fields
from mzt.state.journal import JournalLine, read_lines_to
from mzt.state.lineform import LINE_VERSION, readable
from mzt.state.migrations import schema_version_of, upgrade
from mzt.state.models import SheetState
from mzt.state.structs import encode
from mzt.support.errors import StateCorruptionError
from mzt.support.fsutil import read_regular_file

# Versions whose documents decode as they are (version 1 only wrote every default).
_DIRECT = frozenset({1, CURRENT_SCHEMA_VERSION})
_STATE = msgspec.json.Decoder(CheckpointState)
_SHEET = msgspec.json.Decoder(SheetState)
_ANY = msgspec.json.Decoder()


class _Probe(msgspec.Struct):
    """The two keys looked at before choosing how to decode a snapshot."""

    schema_version: Any = 0
    job_id: Any = None


_PROBE = msgspec.json.Decoder(_Probe)


def read_state(job_id: str, path: Path, history: Path) -> CheckpointState | None:
    """Snapshot plus journal, validated; ``None`` when there is no snapshot."""
    found = read_state_to(job_id, path, history)
    return None if found is None else found[0]


def read_state_to(job_id: str, path: Path, history: Path) -> tuple[CheckpointState, int] | None:
    """:func:`read_state`, plus where the journal was read up to (for following it)."""
    state = read_snapshot(job_id, path)
    if state is None:
        return None
    try:
        lines, start, end = read_lines_to(history, state.journal_offset)
    except OSError as exc:
        raise StateCorruptionError(
            job_id, str(history), "unreadable", exc.strerror or str(exc)
        ) from exc
    apply_journal(state, lines, strict=start == state.journal_offset, where=str(history))
    return state, end


def read_snapshot(job_id: str, path: Path) -> CheckpointState | None:
    """The snapshot alone, validated; ``None`` when there is none."""
    try:
        raw = read_regular_file(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StateCorruptionError(
            job_id, str(path), "unreadable", exc.strerror or str(exc)
        ) from exc
    return decode_document(job_id, path, raw)


def decode_document(job_id: str, path: Path, raw: bytes) -> CheckpointState:
    """Decode, upgrade and validate a snapshot, or raise :class:`StateCorruptionError`."""
    where = str(path)
    try:
        # The common case first: a current document of this job, decoded in one pass.
        # msgspec refuses any byte that is not UTF-8 (strictly: no surrogates, nothing
        # overlong), so a document it decodes needs no check of its own; checking would
        # cost a copy of the whole text.
        state = _STATE.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        pass
    else:
        if state.schema_version in _DIRECT and state.job_id == job_id:
            state.schema_version = CURRENT_SCHEMA_VERSION
            return _complete(state)
    if not raw:
        raise StateCorruptionError(job_id, where, "empty", "the file is empty (0 bytes)")
    if not raw.strip(b"\x00"):
        raise StateCorruptionError(
            job_id, where, "nul_filled", f"the file holds only NUL bytes ({len(raw)} bytes)"
        )
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StateCorruptionError(
            job_id, where, "encoding", f"not UTF-8 at byte {exc.start}"
        ) from exc
    try:
        probe = _PROBE.decode(raw)
    except msgspec.ValidationError as exc:
        _check_syntax(job_id, where, raw)
        raise StateCorruptionError(
            job_id, where, "foreign", f"not a checkpoint object ({exc})"
        ) from exc
    except (msgspec.DecodeError, RecursionError) as exc:
        raise StateCorruptionError(
            job_id, where, "json_decode", f"{exc} ({len(raw)} bytes)"
        ) from exc
    if isinstance(probe.job_id, str) and probe.job_id != job_id:
        raise StateCorruptionError(
            job_id, where, "foreign", f"it belongs to job '{probe.job_id}', not '{job_id}'"
        )
    try:
        version = schema_version_of({"schema_version": probe.schema_version})
        if version in _DIRECT:
            state = _STATE.decode(raw)
        else:
            doc = upgrade(_ANY.decode(raw), job_id=job_id, path=where)
            state = _STATE.decode(encode(doc))
    except msgspec.ValidationError as exc:
        _check_syntax(job_id, where, raw)
        raise StateCorruptionError(job_id, where, "validation", str(exc)) from exc
    except (msgspec.DecodeError, RecursionError) as exc:
        raise StateCorruptionError(
            job_id, where, "json_decode", f"{exc} ({len(raw)} bytes)"
        ) from exc
    except (ValueError, TypeError) as exc:
        raise StateCorruptionError(job_id, where, "validation", str(exc)) from exc
    state.schema_version = CURRENT_SCHEMA_VERSION
    return _complete(state)


def _complete(state: CheckpointState) -> CheckpointState:
    """Sheets as they were in memory: stored attempt handles made whole again."""
    for sheet in state.sheets.values():
        if sheet.attempt_handle:
            complete_handle(sheet, state.writer)
    return state


def _check_syntax(job_id: str, where: str, raw: bytes) -> None:
    """Tell a document that is not plain JSON (too deep, a number too big) from a wrong one."""
    import json  # only for a document already refused: reading a good one never needs it

    try:
        json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise StateCorruptionError(
            job_id, where, "json_decode", f"{str(exc) or 'too deep'} ({len(raw)} bytes)"
        ) from exc


def apply_journal(
    state: CheckpointState, lines: list[JournalLine], *, strict: bool, where: str
) -> None:
    """Fold journal ``sheet`` lines newer than the snapshot into ``state`` (in file order).

    With ``strict`` (the lines start where the snapshot said its journal starts) a damaged
    line followed by intact ones is corruption; damaged lines at the very end are unsynced
    leftovers of a crash and are ignored, like a torn line.
    """
    last_intact = max((i for i, line in enumerate(lines) if line.record is not None), default=-1)
    head: dict[str, Any] = {}
    for line in lines[: last_intact + 1]:
        record = line.record
        if record is None:
            if strict:
                raise StateCorruptionError(
                    state.job_id, where, "journal", f"history line at byte {line.offset} is damaged"
                )
            continue
        try:
            apply_record(state, record, head)
        except (msgspec.ValidationError, ValueError, TypeError, AttributeError) as exc:
            raise StateCorruptionError(
                state.job_id, where, "journal", f"history line at byte {line.offset}: {exc}"
            ) from exc
    if head:
        try:
            settle_head(state, head)
        except (msgspec.ValidationError, ValueError, TypeError) as exc:
            raise StateCorruptionError(state.job_id, where, "journal", str(exc)) from exc


def apply_record(
    state: CheckpointState, record: dict[str, Any], head: dict[str, Any]
) -> str | None:
    """Apply one transition to the sheets; its job fields are gathered into ``head``.

    Returns the event name, or ``None`` when the record is not a transition newer than
    ``state`` (an event, an attempt, a line of an earlier state). The gathered job fields
    take effect through :func:`settle_head`.
    """
    if record.get("kind") != "sheet" or record.get("instance") != state.instance_id:
        return None
    seq = record.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq <= state.seq:
        return None
    version = record.get("v", 1)
    record = readable(record)
    patch_mode = version != 1  # version 1 lines carried whole sheets
    touched: list[int] = []
    for part, patching in (("sheets", patch_mode), ("whole", False)):
        entries = record.get(part) or {}
        if not isinstance(entries, dict):
            raise TypeError(f"'{part}' is not an object")
        for key, data in entries.items():
            touched.append(int(key))
            _apply_sheet(state, touched[-1], data, patch=patching)
    if isinstance(version, int) and version >= LINE_VERSION:
        statuses = [(num, state.sheets[num].status) for num in touched]
        head.update(implied_fields(lambda name: _current(state, head, name), statuses))
    job = record.get("job") or {}
    if not isinstance(job, dict):
        raise TypeError("'job' is not an object")
    if patch_mode and "ts" in record:
        head["updated_at"] = record["ts"]  # a line's ts is the state's updated_at
    for key, value in job.items():
        if key not in BOOKKEEPING:
            head[key] = value
    state.seq = seq
    event = record.get("event")
    return event if isinstance(event, str) else ""


def _current(state: CheckpointState, head: dict[str, Any], name: str) -> Any:
    """A job field as the lines so far left it (gathered, or still the snapshot's)."""
    return head[name] if name in head else msgspec.to_builtins(getattr(state, name))


def _apply_sheet(state: CheckpointState, num: int, data: Any, *, patch: bool) -> None:
    if not isinstance(data, dict):
        raise TypeError(f"sheet {num} is not an object")
    current = state.sheets.get(num)
    if patch and current is not None:
        merged = msgspec.to_builtins(current)
        merged.update(data)
    else:
        merged = data
    sheet = _SHEET.decode(encode(merged))
    if sheet.sheet_num != num:
        raise ValueError(f"sheet {sheet.sheet_num} is stored under number {num}")
    # The lines after a snapshot are its writer's: their handles leave out what it says.
    complete_handle(sheet, state.writer)
    state.sheets[num] = sheet


def settle_head(state: CheckpointState, head: dict[str, Any]) -> None:
    """Give ``state`` the job fields gathered from journal lines, validated as a whole."""
    merged = {
        name: msgspec.to_builtins(getattr(state, name))
        for name in state.__struct_fields__
        if name != "sheets"
    }
    merged.update(head)
    checked = _STATE.decode(encode(merged))
    for name in state.__struct_fields__:
        if name not in BOOKKEEPING:
            setattr(state, name, getattr(checked, name))
    head.clear()
