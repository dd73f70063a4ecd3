from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mzt.run.workspace.archive import (
    ArchiveResult,
    Keep,
    archive_name,
    archive_workspace,
    claim_folder,
    oldest_first,
    prune,
    read_iteration,
)
from mzt.score.models.workspace import DEFAULT_PRESERVE

NOW = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    folder = tmp_path / "ws"
    folder.mkdir()
    return folder


@pytest.fixture
def fd(ws: Path) -> Iterator[int]:
    handle = os.open(ws, os.O_RDONLY | os.O_DIRECTORY)
    yield handle
    os.close(handle)


def archive(
    ws: Path,
    keep: Keep | None = None,
    *,
    archive_dir: str = "archive",
    naming: str = "iteration",
    max_archives: int = 0,
) -> ArchiveResult:
    keep = keep or Keep(DEFAULT_PRESERVE, {(".marianne",), ("archive",)})
    return archive_workspace(
        str(ws),
        keep,
        archive_dir=archive_dir,
        naming=naming,
        max_archives=max_archives,
        now=NOW,
    )


def test_keep_patterns_by_segment() -> None:
    keep = Keep([*DEFAULT_PRESERVE, "docs/keep.md", "**/*.log", "./notes/"])
    assert keep.kept((".iteration",)) and keep.kept((".marianne-pause-job",))
    assert keep.kept(("archive",)) and keep.kept(("archive", "1", "x"))
    assert keep.kept(("docs", "keep.md")) and not keep.kept(("docs",))
    assert keep.kept(("a", "b", "run.log")) and keep.kept(("run.log",))
    assert keep.kept(("notes",))
    assert not keep.kept((".marianne",))  # the default patterns do not keep mzt's folder
    assert not keep.kept(("out.txt",)) and not keep.kept(("archived",))
    assert keep.holds_kept(("docs",)) and keep.holds_kept(("src",))  # `**/*.log`
    assert not Keep(["docs/keep.md"]).holds_kept(("src",))
    assert Keep([], {("a", "b", "c")}).holds_kept(("a", "b"))
    assert not Keep([], {("a", "b")}).holds_kept(("a", "b"))


def test_iteration_naming_reads_the_integer(ws: Path, fd: int) -> None:
    assert archive_name(fd, "iteration", NOW) == "20260304-050607"  # no file: the time
    (ws / ".iteration").write_text("7\n")
    assert read_iteration(fd) == 7
    assert archive_name(fd, "iteration", NOW) == "7"
    assert archive_name(fd, "timestamp", NOW) == "20260304-050607"
    for corrupt in ("seven", "-1", "3.5", "", "1" * 40, "٣"):
        (ws / ".iteration").write_text(corrupt)
        assert archive_name(fd, "iteration", NOW) == "20260304-050607", corrupt


def test_iteration_file_that_is_a_link_or_folder_is_not_read(ws: Path, fd: int) -> None:
    outside = ws.parent / "number"
    outside.write_text("5")
    (ws / ".iteration").symlink_to(outside)
    assert read_iteration(fd) is None
    (ws / ".iteration").unlink()
    (ws / ".iteration").mkdir()
    assert read_iteration(fd) is None


def test_a_taken_name_gets_a_suffix(ws: Path, fd: int) -> None:
    assert [claim_folder(fd, "4") for _ in range(3)] == ["4", "4-2", "4-3"]
    (ws / "5").write_text("a file takes the name too")
    assert claim_folder(fd, "5") == "5-2"
    assert stat.S_IMODE((ws / "4-3").stat().st_mode) == 0o700


def test_pruning_removes_the_oldest_and_never_the_new_one(ws: Path, fd: int) -> None:
    for age, name in enumerate(["10", "9", "2", "new"]):
        (ws / name).mkdir()
        (ws / name / "f").write_text(name)
        os.utime(ws / name, ns=(10**18 + age, 10**18 + age))  # "10" is the oldest
    os.utime(ws / "new", ns=(1, 1))  # made now, even if its clock says otherwise
    outside = ws.parent / "elsewhere"
    outside.mkdir()
    (ws / "link").symlink_to(outside)  # not an archive: never followed, never removed
    removed, failed = prune(fd, 2, "new")
    assert (removed, failed) == (["10", "9"], [])
    assert sorted(p.name for p in ws.iterdir()) == ["2", "link", "new"]
    assert outside.is_dir()


def test_equal_times_fall_back_to_numeric_name_order(ws: Path, fd: int) -> None:
    for name in ("10", "9", "9-2", "b", "a"):
        (ws / name).mkdir()
        os.utime(ws / name, ns=(5, 5))
    assert oldest_first(fd) == ["9", "9-2", "10", "a", "b"]


def test_archive_moves_what_is_not_kept(ws: Path) -> None:
    (ws / ".iteration").write_text("3")
    (ws / ".marianne").mkdir()
    (ws / ".marianne" / "job.lock").write_text("")
    (ws / ".marianne-pause-job").write_text("")
    (ws / "out.txt").write_text("old")
    (ws / "sub").mkdir()
    (ws / "sub" / "deep.txt").write_text("old")
    result = archive(ws)
    assert result.folder == "archive/3" and result.moved == 2
    assert sorted(p.name for p in ws.iterdir()) == [
        ".iteration",
        ".marianne",
        ".marianne-pause-job",
        "archive",
    ]
    assert (ws / "archive" / "3" / "sub" / "deep.txt").read_text() == "old"
    assert stat.S_IMODE((ws / "archive").stat().st_mode) == 0o700
    assert stat.S_IMODE((ws / "archive" / "3").stat().st_mode) == 0o700


def test_nothing_to_move_makes_no_archive(ws: Path) -> None:
    (ws / ".iteration").write_text("1")
    result = archive(ws)
    assert result.folder is None and result.moved == 0
    assert not (ws / "archive").exists()


def test_a_folder_holding_a_kept_entry_is_entered(ws: Path) -> None:
    (ws / "docs").mkdir()
    (ws / "docs" / "keep.md").write_text("mine")
    (ws / "docs" / "draft.md").write_text("old")
    (ws / "docs" / "old").mkdir()
    keep = Keep(["docs/keep.md"], {("archive",)})
    result = archive(ws, keep, naming="timestamp")
    assert result.moved == 2
    assert sorted(p.name for p in (ws / "docs").iterdir()) == ["keep.md"]
    moved = ws / "archive" / "20260304-050607" / "docs"
    assert sorted(p.name for p in moved.iterdir()) == ["draft.md", "old"]


def test_links_move_as_links_and_their_targets_stay(ws: Path) -> None:
    outside = ws.parent / "outside"
    outside.mkdir()
    (outside / "precious").write_text("x")
    (ws / "to-folder").symlink_to(outside)
    (ws / "dangling").symlink_to(ws.parent / "nothing")
    archive(ws, Keep(["docs/**"], {("archive",)}))
    moved = ws / "archive" / "20260304-050607"
    assert os.readlink(moved / "to-folder") == str(outside)
    assert (moved / "dangling").is_symlink()
    assert (outside / "precious").read_text() == "x"


def test_an_archive_dir_that_is_a_link_is_refused(ws: Path) -> None:
    outside = ws.parent / "outside"
    outside.mkdir()
    (ws / "archive").symlink_to(outside)
    (ws / "out.txt").write_text("old")
    result = archive(ws)
    assert result.refused == (
        f"archive is a symbolic link (to {outside}); archives stay inside the workspace"
    )
    assert (ws / "out.txt").exists() and list(outside.iterdir()) == []


def test_archive_dirs_outside_the_workspace_or_in_a_file_are_refused(ws: Path) -> None:
    (ws / "out.txt").write_text("old")
    for bad in ("../up", "/tmp/abs", ".", "a/../../b"):
        result = archive(ws, archive_dir=bad)
        assert "is not a folder inside it" in result.refused, bad
    (ws / "blocker").write_text("")
    keep = Keep([], {("blocker", "x")})
    result = archive(ws, keep, archive_dir="blocker/x")
    assert result.refused == "blocker is there but is not a folder"
    assert (ws / "out.txt").exists()


def test_a_nested_archive_dir_is_made_private_step_by_step(ws: Path) -> None:
    (ws / "out.txt").write_text("old")
    keep = Keep([], {("keep", "archives")})
    result = archive(ws, keep, archive_dir="keep/archives", naming="timestamp")
    assert result.folder == "keep/archives/20260304-050607"
    assert stat.S_IMODE((ws / "keep").stat().st_mode) == 0o700


def _immutable(path: Path) -> bool:
    done = subprocess.run(["chattr", "+i", str(path)], capture_output=True, check=False)
    return done.returncode == 0


def test_an_entry_that_cannot_move_is_skipped_and_the_rest_moves(ws: Path) -> None:
    stuck = ws / "stuck.txt"
    stuck.write_text("old")
    (ws / "free.txt").write_text("old")
    if not _immutable(stuck):
        pytest.skip("chattr +i is not available here")
    try:
        result = archive(ws, naming="timestamp")
    finally:
        subprocess.run(["chattr", "-i", str(stuck)], check=True)
    assert result.moved == 1
    [(path, why)] = result.skipped
    assert path == "stuck.txt" and why == "Operation not permitted"
    assert stuck.exists() and (ws / "archive" / "20260304-050607" / "free.txt").exists()


def test_when_every_move_fails_no_empty_archive_stays(ws: Path) -> None:
    stuck = ws / "stuck.txt"
    stuck.write_text("old")
    (ws / "archive").mkdir()
    for n in range(3):
        (ws / "archive" / str(n)).mkdir()
    if not _immutable(stuck):
        pytest.skip("chattr +i is not available here")
    try:
        result = archive(ws, naming="timestamp", max_archives=1)
    finally:
        subprocess.run(["chattr", "-i", str(stuck)], check=True)
    assert result.folder is None and result.pruned == ()
    assert sorted(p.name for p in (ws / "archive").iterdir()) == ["0", "1", "2"]
