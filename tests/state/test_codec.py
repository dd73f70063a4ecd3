"""The encoding of snapshots and journal lines: stored handles, pieces, attempt records."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mzt.state import JsonStateBackend, WriterInfo
from mzt.state.codec import attempt_line, encode_document, sheet_bytes
from mzt.state.loader import decode_document
from mzt.support.redact import Redactor
from tests.state.conftest import make_state


def _handle(num: int, attempt: int, **changes: Any) -> dict[str, Any]:
    me = WriterInfo.current()
    record: dict[str, Any] = {
        "executor": "local",
        "token": "ab" * 12,
        "sheet_num": num,
        "attempt": attempt,
        "host": me.host,
        "boot_id": me.boot_id,
        "pid": 4242,
        "pgid": 4242,
        "start_time": 123,
        "started_at": 1.5,
        "extra": {},
    }
    record.update(changes)
    return record


def _stored(store: JsonStateBackend, num: int) -> dict[str, Any]:
    doc = json.loads(store.state_path("job").read_bytes())
    sheet: dict[str, Any] = doc["sheets"][str(num)]
    return sheet


def test_a_handle_is_stored_without_what_its_sheet_and_writer_say(
    store: JsonStateBackend,
) -> None:
    state = make_state(2)
    state.mark_sheet_started(1)
    state.sheet(1).attempt_handle = _handle(1, 1)
    store.save(state)
    assert _stored(store, 1)["attempt_handle"] == {
        "token": "ab" * 12,
        "pid": 4242,
        "start_time": 123,
        "started_at": 1.5,
    }
    loaded = store.load("job")
    assert loaded is not None and loaded.sheet(1).attempt_handle == _handle(1, 1)


def test_a_journaled_handle_comes_back_whole(store: JsonStateBackend) -> None:
    state = make_state(2)
    store.save(state)
    state.mark_sheet_started(2)
    state.sheet(2).attempt_handle = _handle(2, 1)
    store.record_sheet(state, 2)
    line = store.history_path("job").read_text().splitlines()[-1]
    assert '"host"' not in line and '"boot_id"' not in line
    loaded = store.load("job")
    assert loaded is not None and loaded.sheet(2).attempt_handle == _handle(2, 1)


def test_a_handle_unlike_its_context_is_stored_as_it_is(store: JsonStateBackend) -> None:
    state = make_state(1)
    state.mark_sheet_started(1)
    odd = _handle(
        1, 7, executor="remote", host="elsewhere", boot_id="other-boot", pgid=1, extra={"k": "v"}
    )
    state.sheet(1).attempt_handle = odd
    store.save(state)
    assert _stored(store, 1)["attempt_handle"] == {k: v for k, v in odd.items() if k != "sheet_num"}
    loaded = store.load("job")
    assert loaded is not None and loaded.sheet(1).attempt_handle == odd


def test_a_handle_stored_whole_loads_as_it_is(tmp_path: Path) -> None:
    # The form every handle had before: all keys present, nothing to put back.
    state = make_state(1)
    state.writer = WriterInfo.current()
    state.mark_sheet_started(1)
    state.sheet(1).attempt_handle = _handle(1, 1, host="old-host")
    loaded = decode_document("job", tmp_path / "job.json", state.model_dump_json().encode())
    assert loaded.sheet(1).attempt_handle == _handle(1, 1, host="old-host")


def test_a_streamed_document_is_the_state_encoded_whole() -> None:
    state = make_state(5000)  # many batches of sheets
    state.writer = WriterInfo.current()
    assert encode_document(state, Redactor()) == state.model_dump_json().encode()
    empty = make_state(0)
    assert encode_document(empty, Redactor()) == empty.model_dump_json().encode()


def test_an_attempt_record_leaves_out_an_empty_output() -> None:
    line = json.loads(
        attempt_line(
            3,
            sheet_num=1,
            attempt=1,
            prompt="true",
            output="",
            exit_code=0,
            duration_seconds=0.009749028999067377,
            redactor=Redactor(),
        )
    )
    assert "output" not in line and "output_truncated" not in line
    assert line["duration_seconds"] == 0.009749
    assert "job_id" not in line and "instance" not in line  # the file is the job's


def test_a_running_sheet_is_redacted_around_its_handle() -> None:
    secret = "sk-ant-api03-" + "a1B2c3D4e5" * 9 + "xyzAA"
    redactor = Redactor(())
    state = make_state(1)
    state.mark_sheet_started(1)
    sheet = state.sheet(1)
    sheet.attempt_handle = _handle(1, 1)
    clean = sheet_bytes(sheet, WriterInfo.current(), redactor)
    assert b'"token":"' + b"ab" * 12 + b'"' in clean  # the handle's own token stays
    sheet.error_message = f"failed: {secret}"
    assert secret.encode() not in sheet_bytes(sheet, WriterInfo.current(), redactor)
    sheet.error_message = None
    sheet.attempt_handle = _handle(1, 1, extra={"note": secret})
    stored = sheet_bytes(sheet, WriterInfo.current(), redactor)
    assert secret.encode() not in stored and b"ab" * 12 in stored


def test_a_sheet_s_worktree_is_stored_only_when_it_has_one(store: JsonStateBackend) -> None:
    state = make_state(2)
    state.sheet(2).worktree_path = "/repo/.worktrees/job/sheet-2"
    state.sheet(2).worktree_base_commit = "c" * 40
    store.save(state)
    assert set(_stored(store, 1)) == {"sheet_num", "status"}
    assert _stored(store, 2)["worktree_path"] == "/repo/.worktrees/job/sheet-2"
    state.sheet(2).worktree_base_commit = "d" * 40
    store.record_sheet(state, 2)  # a journal line carries it too
    loaded = store.load("job")
    assert loaded is not None
    assert loaded.sheet(2).worktree_base_commit == "d" * 40
    assert loaded.sheet(1).worktree_path is None
