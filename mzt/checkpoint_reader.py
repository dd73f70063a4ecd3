"""Reading a job's checkpoint fast, straight from its bytes, for the status views.

Every answer comes from the checkpoint snapshot ``<job>.json`` and the history journal
``<job>.history.jsonl``. Reading takes no lock and writes nothing: the snapshot is
replaced atomically and the journal is append-only, so whatever is read is a whole state.

Reading is built to stay fast on big jobs and long registries:

* the snapshot is written with ``sheets`` as its last key, so the job-level fields (the
  *head*) are parsed alone, without the sheets;
* a *light* read (``list``, ``watch``) takes from each sheet only its number, status and
  start time, with one regular-expression pass over the bytes;
* a *full* read (``status``) takes the fields status shows from fixed places of each
  sheet's JSON (the store writes them in the model's field order), and decodes a sheet
  whole only when it has error or fallback records;
* journal lines newer than the snapshot are folded in, as the store's own loader does.

Whenever the bytes do not look exactly as expected (an older document format, a damaged
file, anything irregular), the reader falls back to the store's validating loader
(:func:`mzt.state.codec.read_state`), which either explains the damage with a
:class:`~mzt.support.errors.StateCorruptionError` (exit 5; the file is never touched) or returns a
valid state that is then shown the same way. So the fast path only ever trades speed for
nothing; it never shows something the loader would reject as a good state.
"""

from __future__ import annotations

import functools
import json
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NamedTuple

from mzt.state import registry
from mzt.state.statuses import JobStatus, SheetStatus
from mzt.support import paths
from mzt.support.errors import JobNotFoundError

JOB_STATUSES = tuple(status.value for status in JobStatus)
SHEET_STATUSES = frozenset(status.value for status in SheetStatus)
_STATUS_TEXT = {status.encode(): status for status in SHEET_STATUSES}
_QUOTE = ord('"')
ACTIVE_SHEET = frozenset({"dispatched", "in_progress"})
BLOCKED_CODE = "E999"  # a skip with this code was blocked by a failed dependency

ReadMode = Literal["light", "full"]

# --- raw JSON pieces, as bytes patterns --------------------------------------------------------

_STR = rb'"[^"\\]*+(?:\\.[^"\\]*+)*+"'
_OSTR = rb"(?:null|" + _STR + rb")"
_OINT = rb"(?:null|-?\d+)"
_NUM = rb"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"
_ONUM = rb"(?:null|" + _NUM + rb")"
_OBOOL = rb"(?:null|true|false)"
_STRLIST = rb"\[(?:" + _STR + rb"(?:," + _STR + rb")*+)?\]"
_STRINTS = rb"\{(?:" + _STR + rb":-?\d+(?:," + _STR + rb":-?\d+)*+)?\}"

# Where a sheet's object starts, with its first fields. The literal start keeps the scan
# fast; the key in front of it (``"<n>":``) is checked separately.
_SHEET_START = re.compile(
    rb'\{"sheet_num":(\d+),"status":"([a-z_]+)","started_at":(' + _OSTR + rb")"
)
# The scalar fields that follow, in the order the store writes them.
_SHEET_HEAD_PATTERN = (
    rb',"completed_at":('
    + _OSTR
    + rb'),"attempt_count":(\d+),"exit_code":'
    + _OINT
    + rb',"exit_signal":'
    + _OINT
    + rb',"exit_reason":'
    + _OSTR
    + rb',"execution_duration_seconds":('
    + _ONUM
    + rb'),"error_message":('
    + _OSTR
    + rb'),"error_category":('
    + _OSTR
    + rb'),"error_code":('
    + _OSTR
    + rb'),"validation_passed":('
    + _OBOOL
    + rb'),"validation_details":'
)
_SHEET_MIDDLE_PATTERN = (
    rb',"instrument_name":('
    + _OSTR
    + rb'),"instrument_model":('
    + _OSTR
    + rb'),"movement":('
    + _OINT
    + rb'),"voice":('
    + _OINT
    + rb'),"completion_attempts":(\d+),"passed_validations":('
    + _STRLIST
    + rb'),"failed_validations":('
    + _STRLIST
    + rb'),"last_pass_percentage":('
    + _ONUM
    + rb'),"execution_mode":'
)
# Whether the sheet has error or fallback records (``[]`` means none).
_INSTRUMENT_KEY = b',"instrument_name":'
_ERRORS_KEY = b',"error_history":'
_NO_RECORDS = b',"error_history":[],"instrument_fallback_history":[]'
_TAIL_KEY = b',"fire_at":'
_SHEET_TAIL_PATTERN = (
    rb',"fire_at":('
    + _OSTR
    + rb'),"rate_limit_expires_at":('
    + _OSTR
    + rb'),"normal_attempts":\d+,"max_retries":\d+,"max_completion":\d+,"total_cost_usd":('
    + _NUM
    + rb'),"total_duration_seconds":('
    + _NUM
    + rb'),"model":'
    + _OSTR
    + rb',"fallback_chain":('
    + _STRLIST
    + rb'),"current_instrument_index":\d+,"fallback_attempts":'
    + _STRINTS
    + rb',"sheet_timeout_seconds":'
    + _ONUM
    + rb',"input_tokens":('
    + _OINT
    + rb'),"output_tokens":('
    + _OINT
    + rb'),"estimated_cost":('
    + _ONUM
    + rb'),"cost_confidence":'
    + _ONUM
    + rb',"agent_feedback":'
)


@functools.cache
def _full_patterns() -> tuple[re.Pattern[bytes], re.Pattern[bytes], re.Pattern[bytes]]:
    """The patterns of a full read, compiled on first use (light reads never need them)."""
    return (
        re.compile(_SHEET_START.pattern + _SHEET_HEAD_PATTERN),
        re.compile(_SHEET_MIDDLE_PATTERN),
        re.compile(_SHEET_TAIL_PATTERN),
    )


_SHEETS_KEY = b',"sheets":{'
# A journaled transition line starts with these fields, in this order (see the codec).
_LINE_META = re.compile(
    rb'\{"v":\d+,"kind":"sheet","event":('
    + _STR
    + rb'),"job_id":'
    + _STR
    + rb',"instance":('
    + _STR
    + rb'),"seq":(\d+),"ts":'
    + _STR
    + rb',"sheets":\{'
)
_JOB_KEY = b'},"job":'
# Job fields a journal line never overwrites (they belong to the snapshot).
_BOOKKEEPING = frozenset({"sheets", "schema_version", "instance_id", "journal_offset", "seq"})
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
_CURRENT_SCHEMA = 1


class Irregular(Exception):
    """The bytes are not in the shape the fast reader expects: use the validating loader."""


# --- where jobs are ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JobRef:
    """A job in a workspace, and the score it was registered with (if known)."""

    job_id: str
    workspace: Path
    score_path: Path | None = None
    registered_at: str = ""

    @property
    def state_path(self) -> Path:
        return paths.state_file(self.workspace, self.job_id)

    @property
    def history_path(self) -> Path:
        return paths.history_file(self.workspace, self.job_id)

    @property
    def lock_path(self) -> Path:
        return paths.lock_file(self.workspace, self.job_id)


def registered_jobs(home: Path | None = None) -> list[JobRef]:
    """Every readable registry record whose workspace still exists, newest first."""
    found = {
        (r.job_id, r.workspace): JobRef(r.job_id, r.workspace, r.score_path, r.registered_at)
        for r in registry.list_records(home=home)
    }
    return sorted(found.values(), key=lambda r: r.registered_at, reverse=True)


# --- what one sheet looks like -----------------------------------------------------------------


class SheetDigest(NamedTuple):
    """The fields of one sheet that status views show (a light read fills the first three).

    A named tuple rather than a dataclass: a full read of a 10,000-sheet job makes 10,000
    of them, and a tuple is several times cheaper to build.
    """

    num: int
    status: str
    started_at: str | None = None
    completed_at: str | None = None
    attempt_count: int = 0
    duration_seconds: float | None = None
    error_message: str | None = None
    error_category: str | None = None
    error_code: str | None = None
    validation_passed: bool | None = None
    instrument_name: str | None = None
    instrument_model: str | None = None
    movement: int | None = None
    voice: int | None = None
    completion_attempts: int = 0
    validations_passed: int = 0
    validations_failed: int = 0
    last_pass_percentage: float | None = None
    total_cost_usd: float = 0.0
    total_duration_seconds: float = 0.0
    estimated_cost: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    fire_at: str | None = None
    rate_limit_expires_at: str | None = None
    fallback_chain: tuple[str, ...] = ()
    errors: tuple[dict[str, Any], ...] = ()
    fallbacks: tuple[dict[str, Any], ...] = ()

    @classmethod
    def from_json(cls, data: Any) -> SheetDigest:
        """From a sheet's JSON object as the checkpoint stores it (``SheetState``)."""
        if not isinstance(data, dict):
            raise Irregular("a sheet is not an object")
        num, status = data.get("sheet_num"), data.get("status")
        if not isinstance(num, int) or status not in SHEET_STATUSES:
            raise Irregular("a sheet has no number or an unknown status")
        passed = data.get("passed_validations") or []
        failed = data.get("failed_validations") or []
        return cls(
            num=num,
            status=status,
            started_at=_opt(data.get("started_at"), str),
            completed_at=_opt(data.get("completed_at"), str),
            attempt_count=_int(data.get("attempt_count")),
            duration_seconds=_float(data.get("execution_duration_seconds")),
            error_message=_opt(data.get("error_message"), str),
            error_category=_opt(data.get("error_category"), str),
            error_code=_opt(data.get("error_code"), str),
            validation_passed=_opt(data.get("validation_passed"), bool),
            instrument_name=_opt(data.get("instrument_name"), str),
            instrument_model=_opt(data.get("instrument_model"), str),
            movement=_opt(data.get("movement"), int),
            voice=_opt(data.get("voice"), int),
            completion_attempts=_int(data.get("completion_attempts")),
            validations_passed=len(passed) if isinstance(passed, list) else 0,
            validations_failed=len(failed) if isinstance(failed, list) else 0,
            last_pass_percentage=_float(data.get("last_pass_percentage")),
            total_cost_usd=_float(data.get("total_cost_usd")) or 0.0,
            total_duration_seconds=_float(data.get("total_duration_seconds")) or 0.0,
            estimated_cost=_float(data.get("estimated_cost")),
            input_tokens=_opt(data.get("input_tokens"), int),
            output_tokens=_opt(data.get("output_tokens"), int),
            fire_at=_opt(data.get("fire_at"), str),
            rate_limit_expires_at=_opt(data.get("rate_limit_expires_at"), str),
            fallback_chain=tuple(str(x) for x in data.get("fallback_chain") or ()),
            errors=tuple(e for e in data.get("error_history") or () if isinstance(e, dict)),
            fallbacks=tuple(
                f for f in data.get("instrument_fallback_history") or () if isinstance(f, dict)
            ),
        )

    @property
    def pass_rate(self) -> float | None:
        """Share of validations that passed in the last check, 0–100 (``None``: none ran)."""
        if self.last_pass_percentage is not None:
            return self.last_pass_percentage
        total = self.validations_passed + self.validations_failed
        if total:
            return self.validations_passed / total * 100
        if self.validation_passed is not None:
            return 100.0 if self.validation_passed else 0.0
        return None

    @property
    def blocked(self) -> bool:
        """Skipped because a dependency failed (a resume runs it again)."""
        return self.status == "skipped" and self.error_code == BLOCKED_CODE


def _opt(value: Any, kind: type) -> Any:
    if value is None:
        return None
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        return None
    if kind is not int and not isinstance(value, kind):
        return None
    return value


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _text(raw: bytes) -> str | None:
    """A captured JSON string (or ``null``) as text."""
    if raw == b"null":
        return None
    if b"\\" not in raw:
        return raw[1:-1].decode("utf-8", errors="replace")
    return json.loads(raw)


# --- reading one checkpoint ------------------------------------------------------------------


@dataclass
class Checkpoint:
    """A job's state as read now: job fields (journal folded in) and sheet digests."""

    ref: JobRef
    head: dict[str, Any]
    sheets: dict[int, SheetDigest]
    reader: str  # "fast" or "loader" (the validating fallback)
    journal_end: int = 0  # where the journal was read up to

    @property
    def status(self) -> str:
        return str(self.head.get("status"))

    @property
    def total(self) -> int:
        return _int(self.head.get("total_sheets"))

    def count(self, *statuses: str) -> int:
        return sum(1 for s in self.sheets.values() if s.status in statuses)

    @property
    def completed(self) -> int:
        return self.count("completed")

    @property
    def running_sheets(self) -> list[int]:
        return sorted(n for n, s in self.sheets.items() if s.status in ACTIVE_SHEET)


def read_checkpoint(ref: JobRef, mode: ReadMode = "full") -> Checkpoint:
    """Read ``ref``'s snapshot and journal without a lock and without writing anything.

    Raises :class:`~mzt.support.errors.JobNotFoundError` when the job has no checkpoint and
    :class:`~mzt.support.errors.StateCorruptionError` when it cannot be used.
    """
    try:
        raw = _read_file(ref.state_path)
    except FileNotFoundError:
        raise JobNotFoundError(ref.job_id, [str(ref.state_path)]) from None
    except OSError:
        return read_with_loader(ref)  # it names the reason (a folder, a fifo, permissions)
    try:
        head, sheets = parse_snapshot(raw, ref.job_id, mode)
        end = fold_journal(ref.history_path, head, sheets, mode)
    except Irregular:
        return read_with_loader(ref)
    return Checkpoint(ref, head, sheets, "fast", end)


def read_with_loader(ref: JobRef) -> Checkpoint:
    """Read through the store's validating loader (slow on big jobs, but exact)."""
    from mzt.state.codec import read_state

    state = read_state(ref.job_id, ref.state_path, ref.history_path)
    if state is None:
        raise JobNotFoundError(ref.job_id, [str(ref.state_path)])
    head = state.model_dump(mode="json", exclude={"sheets"})
    sheets = {n: SheetDigest.from_json(s.model_dump(mode="json")) for n, s in state.sheets.items()}
    return Checkpoint(ref, head, sheets, "loader", file_size(ref.history_path))


def _read_file(path: Path) -> bytes:
    fd = os.open(path, _READ_FLAGS)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path} is not a regular file")
        chunks = []
        while chunk := os.read(fd, 1 << 22):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def file_size(path: Path) -> int:
    """The file's size in bytes (0 when it cannot be read)."""
    try:
        return path.stat().st_size
    except OSError:
        return 0


def parse_head(raw: bytes, job_id: str) -> tuple[dict[str, Any], int]:
    """The snapshot's job fields and the offset where its ``sheets`` object starts.

    Raises :class:`Irregular` for anything but a current-format snapshot of ``job_id``.
    """
    if not raw.endswith(b"}}"):
        raise Irregular("the snapshot does not end like a checkpoint (truncated?)")
    at = raw.find(_SHEETS_KEY)
    while at >= 0:
        # A score snapshot may hold a "sheets" key too: the right split is the one whose
        # prefix is a whole object (nested ones leave braces open).
        try:
            head = json.loads(raw[:at] + b"}")
        except (ValueError, RecursionError):
            at = raw.find(_SHEETS_KEY, at + 1)
            continue
        if not isinstance(head, dict):
            break
        _check_head(head, job_id)
        return head, at + len(_SHEETS_KEY)
    raise Irregular("no job fields before the sheets")


def _check_head(head: dict[str, Any], job_id: str) -> None:
    if head.get("schema_version") != _CURRENT_SCHEMA or head.get("job_id") != job_id:
        raise Irregular("another format or another job")
    if head.get("status") not in JOB_STATUSES:
        raise Irregular("unknown job status")
    for key in ("seq", "total_sheets", "journal_offset"):
        if not isinstance(head.get(key), int) or isinstance(head.get(key), bool):
            raise Irregular(f"{key} is not a number")
    if not isinstance(head.get("instance_id"), str):
        raise Irregular("no instance id")


def parse_snapshot(
    raw: bytes, job_id: str, mode: ReadMode
) -> tuple[dict[str, Any], dict[int, SheetDigest]]:
    """Job fields and sheet digests of a snapshot (raises :class:`Irregular`)."""
    head, start = parse_head(raw, job_id)
    end = len(raw) - 2  # the sheets object's closing brace, then the document's
    if start == end:
        return head, {}  # "sheets":{}
    pattern = _SHEET_START if mode == "light" else _full_patterns()[0]
    starts = _sheet_starts(raw, start, end, first=start, pattern=pattern)
    if not starts:
        raise Irregular("the sheets object does not start with a sheet")
    _check_last(raw, starts[-1][1], end)
    if mode == "light":
        text, names = _text, _STATUS_TEXT
        sheets = {num: SheetDigest(num, names[m[2]], text(m[3])) for num, m in starts}
    else:
        sheets = _full_sheets(raw, starts, end)
    return head, sheets


def _sheet_starts(
    raw: bytes,
    begin: int,
    end: int,
    *,
    first: int | None = None,
    pattern: re.Pattern[bytes] = _SHEET_START,
) -> list[tuple[int, re.Match[bytes]]]:
    """The sheets of a ``sheets`` object spanning ``raw[begin:end]``, checked for tiling.

    The store writes sheets in ascending order, each right after the previous one and
    under its own number; anything else (a sheet-like object nested inside a sheet, a
    truncated last sheet) is irregular. ``first`` is where the first key must start.
    Returns ``(sheet number, match)`` pairs.
    """
    found: list[tuple[int, re.Match[bytes]]] = []
    previous = 0
    for m in pattern.finditer(raw, begin, end):
        digits, status = m.group(1, 2)
        start = m.start()
        at = start - len(digits) - 3  # where the key ``"<n>":`` starts
        num = int(digits)
        if (
            num <= previous
            or status not in _STATUS_TEXT
            or raw[at] != _QUOTE
            or not raw.startswith(digits, at + 1)
            or raw[start - 2 : start] != b'":'
        ):
            raise Irregular("a sheet is out of place")
        if previous == 0:
            if first is not None and at != first:
                raise Irregular("the sheets object does not start with a sheet")
        elif raw[at - 2 : at] != b"},":
            raise Irregular("a sheet-like object nested inside another sheet")
        previous = num
        found.append((num, m))
    return found


def _check_last(raw: bytes, last: re.Match[bytes], end: int) -> None:
    """The last sheet must be a whole object (a truncated snapshot is not)."""
    try:
        whole = json.loads(raw[last.start() : end])
    except (ValueError, RecursionError):
        raise Irregular("the last sheet is not whole (truncated?)") from None
    if not isinstance(whole, dict):
        raise Irregular("the last sheet is not an object")


def _full_sheets(
    raw: bytes, starts: list[tuple[int, re.Match[bytes]]], end: int
) -> dict[int, SheetDigest]:
    """Digests from fixed places in each sheet; a sheet with records is decoded whole.

    ``starts`` matched the sheet's first fields already; the middle run of fields is found
    by its first key, the last run by searching back from the sheet's end.
    """
    _, middle, tail = _full_patterns()
    find, rfind, starts_with = raw.find, raw.rfind, raw.startswith
    text, loads, NULL = _text, json.loads, b"null"
    sheets: dict[int, SheetDigest] = {}
    count = len(starts)
    names = _STATUS_TEXT
    for i, (key, s) in enumerate(starts):
        # The sheet's object ends just before the comma in front of the next key.
        if i + 1 < count:
            following = starts[i + 1][1]
            limit = following.start() - len(following[1]) - 4
        else:
            limit = end
        at = find(_INSTRUMENT_KEY, s.end(), limit)
        m = middle.match(raw, at) if at >= 0 else None
        at = find(_ERRORS_KEY, m.end(), limit) if m else -1
        back = rfind(_TAIL_KEY, at, limit) if at >= 0 else -1
        t = tail.match(raw, back) if back >= 0 else None
        if m is None or t is None:
            raise Irregular("sheets are not in the expected field order")
        _, status, started, completed, attempts, duration, message, category, code, passed = (
            s.groups()
        )
        if not starts_with(_NO_RECORDS, at):
            # Error or fallback records: decode this one sheet whole (exact, and rare).
            try:
                data = loads(raw[s.start() : limit])
            except (ValueError, RecursionError):
                raise Irregular("a sheet is not valid JSON") from None
            sheets[key] = SheetDigest.from_json(data)
            continue
        name, model, movement, voice, completions, ok, bad, percentage = m.groups()
        fire, expires, cost, spent, chain, tokens_in, tokens_out, estimate = t.groups()
        # Most of these are null; testing for that inline is much cheaper than a call,
        # and this loop runs once per sheet.
        sheets[key] = SheetDigest(
            key,
            names[status],
            None if started == NULL else text(started),
            None if completed == NULL else text(completed),
            int(attempts),
            None if duration == NULL else float(duration),
            None if message == NULL else text(message),
            None if category == NULL else text(category),
            None if code == NULL else text(code),
            None if passed == NULL else passed == b"true",
            None if name == NULL else text(name),
            None if model == NULL else text(model),
            None if movement == NULL else int(movement),
            None if voice == NULL else int(voice),
            int(completions),
            len(loads(ok)) if ok != b"[]" else 0,
            len(loads(bad)) if bad != b"[]" else 0,
            None if percentage == NULL else float(percentage),
            float(cost),
            float(spent),
            None if estimate == NULL else float(estimate),
            None if tokens_in == NULL else int(tokens_in),
            None if tokens_out == NULL else int(tokens_out),
            None if fire == NULL else text(fire),
            None if expires == NULL else text(expires),
            tuple(loads(chain)) if chain != b"[]" else (),
        )
    return sheets


def fold_journal(
    history: Path,
    head: dict[str, Any],
    sheets: dict[int, SheetDigest],
    mode: ReadMode,
    offset: int | None = None,
) -> int:
    """Apply journal lines newer than the snapshot to ``head`` and ``sheets``.

    Reads from ``offset`` (default: the snapshot's ``journal_offset``; an offset that does
    not start a line means "from the beginning", as in the store). Returns where reading
    stopped: just after the last complete line.
    """
    start = head.get("journal_offset", 0) if offset is None else offset
    data, start = read_journal(history, start)
    apply_lines(data, head, sheets, mode)
    return start + data.rfind(b"\n") + 1


def read_journal(history: Path, offset: int) -> tuple[bytes, int]:
    """The journal's bytes from ``offset`` to its end, and where they really start."""
    try:
        fd = os.open(history, _READ_FLAGS)
    except FileNotFoundError:
        return b"", offset
    except OSError as exc:
        raise Irregular(str(exc)) from None
    try:
        size = os.fstat(fd).st_size
        if offset < 0 or offset > size:
            offset = 0
        if offset > 0 and os.pread(fd, 1, offset - 1) != b"\n":
            offset = 0
        chunks = []
        position = offset
        while chunk := os.pread(fd, 1 << 22, position):
            chunks.append(chunk)
            position += len(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks), offset


def iter_lines(data: bytes) -> Iterator[bytes]:
    """Complete lines (a last line without its newline is still being written)."""
    start = 0
    while (end := data.find(b"\n", start)) >= 0:
        yield data[start:end]
        start = end + 1


def apply_lines(
    data: bytes, head: dict[str, Any], sheets: dict[int, SheetDigest], mode: ReadMode
) -> list[str]:
    """Fold the sheet transitions in ``data`` (complete lines) into the state.

    Returns the events applied, in order. A damaged line followed by a transition is
    irregular (the validating loader decides whether that is corruption).
    """
    applied: list[str] = []
    damaged = False
    for line in iter_lines(data):
        if not (line.startswith(b"{") and line.endswith(b"}")):
            damaged = True
            continue
        if b'"kind":"sheet"' not in line[:64]:
            continue  # history-only lines: attempts and events
        if damaged:
            raise Irregular("a damaged journal line before a transition")
        event = apply_line(line, head, sheets, mode)
        if event is not None:
            applied.append(event)
    return applied


def apply_line(
    line: bytes, head: dict[str, Any], sheets: dict[int, SheetDigest], mode: ReadMode
) -> str | None:
    """Apply one transition line; returns its event name, or ``None`` if it does not apply."""
    meta = _LINE_META.match(line)
    if meta is None:
        return _apply_decoded(line, head, sheets)
    seq = int(meta[3])
    if _text(meta[2]) != head.get("instance_id") or seq <= head.get("seq", 0):
        return None
    if mode == "full":
        return _apply_decoded(line, head, sheets)
    cut = line.rfind(_JOB_KEY)
    try:
        job = json.loads(line[cut + len(_JOB_KEY) : -1]) if cut > 0 else None
    except (ValueError, RecursionError):
        job = None
    if not isinstance(job, dict):
        return _apply_decoded(line, head, sheets)
    for num, m in _sheet_starts(line, meta.end(), cut, first=meta.end()):
        sheets[num] = SheetDigest(num, _STATUS_TEXT[m[2]], _text(m[3]))
    _apply_job(head, job, seq)
    return _text(meta[1])


def _apply_decoded(line: bytes, head: dict[str, Any], sheets: dict[int, SheetDigest]) -> str | None:
    try:
        record = json.loads(line)
    except (ValueError, RecursionError):
        raise Irregular("a journal line is not JSON") from None
    if not isinstance(record, dict) or record.get("kind") != "sheet":
        return None
    seq = record.get("seq")
    if record.get("instance") != head.get("instance_id") or not isinstance(seq, int):
        return None
    if seq <= head.get("seq", 0):
        return None
    records = record.get("sheets")
    job = record.get("job") or {}
    if not isinstance(records, dict) or not isinstance(job, dict):
        raise Irregular("a journal line without sheets")
    for key, data in records.items():
        digest = SheetDigest.from_json(data)
        if str(digest.num) != str(key):
            raise Irregular("a journal sheet under another number")
        sheets[digest.num] = digest
    _apply_job(head, job, seq)
    event = record.get("event")
    return event if isinstance(event, str) else ""


def _apply_job(head: dict[str, Any], job: dict[str, Any], seq: int) -> None:
    for key, value in job.items():
        if key not in _BOOKKEEPING:
            head[key] = value
    head["seq"] = max(seq, head.get("seq", 0))
    if head.get("status") not in JOB_STATUSES:
        raise Irregular("unknown job status in the journal")
