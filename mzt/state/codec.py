"""Encoding and decoding of the store's documents: snapshot bytes, journal lines.

Everything written goes through :func:`dumps` (compact JSON, no NaN) after redaction;
everything read is parsed strictly (:func:`parse_document`) and journal lines are folded
into a snapshot by :func:`apply_journal`. The invariants they serve are described in
:mod:`mzt.state.json_store`.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from mzt.state.checkpoint import CheckpointState
from mzt.state.journal import JournalLine, read_lines
from mzt.state.migrations import upgrade
from mzt.state.models import SheetState
from mzt.state.records import utc_now
from mzt.support.errors import StateCorruptionError
from mzt.support.fsutil import read_regular_file
from mzt.support.redact import Redactor, redact_tail

JOURNAL_LINE_VERSION = 1
HISTORY_PROMPT_BYTES = 4 * 1024
HISTORY_OUTPUT_BYTES = 10 * 1024
# Fields a journal line never overwrites: they belong to the snapshot it is applied to.
BOOKKEEPING = frozenset({"sheets", "schema_version", "instance_id", "journal_offset", "seq"})
MISSING = object()


def iso(moment: datetime) -> str:
    """``2026-05-01T10:00:00.123456Z``: the form pydantic writes in the snapshot."""
    return moment.isoformat().replace("+00:00", "Z")


def head_fields(state: CheckpointState) -> dict[str, Any]:
    """Job-level fields (everything but sheets and the score snapshot) as JSON values."""
    return state.model_dump(mode="json", exclude={"sheets", "config_snapshot"})


def dumps(value: Any) -> str:
    """Compact JSON; NaN and infinities become ``null`` (other tools reject them)."""
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except ValueError:
        return json.dumps(_finite(value), ensure_ascii=False, separators=(",", ":"))


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def sheet_json(sheet: SheetState, redactor: Redactor, text: str | None = None) -> str:
    """One sheet as JSON text, redacted (re-encoded only when something may need it)."""
    text = sheet.model_dump_json() if text is None else text
    if redactor.json_might_contain(text):
        text = dumps(redactor.redact_tree(sheet.model_dump(mode="json")))
    return text


def encode_document(state: CheckpointState, head: dict[str, Any], redactor: Redactor) -> bytes:
    """The snapshot bytes: job fields, score snapshot, then every sheet; all redacted."""
    top = dict(head)
    top["config_snapshot"] = state.config_snapshot
    top_text = dumps(redactor.redact_tree(top))
    ordered = sorted(state.sheets.items())
    texts = [sheet.model_dump_json() for _, sheet in ordered]
    # One scan of everything first: usually nothing needs redacting and no sheet is
    # looked at twice.
    if redactor.json_might_contain("\n".join(texts)):
        texts = [
            sheet_json(sheet, redactor, text)
            for (_, sheet), text in zip(ordered, texts, strict=True)
        ]
    sheets = ",".join(f'"{num}":{text}' for (num, _), text in zip(ordered, texts, strict=True))
    return f'{top_text[:-1]},"sheets":{{{sheets}}}}}'.encode()


def transition_line(
    state: CheckpointState,
    sheet_nums: tuple[int, ...],
    event: str,
    delta: dict[str, Any],
    redactor: Redactor,
) -> str:
    """A journaled transition: the named sheets whole, plus the job fields in ``delta``."""
    meta = {
        "v": JOURNAL_LINE_VERSION,
        "kind": "sheet",
        "event": event or _default_event(state, sheet_nums),
        "job_id": state.job_id,
        "instance": state.instance_id,
        "seq": state.seq,
        "ts": iso(state.updated_at),
    }
    sheets = ",".join(
        f'"{n}":{sheet_json(state.sheets[n], redactor)}' for n in dict.fromkeys(sheet_nums)
    )
    job = dumps(redactor.redact_tree(delta))
    return f'{dumps(meta)[:-1]},"sheets":{{{sheets}}},"job":{job}}}'


def _default_event(state: CheckpointState, sheet_nums: tuple[int, ...]) -> str:
    if not sheet_nums:
        return "job_update"
    return f"sheet_{state.sheets[sheet_nums[0]].status.value}"


def event_line(
    state: CheckpointState,
    event: str,
    sheet_num: int | None,
    fields: dict[str, Any],
    redactor: Redactor,
) -> str:
    """A history event; it carries the ``seq`` of the state it follows."""
    record: dict[str, Any] = {
        "v": JOURNAL_LINE_VERSION,
        "kind": "event",
        "event": event,
        "job_id": state.job_id,
        "instance": state.instance_id,
        "seq": state.seq,
        "ts": iso(utc_now()),
    }
    if sheet_num is not None:
        record["sheet_num"] = sheet_num
    record.update(fields)
    return dumps(redactor.redact_tree(record))


def attempt_line(
    job_id: str,
    instance: str | None,
    seq: int | None,
    *,
    sheet_num: int,
    attempt: int,
    prompt: str | None,
    output: str | None,
    exit_code: int | None,
    duration_seconds: float | None,
    redactor: Redactor,
) -> str:
    """An attempt record: prompt head and output tail, both redacted before being cut."""
    out, out_cut = redact_tail(output, HISTORY_OUTPUT_BYTES, redactor)
    head_of_prompt = None
    if prompt is not None:
        head_of_prompt = (
            redactor.redact(prompt).encode()[:HISTORY_PROMPT_BYTES].decode("utf-8", errors="ignore")
        )
    record = {
        "v": JOURNAL_LINE_VERSION,
        "kind": "attempt",
        "event": "attempt_finished",
        "job_id": job_id,
        "instance": instance,
        "seq": seq,
        "ts": iso(utc_now()),
        "sheet_num": sheet_num,
        "attempt": attempt,
        "exit_code": exit_code,
        "duration_seconds": duration_seconds,
        "prompt": head_of_prompt,
        "output": out,
        "output_truncated": out_cut,
    }
    return dumps(redactor.redact_tree(record))


def read_state(job_id: str, path: Path, history: Path) -> CheckpointState | None:
    """Snapshot plus journal, validated; ``None`` when there is no snapshot."""
    try:
        raw = read_regular_file(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StateCorruptionError(
            job_id, str(path), "unreadable", exc.strerror or str(exc)
        ) from exc
    doc = parse_document(job_id, path, raw)
    try:
        wanted = doc.get("journal_offset", 0)
        wanted = wanted if isinstance(wanted, int) else 0
        lines, start = read_lines(history, wanted)
        apply_journal(doc, lines, strict=start == wanted)
    except OSError as exc:
        raise StateCorruptionError(
            job_id, str(history), "unreadable", exc.strerror or str(exc)
        ) from exc
    except (ValueError, TypeError, AttributeError) as exc:
        raise StateCorruptionError(job_id, str(history), "journal", str(exc)) from exc
    try:
        return CheckpointState.model_validate(doc)
    except ValidationError as exc:
        raise StateCorruptionError(job_id, str(path), "validation", summarise(exc)) from exc


def parse_document(job_id: str, path: Path, raw: bytes) -> dict[str, Any]:
    """Decode and upgrade a snapshot, or raise :class:`StateCorruptionError` saying why."""
    where = str(path)
    if not raw:
        raise StateCorruptionError(job_id, where, "empty", "the file is empty (0 bytes)")
    if not raw.strip(b"\x00"):
        raise StateCorruptionError(
            job_id, where, "nul_filled", f"the file holds only NUL bytes ({len(raw)} bytes)"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StateCorruptionError(
            job_id, where, "encoding", f"not UTF-8 at byte {exc.start}"
        ) from exc
    try:
        doc = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise StateCorruptionError(
            job_id,
            where,
            "json_decode",
            f"{exc.msg} at line {exc.lineno} column {exc.colno} (byte {exc.pos} of {len(raw)})",
        ) from exc
    except (ValueError, RecursionError) as exc:
        raise StateCorruptionError(job_id, where, "json_decode", str(exc) or "too deep") from exc
    if not isinstance(doc, dict):
        raise StateCorruptionError(
            job_id, where, "foreign", f"a JSON {type(doc).__name__}, not a checkpoint object"
        )
    found = doc.get("job_id")
    if isinstance(found, str) and found != job_id:
        raise StateCorruptionError(
            job_id, where, "foreign", f"it belongs to job '{found}', not '{job_id}'"
        )
    try:
        return upgrade(doc, job_id=job_id, path=where)
    except (ValueError, TypeError) as exc:
        raise StateCorruptionError(job_id, where, "validation", str(exc)) from exc


def apply_journal(doc: dict[str, Any], lines: list[JournalLine], *, strict: bool) -> None:
    """Fold journal ``sheet`` lines newer than the snapshot into ``doc`` (in file order).

    With ``strict`` (the lines start where the snapshot said its journal starts) a damaged
    line followed by intact ones is corruption; damaged lines at the very end are unsynced
    leftovers of a crash and are ignored, like a torn line.
    """
    instance = doc.get("instance_id")
    after_seq = doc.get("seq", 0)
    sheets = doc.setdefault("sheets", {})
    if not isinstance(after_seq, int) or instance is None or not isinstance(sheets, dict):
        return  # schema validation reports the bad snapshot; nothing to apply to it
    last_intact = max((i for i, line in enumerate(lines) if line.record is not None), default=-1)
    for line in lines[: last_intact + 1]:
        record = line.record
        if record is None:
            if strict:
                raise ValueError(f"history line at byte {line.offset} is damaged")
            continue
        if record.get("kind") != "sheet" or record.get("instance") != instance:
            continue
        seq = record.get("seq")
        if not isinstance(seq, int) or seq <= after_seq:
            continue
        job = record.get("job") or {}
        for key, value in job.items():
            if key not in BOOKKEEPING:
                doc[key] = value
        for key, sheet in record["sheets"].items():
            sheets[str(key)] = sheet
        doc["seq"] = max(seq, doc.get("seq", 0))


def mentions_sheet(record: dict[str, Any], sheet_num: int) -> bool:
    if record.get("sheet_num") == sheet_num:
        return True
    sheets = record.get("sheets")
    return isinstance(sheets, dict) and str(sheet_num) in sheets


def summarise(exc: ValidationError, limit: int = 3) -> str:
    parts = []
    for error in exc.errors()[:limit]:
        where = ".".join(str(p) for p in error["loc"]) or "(document)"
        parts.append(f"{where}: {error['msg']}")
    more = exc.error_count() - limit
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")
