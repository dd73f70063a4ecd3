"""JsonStateBackend: snapshot + journal, corruption, listing, zombies, history, secrets."""

from __future__ import annotations

import json
import os
import socket
import stat
import time
from pathlib import Path
from typing import Any

import pytest

from mzt.state import CheckpointState, JobStatus, JsonStateBackend, SheetStatus, WriterInfo
from mzt.state.journal import read_lines
from mzt.state.lineform import micros, readable
from mzt.state.lock import RunLock
from mzt.state.writer import TakeOver
from mzt.support.errors import ForeignHostError, FutureSchemaError, StateCorruptionError
from tests.state.conftest import make_state
from tests.state.lock_child import lock_held_elsewhere


def snapshot(store: JsonStateBackend, job_id: str = "job") -> dict[str, object]:
    return json.loads(store.state_path(job_id).read_bytes())


def raw_history(store: JsonStateBackend, job_id: str = "job") -> list[dict[str, Any]]:
    return [json.loads(line) for line in store.history_path(job_id).read_text().splitlines()]


def history(store: JsonStateBackend, job_id: str = "job") -> list[dict[str, Any]]:
    """The lines in the names and ISO times readers see them in."""
    return [readable(line) for line in raw_history(store, job_id)]


def comparable(state: CheckpointState) -> dict[str, object]:
    return state.model_dump(mode="json")


# --- basics ---------------------------------------------------------------------------------


def test_missing_state_is_none(store: JsonStateBackend) -> None:
    assert store.load("nothing") is None
    assert store.get_next_sheet("nothing") == 1
    assert not store.state_dir.exists()  # reading never creates anything


def test_save_load_round_trip(store: JsonStateBackend) -> None:
    state = make_state(3)
    state.config_snapshot = {"name": "job", "sheet": {"size": 1}}
    state.mark_sheet_completed(1)
    before = state.updated_at
    store.save(state)
    assert state.seq == 1 and state.updated_at >= before
    assert state.writer is not None and state.writer.pid == os.getpid()
    loaded = store.load("job")
    assert loaded is not None and comparable(loaded) == comparable(state)


def test_snapshot_file_contract(store: JsonStateBackend) -> None:
    store.save(make_state(2))
    raw = store.state_path("job").read_bytes()
    assert not raw.endswith(b"\n")  # any truncation of the file is invalid JSON
    doc = json.loads(raw)
    for key in ("schema_version", "seq", "writer", "job_id", "status", "sheets", "total_sheets"):
        assert key in doc
    assert set(doc["writer"]) >= {"pid", "start_time", "host", "boot_id"}
    assert list(doc["sheets"]) == ["1", "2"]
    assert [p.name for p in store.state_dir.iterdir()] == ["job.json"]  # no temp left


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o077])
def test_modes_are_private_whatever_the_umask(workspace: Path, umask: int) -> None:
    previous = os.umask(umask)
    try:
        store = JsonStateBackend(workspace)
        state = make_state(1)
        store.save(state)
        state.mark_sheet_started(1)
        store.record_sheet(state, 1)
        store.close()
    finally:
        os.umask(previous)
    assert stat.S_IMODE(store.state_dir.stat().st_mode) == 0o700
    for name in ("job.json", "job.history.jsonl"):
        assert stat.S_IMODE((store.state_dir / name).stat().st_mode) == 0o600


def test_seq_grows_by_one_per_write(store: JsonStateBackend) -> None:
    state = make_state(2)
    state.mark_job_running()
    store.save(state)
    state.mark_sheet_started(1)
    store.record_sheet(state, 1)
    state.mark_sheet_completed(1)
    store.record_sheet(state, 1)
    store.compact(state)
    assert state.seq == 4
    assert snapshot(store)["seq"] == 4
    assert [r["seq"] for r in history(store)] == [2, 3]


# --- journal ----------------------------------------------------------------------------------


def test_sheet_transition_appends_instead_of_rewriting(store: JsonStateBackend) -> None:
    state = make_state(50)
    state.mark_job_running()
    store.save(state)
    before = store.state_path("job").read_bytes()
    state.mark_sheet_started(7)
    store.record_sheet(state, 7, event="attempt_started")
    assert store.state_path("job").read_bytes() == before
    (line,) = history(store)
    assert (line["kind"], line["event"], line["seq"]) == ("sheet", "attempt_started", 2)
    # The first change of a sheet after a snapshot carries it whole (without its defaults).
    assert list(line["whole"]) == ["7"] and "sheets" not in line
    assert (
        line["whole"]["7"]["status"] == "in_progress" and "error_message" not in line["whole"]["7"]
    )
    (raw,) = raw_history(store)
    # Short codes and integer times; no number for a sheet written under its number.
    assert raw["whole"]["7"]["s"] == "in_progress" and "sheet_num" not in raw["whole"]["7"]
    assert raw["ts"] == micros(state.updated_at)
    assert raw["whole"]["7"]["t0"] == micros(state.sheet(7).started_at)
    # The sheet running now follows from the sheet that started: the line leaves it out.
    assert "current_sheet" not in line.get("job", {})
    assert "sheets" not in line.get("job", {}) and "config_snapshot" not in line.get("job", {})
    with RunLock(store.lock_path("job"), job_id="job"):  # a live run: no zombie recovery
        loaded = store.load("job")
    assert loaded is not None and comparable(loaded) == comparable(state)


def test_job_fields_the_rule_gets_wrong_are_written(store: JsonStateBackend) -> None:
    state = make_state(9)
    state.mark_job_running()
    store.save(state)
    state.mark_sheet_started(3)
    state.sheets_in_progress = [3]
    store.record_sheet(state, 3)
    state.mark_sheet_started(5)
    state.sheets_in_progress = [3, 5]
    state.current_sheet = 3  # not the sheet that just started
    state.last_completed_sheet = 8  # moved without any sheet completing
    store.record_sheet(state, 5)
    state.mark_sheet_completed(3)
    state.sheets_in_progress = [5, 9]  # a sheet the line does not name
    store.record_sheet(state, 3)
    first, second, third = history(store)
    assert "job" not in first
    assert second["job"] == {"current_sheet": 3, "last_completed_sheet": 8}
    assert third["job"]["sheets_in_progress"] == [5, 9]
    with RunLock(store.lock_path("job"), job_id="job"):
        loaded = store.load("job")
    assert loaded is not None and comparable(loaded) == comparable(state)
    assert (loaded.current_sheet, loaded.last_completed_sheet) == (None, 8)
    assert loaded.sheets_in_progress == [5, 9]


def test_a_version_2_journal_still_loads(store: JsonStateBackend) -> None:
    # Lines as the previous writer made them: every job field that changed, whole sheets
    # with their numbers, nothing implied.
    state = make_state(4)
    state.mark_job_running()
    store.save(state)
    ts = "2026-05-01T10:00:00.000001Z"
    base = {"v": 2, "kind": "sheet", "instance": state.instance_id, "ts": ts}
    lines = [
        {
            **base,
            "event": "attempt_started",
            "seq": state.seq + 1,
            "job": {"current_sheet": 2, "sheets_in_progress": [2]},
            "whole": {"2": {"sheet_num": 2, "status": "in_progress", "attempt_count": 1}},
        },
        {
            **base,
            "event": "attempt_complete",
            "seq": state.seq + 2,
            "sheets": {"2": {"status": "completed", "exit_code": 0}},
            "job": {"last_completed_sheet": 2, "sheets_in_progress": []},
        },
    ]
    with store.history_path("job").open("a") as fh:
        fh.writelines(json.dumps(line) + "\n" for line in lines)
    with RunLock(store.lock_path("job"), job_id="job"):
        loaded = store.load("job")
    assert loaded is not None and loaded.sheet(2).status == SheetStatus.COMPLETED
    # Version 2 lines imply nothing: the sheet running now stays what the line said.
    assert (loaded.current_sheet, loaded.last_completed_sheet) == (2, 2)
    assert loaded.sheets_in_progress == [] and loaded.sheet(2).attempt_count == 1


def test_later_transitions_carry_only_the_changed_fields(store: JsonStateBackend) -> None:
    state = make_state(5)
    state.mark_job_running()
    store.save(state)
    state.mark_sheet_started(2)
    store.record_sheet(state, 2)
    state.mark_sheet_failed(2, "boom", exit_code=3)
    store.record_sheet(state, 2)
    state.sheet(2).error_message = None  # back to its default: the patch must say so
    state.sheet(2).status = SheetStatus.PENDING
    store.record_sheet(state, 2)
    first, second, third = history(store)
    assert "whole" in first and "whole" not in second
    assert set(second["sheets"]["2"]) == {"status", "completed_at", "error_message", "exit_code"}
    assert second["sheets"]["2"]["status"] == "failed"
    assert third["sheets"]["2"] == {"status": "pending", "error_message": None}
    assert set(second["job"]) <= {"updated_at", "current_sheet", "total_retry_count", "writer"}
    with RunLock(store.lock_path("job"), job_id="job"):
        loaded = store.load("job")
    assert loaded is not None and comparable(loaded) == comparable(state)


def test_job_level_change_alone_is_journaled(store: JsonStateBackend) -> None:
    state = make_state(2)
    state.mark_job_running()
    store.save(state)
    state.rate_limit_waits = 3
    state.total_estimated_cost = 1.25
    store.record_sheet(state)
    (line,) = history(store)
    assert line["event"] == "job_update" and "sheets" not in line and "whole" not in line
    assert line["job"]["rate_limit_waits"] == 3
    with RunLock(store.lock_path("job"), job_id="job"):
        loaded = store.load("job")
    assert loaded is not None and loaded.total_estimated_cost == 1.25 and loaded.seq == 2


def test_job_status_change_rewrites_the_snapshot(store: JsonStateBackend) -> None:
    state = make_state(2)
    store.save(state)
    state.mark_sheet_started(1)  # pending -> running
    store.record_sheet(state, 1)
    assert snapshot(store)["status"] == "running"
    assert snapshot(store)["seq"] == state.seq == 3  # the line (2) and then the snapshot (3)
    state.mark_sheet_completed(1)
    store.record_sheet(state, 1)
    state.mark_sheet_started(2)
    state.mark_sheet_completed(2)  # last sheet: job completes
    store.record_sheet(state, 2)
    assert snapshot(store)["status"] == "completed"
    assert snapshot(store)["seq"] == state.seq


def test_first_record_without_baseline_saves_a_snapshot(workspace: Path) -> None:
    state = make_state(2)
    JsonStateBackend(workspace).save(state)
    other = JsonStateBackend(workspace)  # a new store has no baseline for this state
    loaded = other.load("job")
    assert loaded is not None
    loaded.mark_sheet_completed(1)
    other.record_sheet(loaded, 1)
    assert snapshot(other)["seq"] == loaded.seq == 2
    assert not other.history_path("job").exists()


def test_config_snapshot_change_travels_in_the_journal(store: JsonStateBackend) -> None:
    state = make_state(2)
    state.mark_job_running()
    store.save(state)
    state.config_snapshot = {"name": "job", "retry": {"max_retries": 5}}
    state.mark_sheet_started(1)
    store.record_sheet(state, 1)
    assert history(store)[0]["job"]["config_snapshot"] == state.config_snapshot
    state.config_snapshot["retry"]["max_retries"] = 6  # mutated in place
    store.record_sheet(state, 1)
    assert history(store)[1]["job"]["config_snapshot"]["retry"]["max_retries"] == 6
    loaded = store.load("job")
    assert loaded is not None and loaded.config_snapshot == state.config_snapshot


def test_compaction_by_line_count(workspace: Path) -> None:
    store = JsonStateBackend(workspace, compact_every=3)
    state = make_state(1)
    state.mark_job_running()
    store.save(state)
    for n in range(1, 8):
        state.sheets[1].attempt_count = n
        store.record_sheet(state, 1)
    # Lines 2,3,4 -> snapshot 5; lines 6,7,8 -> snapshot 9; line 10 stays in the journal.
    store.flush()  # a folded snapshot is written in the background
    assert snapshot(store)["seq"] == 9
    assert snapshot(store)["sheets"]["1"]["attempt_count"] == 6
    loaded = store.load("job")
    assert loaded is not None and loaded.sheets[1].attempt_count == 7 and loaded.seq == 10


def test_compaction_by_time(workspace: Path) -> None:
    store = JsonStateBackend(workspace, compact_seconds=0.05)
    state = make_state(1)
    state.mark_job_running()
    store.save(state)
    state.sheets[1].attempt_count = 1
    store.record_sheet(state, 1)
    assert snapshot(store)["seq"] == 1
    time.sleep(0.06)
    state.sheets[1].attempt_count = 2
    store.record_sheet(state, 1)
    store.flush()
    assert snapshot(store)["seq"] == state.seq
    assert snapshot(store)["sheets"]["1"]["attempt_count"] == 2


def test_snapshot_points_past_its_journal(store: JsonStateBackend) -> None:
    state = make_state(1)
    state.mark_job_running()
    store.save(state)
    store.record_sheet(state, 1)
    store.compact(state)
    size = store.history_path("job").stat().st_size
    assert snapshot(store)["journal_offset"] == size


def test_torn_last_line_is_ignored_then_cut_by_the_next_writer(workspace: Path) -> None:
    store = JsonStateBackend(workspace)
    state = make_state(2)
    state.mark_job_running()
    store.save(state)
    state.mark_sheet_completed(1)
    store.record_sheet(state, 1)
    store.close()
    good = store.history_path("job").read_bytes()
    with store.history_path("job").open("ab") as handle:
        handle.write(b'{"v":1,"kind":"sheet","seq":3,"sheets":{"2":{"sheet_nu')
    loaded = JsonStateBackend(workspace).load("job")
    assert loaded is not None and loaded.seq == 2
    assert loaded.sheets[1].status == SheetStatus.COMPLETED
    writer = JsonStateBackend(workspace)
    resumed = writer.load_for_run("job")
    assert store.history_path("job").read_bytes() == good
    assert resumed is not None
    resumed.mark_sheet_completed(2)
    writer.record_sheet(resumed, 2)
    writer.record_sheet(resumed, 2)
    final = JsonStateBackend(workspace).load("job")
    assert final is not None and final.status == JobStatus.COMPLETED


def test_damaged_line_inside_the_journal_is_corruption(store: JsonStateBackend) -> None:
    state = make_state(2)
    state.mark_job_running()
    store.save(state)
    store.record_sheet(state, 1)
    store.record_sheet(state, 2)
    store.close()
    path = store.history_path("job")
    lines = path.read_bytes().split(b"\n")
    lines[0] = b"#" * len(lines[0])
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(StateCorruptionError) as caught:
        store.load("job")
    assert caught.value.error_type == "journal"


def test_garbage_after_the_last_good_line_is_dropped(store: JsonStateBackend) -> None:
    state = make_state(1)
    state.mark_job_running()
    store.save(state)
    store.record_sheet(state, 1)
    store.close()
    with store.history_path("job").open("ab") as handle:
        handle.write(b"\0" * 100 + b"\n")  # an unsynced line lost to a power cut
    loaded = store.load("job")
    assert loaded is not None and loaded.seq == 2
    writer = JsonStateBackend(store.workspace)
    writer.prepare("job")
    assert store.history_path("job").read_bytes().endswith(b"}\n")


def test_lines_of_a_discarded_state_are_never_applied(store: JsonStateBackend) -> None:
    old = make_state(2)
    old.mark_job_running()
    store.save(old)
    old.mark_sheet_completed(1)
    store.record_sheet(old, 1)
    store.delete("job", keep_history=True)
    fresh = make_state(2)
    fresh.mark_job_running()
    store.save(fresh)
    loaded = store.load("job")
    assert loaded is not None and loaded.sheets[1].status == SheetStatus.PENDING
    # Even with the offset hint gone, lines are matched by instance and seq.
    doc = snapshot(store)
    doc["journal_offset"] = 0
    store.state_path("job").write_text(json.dumps(doc))
    again = store.load("job")
    assert again is not None and again.sheets[1].status == SheetStatus.PENDING


def test_bad_offset_hint_falls_back_to_a_full_scan(store: JsonStateBackend) -> None:
    state = make_state(2)
    state.mark_job_running()
    store.save(state)
    state.mark_sheet_completed(2)
    store.record_sheet(state, 2)
    doc = snapshot(store)
    doc["journal_offset"] = 5  # inside a line
    store.state_path("job").write_text(json.dumps(doc))
    loaded = store.load("job")
    assert loaded is not None and loaded.sheets[2].status == SheetStatus.COMPLETED


# --- corruption -------------------------------------------------------------------------------


def valid_bytes(store: JsonStateBackend) -> bytes:
    store.save(make_state(1))
    return store.state_path("job").read_bytes()


@pytest.mark.parametrize(
    ("content", "kind"),
    [
        (b"", "empty"),
        (b"\0" * 4096, "nul_filled"),
        (b'{"job_id": "job", ', "json_decode"),
        (b"not json at all", "json_decode"),
        (b"\xff\xfe{}", "encoding"),
        (b"[1, 2, 3]", "foreign"),
        (b'{"name": "my-package", "version": "1.0.0"}', "validation"),
        (b'{"job_id": "job", "job_name": "x", "total_sheets": "many"}', "validation"),
        (b'{"job_id": "job", "job_name": "x", "total_sheets": NaN}', "json_decode"),
        (b'{"job_id": "other", "job_name": "x", "total_sheets": 1}', "foreign"),
        (b"[" * 100_000 + b"]" * 100_000, "json_decode"),
        (b'{"job_id": "job", "total_sheets": ' + b"9" * 5000 + b"}", "json_decode"),
        (
            b'{"job_id": "job", "job_name": "x", "total_sheets": 1, "sheets": {"1": 5}}',
            "validation",
        ),
        (
            b'{"job_id": "job", "job_name": "x", "total_sheets": 1, "schema_version": "1"}',
            "validation",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_unusable_state_raises_and_is_left_untouched(
    store: JsonStateBackend, content: bytes, kind: str
) -> None:
    store.state_dir.mkdir(parents=True)
    path = store.state_path("job")
    path.write_bytes(content)
    with pytest.raises(StateCorruptionError) as caught:
        store.load("job")
    error = caught.value
    assert (error.job_id, error.path, error.error_type) == ("job", str(path), kind)
    assert error.exit_code == 5 and error.hint
    assert str(path) in error.message
    assert path.read_bytes() == content


@pytest.mark.parametrize(
    "sequence",
    [b"\xff", b"\x80", b"\xc3", b"\xc0\xaf", b"\xe0\x80\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80"],
)
def test_a_current_checkpoint_with_bytes_that_are_not_utf8_is_refused_as_such(
    store: JsonStateBackend, sequence: bytes
) -> None:
    # The loader leaves the UTF-8 check of a document it decodes to the decoder: whatever
    # the decoder lets through would be loaded.
    raw = valid_bytes(store)
    assert b'"job_name":"' in raw
    damaged = raw.replace(b'"job_name":"', b'"job_name":"' + sequence, 1)
    store.state_path("job").write_bytes(damaged)
    with pytest.raises(StateCorruptionError) as caught:
        store.load("job")
    assert caught.value.error_type == "encoding"


def test_future_schema_is_refused_and_left_untouched(store: JsonStateBackend) -> None:
    doc = json.loads(valid_bytes(store))
    doc["schema_version"] = 99
    raw = json.dumps(doc).encode()
    store.state_path("job").write_bytes(raw)
    with pytest.raises(FutureSchemaError, match="schema version 99"):
        store.load("job")
    assert store.state_path("job").read_bytes() == raw


def test_symlinked_state_is_refused(store: JsonStateBackend, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.json"
    target.write_bytes(valid_bytes(store))
    store.state_path("job").unlink()
    store.state_path("job").symlink_to(target)
    with pytest.raises(StateCorruptionError) as caught:
        store.load("job")
    assert caught.value.error_type == "unreadable"


def test_fifo_and_folder_are_refused_without_hanging(store: JsonStateBackend) -> None:
    store.state_dir.mkdir(parents=True)
    os.mkfifo(store.state_path("job"))
    with pytest.raises(StateCorruptionError):
        store.load("job")
    store.state_path("job").unlink()
    store.state_path("job").mkdir()
    with pytest.raises(StateCorruptionError):
        store.load("job")


def test_legacy_state_loads_through_migration(store: JsonStateBackend) -> None:
    store.state_dir.mkdir(parents=True)
    legacy = {"job_id": "job", "job_name": "j", "total_sheets": 1, "status": "paused_at_chain"}
    store.state_path("job").write_text(json.dumps(legacy, indent=2) + "\n")
    state = store.load("job")
    assert state is not None and state.status == JobStatus.PAUSED


def test_save_replaces_a_planted_symlink_instead_of_writing_through_it(
    store: JsonStateBackend, tmp_path: Path
) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    store.state_dir.mkdir(parents=True)
    store.state_path("job").symlink_to(victim)
    store.save(make_state(1))
    assert victim.read_text() == "precious"
    assert not store.state_path("job").is_symlink()


# --- listing ----------------------------------------------------------------------------------


def test_list_jobs_skips_damage_and_sorts_newest_first(store: JsonStateBackend) -> None:
    for job in ("a", "b", "c"):
        store.save(make_state(1, job_id=job))
        time.sleep(0.002)
    store.save(store.load("a") or make_state(1))  # "a" becomes the newest
    folder = store.state_dir
    (folder / "broken.json").write_text("{")
    (folder / "foreign.json").write_text('{"hello": "world"}')
    (folder / ".c.json.abc123.tmp").write_text("{")
    (folder / "weird name.json").write_text("{}")
    (folder / "future.json").write_text(
        json.dumps({**make_state(1, job_id="future").model_dump(mode="json"), "schema_version": 9})
    )
    assert [s.job_id for s in store.list_jobs()] == ["a", "c", "b"]


# --- liveness on load ---------------------------------------------------------------------------


def running_state(store: JsonStateBackend, **writer: object) -> CheckpointState:
    state = make_state(2)
    state.mark_job_running()
    state.mark_sheet_completed(1)
    store.save(state)
    if writer:
        doc = snapshot(store)
        doc["writer"] = {**doc["writer"], **writer}
        if "pid" in writer:
            doc["pid"] = writer["pid"]
        store.state_path("job").write_text(json.dumps(doc))
    return state


def test_running_state_with_free_lock_loads_as_paused(store: JsonStateBackend) -> None:
    running_state(store)
    raw = store.state_path("job").read_bytes()
    loaded = store.load("job")
    assert loaded is not None
    assert loaded.status == JobStatus.PAUSED and loaded.pid is None
    assert "run lock is free" in (loaded.error_message or "")
    assert loaded.sheets[1].status == SheetStatus.COMPLETED
    assert store.state_path("job").read_bytes() == raw  # in memory only


def test_running_state_with_no_writer_is_still_classified(store: JsonStateBackend) -> None:
    running_state(store)
    doc = snapshot(store)
    doc["writer"] = None
    doc["pid"] = None
    store.state_path("job").write_text(json.dumps(doc))
    loaded = store.load("job")
    assert loaded is not None and loaded.status == JobStatus.PAUSED


def test_running_state_with_held_lock_stays_running(store: JsonStateBackend) -> None:
    running_state(store)
    with lock_held_elsewhere(store.lock_path("job")) as child:
        loaded = store.load("job")
        assert loaded is not None and loaded.status == JobStatus.RUNNING
        verdict = store.liveness(loaded)
        assert verdict.alive is True
        assert verdict.holder is not None and verdict.holder.pid == child.pid


def test_other_host_is_never_recovered_without_override(workspace: Path) -> None:
    store = JsonStateBackend(workspace)
    running_state(store, host="far-away.example")
    loaded = store.load("job")
    assert loaded is not None and loaded.status == JobStatus.RUNNING
    assert store.liveness(loaded).alive is None
    with RunLock(store.lock_path("job"), job_id="job"), pytest.raises(ForeignHostError) as caught:
        store.load_for_run("job")
    assert "far-away.example" in caught.value.message and caught.value.exit_code == 75
    forced = JsonStateBackend(workspace, allow_foreign_host=True).load("job")
    assert forced is not None and forced.status == JobStatus.PAUSED


def test_refusal_names_host_pid_last_write_and_the_take_over_command(workspace: Path) -> None:
    store = JsonStateBackend(workspace)
    running_state(store, host="far-away.example", pid=4242)
    written = snapshot(store)["updated_at"]
    with RunLock(store.lock_path("job"), job_id="job"), pytest.raises(ForeignHostError) as caught:
        store.load_for_run("job")
    error = caught.value
    assert "pid 4242 on host far-away.example" in error.message
    assert f"last wrote its checkpoint at {str(written)[:19]}" in error.message
    assert error.hint and f"`mzt resume job -w {workspace} --take-over`" in error.hint
    assert "--force" not in error.hint
    assert store.taken_over is None


def test_take_over_under_the_lock_records_whose_run_it_was(workspace: Path) -> None:
    store = JsonStateBackend(workspace, allow_foreign_host=True)
    running_state(store, host="far-away.example", pid=4242)
    written = snapshot(store)["updated_at"]
    with RunLock(store.lock_path("job"), job_id="job"):
        state = store.load_for_run("job", command="cancel")
    assert state is not None and state.status == JobStatus.PAUSED
    take = store.taken_over
    assert take is not None
    assert (take.from_host, take.from_pid, take.command) == ("far-away.example", 4242, "cancel")
    assert take.last_written_at == str(written)[:19] + "Z"
    assert take.by_host == socket.gethostname() and take.by_pid == os.getpid()
    assert "taken over from far-away.example (pid 4242" in take.describe()
    # A local state taken next clears the record: it says what *this* load took over.
    state.mark_job_running()
    store.save(state)
    with RunLock(store.lock_path("job"), job_id="job"):
        store.load_for_run("job")
    assert store.taken_over is None


def test_the_take_over_record_round_trips_through_the_checkpoint(
    store: JsonStateBackend,
) -> None:
    state = running_state(store)
    state.taken_over = TakeOver(
        from_host="far", at="2026-05-01T10:00:00Z", by_host="here", by_pid=7, command="run"
    )
    store.save(state)
    assert snapshot(store)["taken_over"] == {
        "from_host": "far",
        "at": "2026-05-01T10:00:00Z",
        "by_host": "here",
        "by_pid": 7,
        "command": "run",
    }
    loaded = store.load("job")
    assert loaded is not None and loaded.taken_over == state.taken_over


def test_new_run_under_its_lock_recovers_its_dead_predecessor(store: JsonStateBackend) -> None:
    running_state(store, pid=999_999, start_time=1.0)
    with RunLock(store.lock_path("job"), job_id="job"):
        state = store.load_for_run("job")
        assert state is not None and state.status == JobStatus.PAUSED
        state.mark_job_running()
        store.save(state)
        again = store.load_for_run("job")  # our own live run is not a zombie
        assert again is not None and again.status == JobStatus.RUNNING


# --- history ----------------------------------------------------------------------------------


def test_record_execution_and_events_go_to_the_history(store: JsonStateBackend) -> None:
    assert store.supports_execution_history
    state = make_state(2)
    state.mark_job_running()
    store.save(state)
    first = store.record_event(state, "retry_scheduled", sheet_num=2, delay_seconds=10)
    second = store.record_execution(
        "job", 2, 1, prompt="p" * 10_000, output="o" * 20_000, exit_code=1, duration_seconds=2.5
    )
    assert second is not None and second > first >= 0
    event, attempt = store.read_history("job")
    assert (event["event"], event["seq"], event["sheet_num"], event["delay_seconds"]) == (
        "retry_scheduled",
        state.seq,
        2,
        10,
    )
    assert attempt["kind"] == "attempt" and attempt["attempt"] == 1
    assert len(attempt["prompt"]) == 4096 and len(attempt["output"]) == 10240
    assert attempt["output_truncated"] is True
    assert store.read_history("job", kinds=("attempt",)) == [attempt]
    assert store.read_history("job", sheet_num=1) == []
    assert store.read_history("job", limit=1) == [attempt]
    loaded = store.load("job")  # history lines do not disturb the state
    assert loaded is not None and loaded.seq == state.seq


def test_mark_sheet_status_and_next_sheet(store: JsonStateBackend) -> None:
    store.save(make_state(3))
    store.mark_sheet_status("job", 1, SheetStatus.IN_PROGRESS)
    store.mark_sheet_status("job", 1, SheetStatus.COMPLETED)
    store.mark_sheet_status("job", 2, SheetStatus.FAILED, "no")
    store.mark_sheet_status("job", 3, SheetStatus.SKIPPED, "rule")
    loaded = store.load("job")
    assert loaded is not None
    assert [loaded.sheets[n].status for n in (1, 2, 3)] == [
        SheetStatus.COMPLETED,
        SheetStatus.FAILED,
        SheetStatus.SKIPPED,
    ]
    assert loaded.sheets[2].error_message == "no"
    assert store.get_next_sheet("job") == 2
    with pytest.raises(KeyError):
        store.mark_sheet_status("nothing", 1, SheetStatus.COMPLETED)


def test_delete(store: JsonStateBackend) -> None:
    state = make_state(1)
    store.save(state)
    store.record_event(state, "resume")
    with RunLock(store.lock_path("job"), job_id="job"):
        pass
    assert store.delete("job")
    assert not store.state_path("job").exists() and not store.history_path("job").exists()
    assert store.lock_path("job").exists()
    assert not store.delete("job")


def test_infer_state_from_artifacts(store: JsonStateBackend, workspace: Path) -> None:
    assert store.infer_state_from_artifacts("job", workspace, "sheet*-report.md") is None
    for n in (1, 2, 10):
        (workspace / f"sheet{n}-report.md").write_text("done")
    assert store.infer_state_from_artifacts("job", workspace, "sheet*-report.md") == 10


# --- secrets ------------------------------------------------------------------------------------


SECRETS = [
    "sk-ant-api03-" + "a1B2c3D4e5" * 9 + "xyzAA",
    "sk-ant-oat01-" + "Zq9" * 20,
    "sk-proj-" + "R4nd0mT0k3n" * 4,
    "AKIAIOSFODNN7EXAMPLE",
    "AIzaSyD" + "x" * 32,
    "ghp_" + "A1b2C3d4E5" * 4,
    "xoxb-123456789012-abcdefghijkl",
    "hf_" + "Q" * 34,
]


def test_no_secret_reaches_any_stored_byte(
    store: JsonStateBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_secret = "correct-horse-battery-staple-42"
    monkeypatch.setenv("MY_SERVICE_TOKEN", env_secret)
    everything = [*SECRETS, env_secret]
    blob = " | ".join(everything)
    state = make_state(2)
    state.config_snapshot = {"notes": blob}
    state.mark_job_running()
    store.save(state)
    state.mark_sheet_started(1)
    state.sheets[1].capture_output(blob, blob)
    state.mark_sheet_failed(1, f"failed: {blob}")
    state.error_message = blob
    store.record_sheet(state, 1)
    store.record_event(state, "rate_limit_wait", detail=blob)
    store.record_execution("job", 1, 1, prompt=blob, output=blob)
    store.compact(state)
    stored = b"".join(p.read_bytes() for p in store.state_dir.iterdir() if p.is_file())
    for secret in everything:
        assert secret.encode() not in stored, secret
    assert b"[REDACTED_" in stored
    loaded = store.load("job")
    assert loaded is not None and "[REDACTED_ENV_SECRET]" in (loaded.error_message or "")


def test_clean_state_is_stored_verbatim(store: JsonStateBackend) -> None:
    state = make_state(1)
    text = "Created src/app.py; ran `pytest -q` (12 passed). See https://example.com/docs."
    state.error_message = text
    store.save(state)
    assert snapshot(store)["error_message"] == text


def test_journal_keeps_lines_intact(store: JsonStateBackend) -> None:
    state = make_state(1)
    store.save(state)
    for n in range(5):
        store.record_event(state, "tick", n=n)
    lines, start = read_lines(store.history_path("job"))
    assert start == 0 and [line.record["n"] for line in lines if line.record] == list(range(5))
    assert isinstance(state.writer, WriterInfo)
