"""The head reader agrees with the store's loader, and refuses what it does not understand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mzt.state import CheckpointState, JobStatus, JsonStateBackend, SheetStatus
from mzt.state import head as head_module
from mzt.state.head import read_head
from mzt.state.loader import read_state
from mzt.support import paths
from tests.state.conftest import make_state


def assert_agrees(store: JsonStateBackend, workspace: Path, job: str = "job") -> None:
    head = read_head(workspace, job)
    # The loader itself, without the liveness verdict a load adds (the head has none).
    state = read_state(job, store.state_path(job), store.history_path(job))
    assert head is not None and state is not None
    done, total = state.get_progress()
    failed = sorted(n for n, s in state.sheets.items() if s.status == SheetStatus.FAILED)
    assert (head.status, head.completed_sheets, head.total_sheets) == (
        state.status.value,
        done,
        total,
    )
    assert list(head.failed_sheets) == failed
    assert (head.score_hash, head.config_path, head.error_message) == (
        state.config_file_hash,
        state.config_path,
        state.error_message,
    )


def completed(store: JsonStateBackend) -> CheckpointState:
    state = make_state(3)
    state.config_file_hash = "ab" * 32
    state.config_path = "score.yaml"
    state.mark_job_running(None)
    store.save(state)
    for num in (1, 2, 3):
        state.mark_sheet_started(num)
        store.record_sheet(state, num)
        state.mark_sheet_completed(num)
        store.record_sheet(state, num)
    state.status = JobStatus.COMPLETED
    store.save(state)
    return state


def test_a_completed_job(store: JsonStateBackend, workspace: Path) -> None:
    completed(store)
    assert_agrees(store, workspace)
    head = read_head(workspace, "job")
    assert head is not None and head.status == "completed" and head.score_hash == "ab" * 32


def test_journal_transitions_newer_than_the_snapshot_are_folded_in(
    store: JsonStateBackend, workspace: Path
) -> None:
    state = make_state(3)
    state.mark_job_running(None)
    store.save(state)
    state.mark_sheet_started(1)
    store.record_sheet(state, 1)
    state.mark_sheet_completed(1)
    state.error_message = "a note"
    store.record_sheet(state, 1)
    state.mark_sheet_failed(2, "broken")
    store.record_sheet(state, 2)
    assert b'"kind":"sheet"' in store.history_path("job").read_bytes()
    assert_agrees(store, workspace)
    head = read_head(workspace, "job")
    assert head is not None and head.completed_sheets == 1 and head.failed_sheets == (2,)


def test_missing_state_is_none(workspace: Path) -> None:
    assert read_head(workspace, "job") is None


@pytest.mark.parametrize(
    "damage",
    [
        lambda raw: raw[:-10],  # truncated
        lambda raw: raw.replace(b'"schema_version":2', b'"schema_version":99'),
        lambda raw: raw.replace(b'"status":"completed"', b'"status":"finished"', 1),
        lambda raw: raw.replace(b'"total_sheets":3', b'"total_sheets":"3"'),
        lambda raw: raw.replace(b'"job_id":"job"', b'"job_id":"other"'),
        lambda raw: raw.replace(b'"config_path":"score.yaml"', b'"config_path":NaN'),
        lambda raw: raw.replace(b'"sheets":{"1":{"sheet_num":1', b'"sheets":{"1":{"sheet_num":2'),
        lambda raw: raw.decode().encode("utf-16"),
        lambda raw: b"[]",
    ],
)
def test_anything_irregular_in_the_snapshot_is_refused(
    store: JsonStateBackend, workspace: Path, damage: object
) -> None:
    completed(store)
    path = store.state_path("job")
    changed = damage(path.read_bytes())  # type: ignore[operator]
    assert changed != path.read_bytes()
    path.write_bytes(changed)
    assert read_head(workspace, "job") is None


def test_a_damaged_journal_line_before_an_intact_one_is_refused(
    store: JsonStateBackend, workspace: Path
) -> None:
    state = make_state(2)
    state.mark_job_running(None)
    store.save(state)
    state.mark_sheet_started(1)
    store.record_sheet(state, 1)
    store.close()
    history = store.history_path("job")
    assert json.loads(store.state_path("job").read_bytes()).get("journal_offset", 0) == 0
    history.write_bytes(b'{"kind":"sheet", broken\n' + history.read_bytes())
    assert read_head(workspace, "job") is None


def test_a_torn_last_line_is_ignored_like_the_loader_does(
    store: JsonStateBackend, workspace: Path
) -> None:
    completed(store)
    with store.history_path("job").open("ab") as fh:
        fh.write(b'{"kind":"sheet","instance":"x"')
    assert_agrees(store, workspace)


def test_a_transition_of_another_instance_does_not_apply(
    store: JsonStateBackend, workspace: Path
) -> None:
    state = completed(store)
    line = {
        "v": 1,
        "kind": "sheet",
        "instance": "someone-else",
        "seq": state.seq + 5,
        "sheets": {},
        "job": {"status": "failed"},
    }
    with store.history_path("job").open("a") as fh:
        fh.write(json.dumps(line) + "\n")
    head = read_head(workspace, "job")
    assert head is not None and head.status == "completed"


# --- the kept head of a completed job ---------------------------------------------------------


@pytest.fixture
def settled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Files count as settled at once: the tests need not wait for their ctime to age."""
    monkeypatch.setattr(head_module, "SETTLED_SECONDS", -60.0)


def loader_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(head_module, "_loaded", lambda *_a: pytest.fail("the loader was asked"))


@pytest.mark.usefixtures("settled")
def test_a_settled_completed_head_is_kept_and_answers_without_the_loader(
    store: JsonStateBackend, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    completed(store)
    first = read_head(workspace, "job")
    kept = paths.head_cache("job", workspace)
    assert kept.is_file() and kept.stat().st_mode & 0o777 == 0o600
    assert kept.parent.stat().st_mode & 0o777 == 0o700
    loader_refuses(monkeypatch)
    assert read_head(workspace, "job") == first


def replaced_by_the_same_bytes(path: Path) -> None:
    """As the store writes a snapshot: a new file renamed over the old one."""
    fresh = path.with_name("fresh")
    fresh.write_bytes(path.read_bytes())
    fresh.replace(path)


@pytest.mark.parametrize(
    ("change", "readable"),
    [
        (replaced_by_the_same_bytes, True),
        (lambda path: path.write_bytes(path.read_bytes()[:-10]), False),
    ],
)
@pytest.mark.usefixtures("settled")
def test_a_snapshot_written_after_keeping_goes_to_the_loader(
    store: JsonStateBackend, workspace: Path, change: object, readable: bool
) -> None:
    completed(store)
    kept = read_head(workspace, "job")
    path = store.state_path("job")
    before = head_module._identity(path)
    change(path)  # type: ignore[operator]
    assert head_module._identity(path) != before
    assert read_head(workspace, "job") == (kept if readable else None)


@pytest.mark.usefixtures("settled")
def test_a_journal_line_appended_after_keeping_goes_to_the_loader(
    store: JsonStateBackend, workspace: Path
) -> None:
    state = completed(store)
    assert read_head(workspace, "job") is not None
    line = {"v": 1, "kind": "sheet", "instance": state.instance_id, "seq": state.seq + 1}
    with store.history_path("job").open("a") as fh:
        fh.write(json.dumps({**line, "sheets": {}, "job": {"status": "failed"}}) + "\n")
    again = read_head(workspace, "job")
    state_now = read_state("job", store.state_path("job"), store.history_path("job"))
    assert state_now is not None and again is not None
    assert again.status == state_now.status.value == "failed"


def test_files_changed_just_now_are_not_kept(store: JsonStateBackend, workspace: Path) -> None:
    completed(store)
    assert read_head(workspace, "job") is not None
    assert not paths.head_cache("job", workspace).exists()


@pytest.mark.usefixtures("settled")
def test_unfinished_jobs_are_not_kept(store: JsonStateBackend, workspace: Path) -> None:
    state = make_state(2)
    state.mark_job_running(None)
    store.save(state)
    assert read_head(workspace, "job") is not None
    assert not paths.head_cache("job", workspace).exists()


@pytest.mark.parametrize("kept", [b"", b"[]", b'{"format": 1', b'{"head": 3}'])
@pytest.mark.usefixtures("settled")
def test_an_unusable_kept_head_goes_to_the_loader(
    store: JsonStateBackend, workspace: Path, kept: bytes
) -> None:
    completed(store)
    first = read_head(workspace, "job")
    paths.head_cache("job", workspace).write_bytes(kept)
    assert read_head(workspace, "job") == first


@pytest.mark.usefixtures("settled")
def test_a_kept_head_of_another_mzt_version_goes_to_the_loader(
    store: JsonStateBackend, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    completed(store)
    assert read_head(workspace, "job") is not None
    monkeypatch.setattr(head_module, "__version__", "99.0")
    loader_refuses(monkeypatch)
    with pytest.raises(pytest.fail.Exception, match="the loader was asked"):
        read_head(workspace, "job")
