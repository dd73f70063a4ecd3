"""Private folders and files, symlink-refusing opens, FIFO-safe reads, own-file checks."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from mzt.support.fsutil import (
    PRIVATE_UMASK,
    ensure_private_dir,
    is_own_regular_file,
    open_nofollow,
    read_regular_file,
    set_private_umask,
)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o277])
def test_ensure_private_dir_creates_0700_chains(tmp_path: Path, umask: int) -> None:
    previous = os.umask(umask)
    try:
        target = ensure_private_dir(tmp_path / "a" / "b" / "c")
    finally:
        os.umask(previous)
    for folder in (tmp_path / "a", tmp_path / "a" / "b", target):
        assert mode(folder) == 0o700


def test_ensure_private_dir_tightens_its_own_folder(tmp_path: Path) -> None:
    folder = tmp_path / "wide"
    folder.mkdir()
    folder.chmod(0o755)
    ensure_private_dir(folder)
    assert mode(folder) == 0o700


def test_ensure_private_dir_refuses_a_file(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("")
    with pytest.raises(NotADirectoryError):
        ensure_private_dir(tmp_path / "f")


@pytest.mark.parametrize("umask", [0o000, 0o022])
def test_open_nofollow_creates_0600(tmp_path: Path, umask: int) -> None:
    previous = os.umask(umask)
    try:
        fd = open_nofollow(tmp_path / "f", os.O_WRONLY | os.O_CREAT)
        os.close(fd)
    finally:
        os.umask(previous)
    assert mode(tmp_path / "f") == 0o600
    fd = open_nofollow(tmp_path / "f", os.O_RDONLY)
    try:
        assert not os.get_inheritable(fd)
    finally:
        os.close(fd)


def test_open_nofollow_keeps_an_existing_files_mode(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_text("x")
    path.chmod(0o640)
    os.close(open_nofollow(path, os.O_WRONLY | os.O_CREAT))
    assert mode(path) == 0o640


def test_open_nofollow_refuses_symlinks(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious")
    (tmp_path / "link").symlink_to(victim)
    with pytest.raises(OSError, match="symbolic links"):
        open_nofollow(tmp_path / "link", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    assert victim.read_text() == "precious"


def test_read_regular_file(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"0123456789")
    assert read_regular_file(path) == b"0123456789"
    assert read_regular_file(path, max_bytes=4) == b"0123"
    with pytest.raises(FileNotFoundError):
        read_regular_file(tmp_path / "missing")
    (tmp_path / "link").symlink_to(path)
    with pytest.raises(OSError, match="symbolic links"):
        read_regular_file(tmp_path / "link")
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(OSError, match="not a regular file"):
        read_regular_file(tmp_path / "fifo")  # returns at once instead of blocking


def test_is_own_regular_file(tmp_path: Path) -> None:
    path = tmp_path / ".marianne-pause-job"
    assert not is_own_regular_file(path)
    path.write_text("")
    assert is_own_regular_file(path)
    (tmp_path / "link").symlink_to(path)
    assert not is_own_regular_file(tmp_path / "link")
    assert not is_own_regular_file(tmp_path)


def test_set_private_umask_returns_the_previous_one() -> None:
    previous = os.umask(0o022)
    try:
        assert set_private_umask() == 0o022
        assert os.umask(0o022) == PRIVATE_UMASK
    finally:
        os.umask(previous)
