"""Linux inotify through the C library: events as they happen, a stop from another thread."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from mzt.machine import inotify

MASK = inotify.IN_MODIFY | inotify.IN_CLOSE_WRITE | inotify.IN_DELETE


def test_a_write_a_close_and_a_delete_are_read_with_their_paths(tmp_path: Path) -> None:
    watch = inotify.Inotify([str(tmp_path)], MASK)
    try:
        path = tmp_path / "0.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        os.write(fd, b"record")
        os.close(fd)
        path.unlink()
        seen: list[tuple[int, str]] = []
        while not any(mask & inotify.IN_DELETE for mask, _ in seen):
            batch = watch.read()
            assert batch is not None
            seen.extend(batch)
        assert {p for _, p in seen} == {str(path)}
        masks = [mask for mask, _ in seen]
        assert any(m & inotify.IN_MODIFY for m in masks)
        assert any(m & inotify.IN_CLOSE_WRITE for m in masks)
    finally:
        watch.close()


def test_a_stop_from_another_thread_ends_a_read_in_progress(tmp_path: Path) -> None:
    watch = inotify.Inotify([str(tmp_path)], MASK)
    results: list[object] = []
    reader = threading.Thread(target=lambda: results.append(watch.read()))
    reader.start()
    watch.stop()
    reader.join(10)
    assert not reader.is_alive() and results == [None]
    watch.close()
    watch.stop()  # after the close: a no-op, never a write to a reused descriptor number


def test_a_folder_that_cannot_be_watched_is_an_os_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    for target in (tmp_path / "missing", tmp_path / "file"):
        with pytest.raises(OSError, match="inotify_add_watch"):
            inotify.Inotify([str(target)], MASK)
