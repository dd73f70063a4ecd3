"""Encoding of the store's documents: snapshot bytes and journal lines.

Everything written is compact JSON (NaN and infinities become ``null``), credential-redacted.
A snapshot holds each record's fields that differ from their defaults, with the job's own
fields first and ``sheets`` last. A transition line holds only what changed: the fields of
each sheet that differ from what was last written for it (``sheets``, a patch), sheets with
no such baseline in full (``whole``), and the job fields that changed (``job``). Reading
is :mod:`mzt.state.loader`; the invariants both serve are in :mod:`mzt.state.json_store`.
"""

from __future__ import annotations

import itertools
from array import array
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import msgspec

from mzt.state.checkpoint import BOOKKEEPING, CheckpointState, WriterInfo
from mzt.state.handles import stored_sheet
from mzt.state.lineform import LINE_VERSION, coded_sheet, micros
from mzt.state.models import SheetState
from mzt.state.records import utc_now
from mzt.state.structs import encode, field_defaults
from mzt.support.redact import Redactor, redact_tail

JOURNAL_LINE_VERSION = LINE_VERSION
HISTORY_PROMPT_BYTES = 4 * 1024
HISTORY_OUTPUT_BYTES = 10 * 1024
MISSING = object()
_DECODER = msgspec.json.Decoder()
_SCAN_SLICE = 1 << 20
_SCAN_OVERLAP = 1 << 12
_SHEET_DEFAULTS = field_defaults(SheetState)
_NO_SHEETS = b'"sheets":{}}'
# Sheets encoded at a time by a streamed snapshot: its three copies of a batch (encoded,
# keyed, joined) are what it adds to a run's memory.
_BATCH = 256
HEAD_DEFAULTS = field_defaults(CheckpointState)


def iso(moment: datetime) -> str:
    """``2026-05-01T10:00:00.123456Z``: the form timestamps take in the files."""
    return moment.isoformat().replace("+00:00", "Z")


def dumps(value: Any) -> str:
    """Compact JSON text; NaN and infinities become ``null`` (other tools reject them)."""
    return encode(value).decode()


def head_fields(state: CheckpointState) -> dict[str, Any]:
    """Job-level fields that differ from their defaults (no sheets, no score snapshot)."""
    return {
        name: value if type(value) in _PLAIN else msgspec.to_builtins(value)
        for name, default in _HEAD_FIELDS
        if not (
            (value := getattr(state, name)) == default
            and type(value) is type(default)
            and default is not MISSING
        )
    }


# Written at every transition: the fields and their defaults are looked up once, and
# values that are JSON already are taken as they are.
_PLAIN = frozenset({str, int, float, bool, type(None)})
_HEAD_FIELDS = tuple(
    (name, MISSING if (d := HEAD_DEFAULTS.get(name, MISSING)) is msgspec.NODEFAULT else d)
    for name in CheckpointState.__struct_fields__
    if name not in ("sheets", "config_snapshot")
)


def head_delta(previous: dict[str, Any], head: dict[str, Any]) -> dict[str, Any]:
    """Job fields that changed since ``previous``; a field back at its default says so."""
    delta = {
        k: v for k, v in head.items() if k not in BOOKKEEPING and previous.get(k, MISSING) != v
    }
    for key in previous.keys() - head.keys():
        if key not in BOOKKEEPING:
            delta[key] = HEAD_DEFAULTS.get(key)
    return delta


def sheet_patch(baseline: bytes, current: bytes) -> dict[str, Any]:
    """The fields of a sheet that differ between two of its encodings."""
    old: dict[str, Any] = _DECODER.decode(baseline)
    new: dict[str, Any] = _DECODER.decode(current)
    patch = {k: v for k, v in new.items() if old.get(k, MISSING) != v}
    for key in old.keys() - new.keys():
        patch[key] = _SHEET_DEFAULTS.get(key)
    return patch


def redacted(data: bytes, redactor: Redactor) -> bytes:
    """JSON bytes with every string in them redacted (the bytes themselves when clean)."""
    if might_need_redacting(data, redactor):
        data = encode(redactor.redact_tree(_DECODER.decode(data)))
    return data


def sheet_bytes(sheet: SheetState, writer: WriterInfo | None, redactor: Redactor) -> bytes:
    """One sheet as the files hold it (default fields left out), redacted."""
    stored = stored_sheet(sheet, writer)
    data = encode(stored)
    handle = stored.attempt_handle
    if not might_need_redacting(data, redactor):
        return data
    # A running sheet's handle always draws the pre-check (its ``"token":"…"`` reads like
    # an assignment), which would walk every string of the sheet. Strings are redacted one
    # by one, so the rest of the sheet, checked without the handle, and the handle's own
    # strings add up to the same answer.
    if not handle or might_need_redacting(
        encode(msgspec.structs.replace(stored, attempt_handle=None)), redactor
    ):
        return encode(redactor.redact_tree(_DECODER.decode(data)))
    clean = redactor.redact_tree(handle)
    if clean == handle:
        return data
    return encode(msgspec.structs.replace(stored, attempt_handle=clean))


def head_bytes(state: CheckpointState, redactor: Redactor) -> bytes:
    """The snapshot without its sheets (``..."sheets":{}}``), redacted."""
    return redacted(encode(msgspec.structs.replace(state, sheets={})), redactor)


def streamed_document(
    head: bytes,
    state: CheckpointState,
    known: dict[int, bytes],
    redactor: Redactor,
    starts: array[int],
) -> Iterator[bytes]:
    """The snapshot bytes of ``state``, every sheet encoded afresh, a batch at a time.

    Every sheet is checked for credentials, but those ``known`` (bytes as last written,
    redacted) holds the same bytes for. No more than a batch of sheets' encodings is held
    at once (a big job's whole would be megabytes at the moment memory peaks anyway).
    ``starts`` is filled as :class:`~mzt.state.folding.Layout` says; ``head`` is
    :func:`head_bytes`.
    """
    if not head.endswith(_NO_SHEETS):
        raise ValueError("the head of a snapshot must end with its empty sheets")
    first = head[: -len(b"}}")]
    yield first
    pos = len(first)
    writer = state.writer
    items = iter(state.sheets.items())
    while batch := list(itertools.islice(items, _BATCH)):
        encoded = [(num, encode(stored_sheet(sheet, writer))) for num, sheet in batch]
        fresh = [data for num, data in encoded if known.get(num) != data]
        if fresh and might_need_redacting(b",".join(fresh), redactor):
            encoded = [(num, redacted(data, redactor)) for num, data in encoded]
        pieces = []
        for num, data in encoded:
            if pos > len(first):
                pos += 1  # the comma before it
            starts.append(pos)
            piece = b'"%d":%s' % (num, data)
            pos += len(piece)
            pieces.append(piece)
        yield (b"," if len(starts) > len(batch) else b"") + b",".join(pieces)
    starts.append(pos + 1)
    yield b"}}"


def unwritten(
    state: CheckpointState, journaled: dict[int, bytes], held: int, redactor: Redactor
) -> dict[int, bytes]:
    """``journaled`` (sheets' bytes as journaled since the snapshot), with every sheet the
    snapshot does not hold (past its first ``held``, sheets are only ever added) that
    has not been journaled either encoded now."""
    writer = state.writer
    for num in itertools.islice(state.sheets, held, None):
        if num not in journaled:
            journaled[num] = sheet_bytes(state.sheets[num], writer, redactor)
    return journaled


def encode_document(state: CheckpointState, redactor: Redactor) -> bytes:
    """The snapshot bytes of ``state``, redacted."""
    pieces = streamed_document(head_bytes(state, redactor), state, {}, redactor, array("Q"))
    return b"".join(pieces)


def might_need_redacting(data: bytes, redactor: Redactor) -> bool:
    """The redactor's pre-check over JSON bytes, a slice at a time.

    A big job's snapshot is megabytes; checking it whole would hold two more copies of
    it (the text, and the text case-folded) at the moment memory peaks anyway. The slices
    overlap by more than any token or secret the redactor looks for is long.
    """
    size = len(data)
    step = _SCAN_SLICE
    if size <= step:  # one piece, valid UTF-8 as encoded: checked as it is
        return redactor.json_might_contain(data)
    # JSON may spell a secret's characters six bytes each (\uXXXX).
    overlap = _SCAN_OVERLAP + 6 * max((len(v) for v in redactor.literals), default=0)
    for start in range(0, max(size, 1), step):
        piece = data[max(0, start - overlap) : start + step]
        if redactor.json_might_contain(piece.decode("utf-8", errors="replace")):
            return True
    return False


def transition_line(
    state: CheckpointState,
    event: str,
    patches: dict[int, dict[str, Any]],
    whole: dict[int, bytes],
    delta: dict[str, Any],
    redactor: Redactor,
) -> str:
    """A journaled transition: sheet patches, whole sheets, and the changed job fields.

    Sheets are spelled as :mod:`mzt.state.lineform` says; both kinds come from redacted
    encodings already.
    """
    record: dict[str, Any] = {
        "v": JOURNAL_LINE_VERSION,
        "kind": "sheet",
        "event": event,
        "instance": state.instance_id,
        "seq": state.seq,
        "ts": micros(state.updated_at),
    }
    if patches:
        record["sheets"] = {str(n): coded_sheet(p) for n, p in patches.items()}
    # The line's ``ts`` is the state's ``updated_at``: readers take it from there.
    delta = {k: v for k, v in delta.items() if k != "updated_at"}
    if delta:
        record["job"] = redactor.redact_tree(delta)
    if whole:
        record["whole"] = {str(n): _numberless(data) for n, data in whole.items()}
    return dumps(record)


def _numberless(data: bytes) -> dict[str, Any]:
    """A whole sheet as a line holds it: without the number its key says."""
    fields: dict[str, Any] = _DECODER.decode(data)
    fields.pop("sheet_num", None)
    return coded_sheet(fields)


def default_event(state: CheckpointState, sheet_nums: tuple[int, ...]) -> str:
    """``sheet_<status>`` of the first sheet named, ``job_update`` for none."""
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
        "ts": micros(utc_now()),
    }
    if sheet_num is not None:
        record["sheet_num"] = sheet_num
    record.update(fields)
    return dumps(redactor.redact_tree(record))


def attempt_line(
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
    """An attempt record: prompt head and output tail, both redacted before being cut.

    It names neither job nor state instance: the file is the job's, and nothing reads an
    attempt by instance (one is written per attempt, so each key costs every sheet).
    """
    out, out_cut = redact_tail(output, HISTORY_OUTPUT_BYTES, redactor)
    head_of_prompt = None
    if prompt is not None:
        head_of_prompt = (
            redactor.redact(prompt).encode()[:HISTORY_PROMPT_BYTES].decode("utf-8", errors="ignore")
        )
    record: dict[str, Any] = {
        "v": JOURNAL_LINE_VERSION,
        "kind": "attempt",
        "event": "attempt_finished",
        "seq": seq,
        "ts": micros(utc_now()),
        "sheet_num": sheet_num,
        "attempt": attempt,
        "exit_code": exit_code,
        # Microseconds, as the sheet keeps it: longer floats only cost bytes.
        "duration_seconds": None if duration_seconds is None else round(duration_seconds, 6),
        "prompt": head_of_prompt,
    }
    # No output (and so nothing cut off) is what a reader takes a missing one for.
    if out:
        record["output"] = out
    if out_cut:
        record["output_truncated"] = True
    # Prompt and output are redacted above; the rest are ids and numbers mzt made.
    return dumps(record)
