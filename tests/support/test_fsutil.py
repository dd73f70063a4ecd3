"""Private folders and files, symlink-refusing opens, FIFO-safe reads, own-file checks."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from mzt.support.errors import FolderError
from mzt.support.exitcodes import ExitCode
from mzt.support.fsutil import (
    PRIVATE_UMASK,
    ensure_private_dir,
    entry_exists,
    is_own_regular_file,
    kind_of,
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
    with pytest.raises(FolderError, match="it is a regular file, not a folder") as caught:
        ensure_private_dir(tmp_path / "f")
    assert caught.value.exit_code == ExitCode.STATE
    assert caught.value.blocker == str(tmp_path / "f")


def test_ensure_private_dir_names_a_file_in_the_way_above(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("keep")
    with pytest.raises(FolderError) as caught:
        ensure_private_dir(tmp_path / "f" / "ws" / ".marianne")
    # The folder it failed to make, and the file that stopped it.
    assert str(tmp_path / "f" / "ws") in caught.value.message
    assert f"{tmp_path / 'f'} is a regular file, not a folder" in caught.value.message
    assert caught.value.hint is not None and "move it aside" in caught.value.hint
    assert (tmp_path / "f").read_text() == "keep"


@pytest.mark.parametrize("kind", ["fifo", "symlink", "dangling"])
def test_ensure_private_dir_refuses_other_things(tmp_path: Path, kind: str) -> None:
    target = tmp_path / "x"
    if kind == "fifo":
        os.mkfifo(target)
    else:
        target.symlink_to(tmp_path if kind == "symlink" else tmp_path / "gone")
    with pytest.raises(FolderError, match="not a folder"):
        ensure_private_dir(target)
    assert not (tmp_path / "gone").exists()


def test_ensure_private_dir_in_proc_is_a_folder_error() -> None:
    with pytest.raises(FolderError) as caught:
        ensure_private_dir(Path("/proc/self/mzt-test"))
    assert caught.value.errno_name in ("ENOENT", "EACCES", "EPERM")


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
    with pytest.raises(OSError, match="it is a symlink"):
        read_regular_file(tmp_path / "link")
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(OSError, match="it is a FIFO, not a regular file"):
        read_regular_file(tmp_path / "fifo")  # returns at once instead of blocking
    with pytest.raises(IsADirectoryError):
        read_regular_file(tmp_path)
    with pytest.raises(OSError, match="it is a character device"):
        read_regular_file(Path("/dev/zero"))  # never read to its (absent) end


def test_read_regular_file_reads_to_the_end_past_its_size_and_chunks(tmp_path: Path) -> None:
    path = tmp_path / "big"
    data = bytes(range(256)) * (3 * 4096 + 7)  # three chunks of 1 MiB and a bit
    path.write_bytes(data)
    assert read_regular_file(path) == data
    assert read_regular_file(path, max_bytes=5 << 20) == data
    assert read_regular_file(path, max_bytes=(1 << 20) + 3) == data[: (1 << 20) + 3]
    # Reads whose size the file does not say: to the end all the same.
    assert read_regular_file(Path("/proc/self/status")).startswith(b"Name:")


def test_kind_of_and_entry_exists(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("")
    os.mkfifo(tmp_path / "p")
    (tmp_path / "l").symlink_to(tmp_path / "gone")
    assert kind_of(tmp_path / "f") == "a regular file"
    assert kind_of(tmp_path / "p") == "a FIFO"
    assert kind_of(tmp_path / "l") == "a symlink"
    assert kind_of(tmp_path) == "a folder"
    assert kind_of(Path("/dev/null")) == "a character device"
    assert kind_of(tmp_path / "gone") == "missing"
    assert entry_exists(tmp_path / "l") and entry_exists(tmp_path / "p")
    assert not entry_exists(tmp_path / "gone")
    assert not entry_exists(tmp_path / "f" / "below")


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
