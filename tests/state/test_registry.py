"""Job registry records in MZT_HOME and the job look-up rules."""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path

import pytest

from mzt.state import CheckpointState, JsonStateBackend, registry
from mzt.support import paths
from mzt.support.errors import AmbiguousJobError, JobNotFoundError


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "home"
    monkeypatch.setenv("MZT_HOME", str(folder))
    return folder


def make_job(workspace: Path, job_id: str = "job") -> Path:
    workspace.mkdir(parents=True, exist_ok=True)
    JsonStateBackend(workspace).save(
        CheckpointState(job_id=job_id, job_name=job_id, total_sheets=1)
    )
    return workspace


def test_register_writes_a_private_record(home: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    record = registry.register("job", ws, tmp_path / "score.yaml")
    assert record.record_path == paths.registry_record("job", ws.resolve())
    data = json.loads(record.record_path.read_text())
    assert data == {
        "job_id": "job",
        "workspace": str(ws.resolve()),
        "score_path": str((tmp_path / "score.yaml").resolve()),
        "registered_at": record.registered_at,
    }
    assert record.registered_at.endswith("Z")
    assert stat.S_IMODE(record.record_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(paths.registry_dir().stat().st_mode) == 0o700
    assert registry.list_records() == [record]


def test_reregistering_overwrites(home: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    registry.register("job", ws, None)
    registry.register("job", ws, tmp_path / "new.yaml")
    (record,) = registry.list_records()
    assert record.score_path == (tmp_path / "new.yaml").resolve()


def test_records_of_vanished_workspaces_are_skipped_and_pruned(home: Path, tmp_path: Path) -> None:
    kept, gone = tmp_path / "kept", tmp_path / "gone"
    kept.mkdir()
    gone.mkdir()
    registry.register("a", kept)
    registry.register("b", gone)
    shutil.rmtree(gone)
    assert [r.job_id for r in registry.list_records()] == ["a"]
    assert {r.job_id for r in registry.list_records(include_missing=True)} == {"a", "b"}
    removed = registry.prune()
    assert [r.job_id for r in removed] == ["b"]
    assert [r.job_id for r in registry.list_records(include_missing=True)] == ["a"]


def test_unreadable_records_are_skipped(home: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    registry.register("job", ws)
    folder = paths.registry_dir()
    (folder / "broken.json").write_text("{")
    (folder / "list.json").write_text("[]")
    (folder / "partial.json").write_text('{"job_id": 3}')
    (folder / ".job--1234.json.x.tmp").write_text("{")
    assert [r.job_id for r in registry.list_records()] == ["job"]


def test_unregister(home: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    registry.register("job", ws)
    assert registry.unregister("job", ws)
    assert not registry.unregister("job", ws)
    assert registry.list_records() == []


# --- look-up ------------------------------------------------------------------------------------


def test_explicit_workspace_wins(home: Path, tmp_path: Path) -> None:
    ws = make_job(tmp_path / "ws")
    elsewhere = make_job(tmp_path / "cwd")
    found = registry.find_job("job", workspace=ws, cwd=elsewhere)
    assert (found.workspace, found.found_by) == (ws.resolve(), "workspace")
    with pytest.raises(JobNotFoundError) as caught:
        registry.find_job("other", workspace=ws)
    assert caught.value.exit_code == 2
    assert str(paths.state_file(ws.resolve(), "other")) in caught.value.message


def test_current_directory_before_registry(home: Path, tmp_path: Path) -> None:
    here = make_job(tmp_path / "here")
    registered = make_job(tmp_path / "registered")
    registry.register("job", registered)
    found = registry.find_job("job", cwd=here)
    assert (found.workspace, found.found_by) == (here.resolve(), "cwd")


def test_registry_finds_the_single_workspace(home: Path, tmp_path: Path) -> None:
    ws = make_job(tmp_path / "ws")
    registry.register("job", ws, tmp_path / "score.yaml")
    empty = tmp_path / "empty"
    empty.mkdir()
    found = registry.find_job("job", cwd=empty)
    assert (found.workspace, found.found_by) == (ws.resolve(), "registry")
    assert found.score_path == (tmp_path / "score.yaml").resolve()


def test_same_id_in_two_workspaces_is_ambiguous(home: Path, tmp_path: Path) -> None:
    one, two = make_job(tmp_path / "one"), make_job(tmp_path / "two")
    registry.register("job", one)
    registry.register("job", two)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(AmbiguousJobError) as caught:
        registry.find_job("job", cwd=empty)
    assert caught.value.exit_code == 2
    assert str(one.resolve()) in caught.value.message
    assert str(two.resolve()) in caught.value.message
    assert "-w" in (caught.value.hint or "")


def test_stale_registrations_do_not_count(home: Path, tmp_path: Path) -> None:
    live = make_job(tmp_path / "live")
    cleared = make_job(tmp_path / "cleared")
    registry.register("job", live)
    registry.register("job", cleared)
    JsonStateBackend(cleared).delete("job")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert registry.find_job("job", cwd=empty).workspace == live.resolve()


def test_unknown_job_lists_where_it_looked(home: Path, tmp_path: Path) -> None:
    with pytest.raises(JobNotFoundError) as caught:
        registry.find_job("nope", cwd=tmp_path)
    assert "registry" in caught.value.message and ".marianne" in caught.value.message
