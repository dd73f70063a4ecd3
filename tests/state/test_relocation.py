"""`state_path`: where it points, how the pointer is read, when a move is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from mzt.state import JsonStateBackend
from mzt.state.checkpoint import CheckpointState
from mzt.state.relocation import StateMoveError, confirm_state_dir, settle_state_dir, target_dir
from mzt.support import paths
from mzt.support.errors import JobLockedError


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    paths.forget_state_dirs()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "ws/.marianne"),
        ("  ", "ws/.marianne"),
        ("../state", "state"),
        ("sub/dir", "ws/sub/dir"),
        (".marianne-state.json", "ws"),
        ("keep/state.db", "ws/keep"),
    ],
)
def test_target_dir_resolves_against_the_workspace(
    tmp_path: Path, value: str | None, expected: str
) -> None:
    ws = tmp_path / "ws"
    assert target_dir(ws, value) == (tmp_path / expected).resolve()


def test_an_absolute_state_path_is_kept(tmp_path: Path) -> None:
    assert target_dir(tmp_path / "ws", str(tmp_path / "abs")) == (tmp_path / "abs").resolve()


def test_settling_writes_a_pointer_every_job_path_follows(tmp_path: Path) -> None:
    ws, target = tmp_path / "ws", tmp_path / "state"
    note = settle_state_dir(ws, "job", target)
    assert note is not None and str(target) in note
    assert paths.state_pointer(ws, "job").read_text() == f"{target}\n"
    for path in (
        paths.state_file(ws, "job"),
        paths.lock_file(ws, "job"),
        paths.history_file(ws, "job"),
        paths.logs_dir(ws, "job"),
        paths.outputs_dir(ws, "job"),
    ):
        assert path.is_relative_to(target), path
    assert paths.job_ids_in(ws) == ["job"]
    assert settle_state_dir(ws, "job", target) is None  # already there: nothing to say
    assert not (ws / ".marianne" / "job.lock").exists()  # no run was there: no lock left


@pytest.mark.parametrize("text", ["", "relative/path\n", "/a\n/b\n", "x" * 5000])
def test_a_pointer_that_is_not_one_absolute_path_is_ignored(tmp_path: Path, text: str) -> None:
    ws = tmp_path / "ws"
    (ws / ".marianne").mkdir(parents=True)
    paths.state_pointer(ws, "job").write_text(text)
    assert paths.job_state_dir(ws, "job") == ws / ".marianne"


def test_a_move_away_from_an_existing_checkpoint_is_refused(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    store = JsonStateBackend(ws)
    store.save(CheckpointState(job_id="job", job_name="job", total_sheets=1))
    before = paths.state_file(ws, "job").read_bytes()
    with pytest.raises(StateMoveError) as caught:
        settle_state_dir(ws, "job", tmp_path / "elsewhere")
    assert str(ws / ".marianne") in caught.value.message
    assert paths.state_file(ws, "job").read_bytes() == before
    assert not paths.state_pointer(ws, "job").exists()
    assert not (tmp_path / "elsewhere").exists()


def test_a_move_while_a_run_holds_the_lock_is_refused(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    with JsonStateBackend(ws).run_lock("job"), pytest.raises(JobLockedError):
        settle_state_dir(ws, "job", tmp_path / "elsewhere")
    assert not paths.state_pointer(ws, "job").exists()


def test_back_to_the_workspace_removes_the_pointer(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    settle_state_dir(ws, "job", tmp_path / "state")
    assert settle_state_dir(ws, "job", ws / ".marianne") is not None
    assert not paths.state_pointer(ws, "job").exists()
    assert paths.state_file(ws, "job") == ws / ".marianne" / "job.json"


def test_a_lock_taken_before_the_pointer_moved_is_caught(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    old_lock = paths.lock_file(ws, "job")
    settle_state_dir(ws, "job", tmp_path / "state")
    with pytest.raises(StateMoveError):
        confirm_state_dir(ws, "job", old_lock)
    confirm_state_dir(ws, "job", paths.lock_file(ws, "job"))
