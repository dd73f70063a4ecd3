"""Moving a workspace's files into an archive folder (`workspace_lifecycle` on `--fresh`).

What the last run left behind could satisfy the next run's validations before any sheet
wrote a thing, so `--fresh` can move it aside: every entry that no keep pattern matches
goes into ``<workspace>/<archive_dir>/<name>/``. A top-level entry moves whole; a folder
that holds something kept is entered instead, and only its other entries move (into a
folder of the same name in the archive).

Every move is a ``rename`` between folders opened without following symlinks, so a link
is moved as the link it is, and nothing outside the workspace is read or written even if
entries change while the archive is made. A move that fails skips that entry and is
reported; it never stops the rest.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import stat
from collections.abc import Iterable, Iterator
from datetime import datetime
from fnmatch import fnmatchcase

from mzt.support import records
from mzt.support.fsutil import PRIVATE_DIR_MODE

Parts = tuple[str, ...]

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_ITERATION_FILE = ".iteration"
_MAX_SUFFIX = 10_000
_NUMBER = re.compile(r"(\d+)")


@records.record(frozen=True, slots=True)
class ArchiveResult:
    """What archiving did; paths are relative to the workspace."""

    folder: str | None = None  # the archive made, None when nothing was moved
    moved: int = 0  # entries moved (a folder moved whole counts once)
    skipped: tuple[tuple[str, str], ...] = ()  # (entry, why) that stayed in place
    pruned: tuple[str, ...] = ()  # older archives removed by max_archives
    unpruned: tuple[tuple[str, str], ...] = ()  # (archive, why) that could not be removed
    refused: str | None = None  # why nothing was archived at all


class Keep:
    """Which workspace entries stay: glob patterns by path segment, plus exact paths.

    ``*``, ``?`` and ``[…]`` match within one segment; a ``**`` segment matches any
    number of segments, none included, so ``archive/**`` keeps the folder ``archive``.
    """

    def __init__(self, patterns: Iterable[str], exact: Iterable[Parts] = ()) -> None:
        self.patterns = [p for p in (split_relative(text) for text in patterns) if p]
        self.exact = set(exact)

    def kept(self, parts: Parts) -> bool:
        return parts in self.exact or any(_match(parts, p) for p in self.patterns)

    def holds_kept(self, parts: Parts) -> bool:
        """Whether something below ``parts`` may be kept (then the folder is entered)."""
        n = len(parts)
        if any(len(e) > n and e[:n] == parts for e in self.exact):
            return True
        return any(_may_hold(parts, p) for p in self.patterns)


def split_relative(text: str) -> Parts:
    """A workspace-relative path as segments, without empty and ``.`` segments."""
    return tuple(s for s in text.split("/") if s not in ("", "."))


def _match(parts: Parts, pattern: Parts) -> bool:
    if not pattern:
        return not parts
    head, rest = pattern[0], pattern[1:]
    if head == "**":
        return any(_match(parts[i:], rest) for i in range(len(parts) + 1))
    return bool(parts) and fnmatchcase(parts[0], head) and _match(parts[1:], rest)


def _may_hold(parts: Parts, pattern: Parts) -> bool:
    if not parts:
        return bool(pattern)  # segments are left to match something inside
    if not pattern:
        return False
    head = pattern[0]
    if head == "**":
        return True
    return fnmatchcase(parts[0], head) and _may_hold(parts[1:], pattern[1:])


# --- naming --------------------------------------------------------------------------------


def archive_name(ws_fd: int, naming: str, now: datetime) -> str:
    """``iteration``: the integer in the workspace's ``.iteration`` file; otherwise, and
    when that file is missing, unreadable or holds no integer, the UTC time."""
    if naming == "iteration":
        number = read_iteration(ws_fd)
        if number is not None:
            return str(number)
    return now.strftime("%Y%m%d-%H%M%S")


def read_iteration(ws_fd: int) -> int | None:
    """The non-negative integer in ``.iteration`` (a regular file, not a link), or None."""
    try:
        fd = os.open(_ITERATION_FILE, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=ws_fd)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        text = os.read(fd, 64).decode("ascii", "replace").strip()
    except OSError:
        return None
    finally:
        os.close(fd)
    return int(text) if text.isdigit() and text.isascii() and len(text) <= 18 else None


def claim_folder(root_fd: int, name: str) -> str:
    """Create ``name`` in the archive root (0700), or ``name-2``, ``name-3``… when taken."""
    for n in range(1, _MAX_SUFFIX + 1):
        candidate = name if n == 1 else f"{name}-{n}"
        try:
            _private_mkdir(candidate, root_fd)
        except FileExistsError:
            continue
        return candidate
    raise FileExistsError(errno.EEXIST, f"{name} and {_MAX_SUFFIX - 1} suffixed names are taken")


def _private_mkdir(name: str, dir_fd: int) -> None:
    os.mkdir(name, PRIVATE_DIR_MODE, dir_fd=dir_fd)
    # A umask can only take bits away; set the mode anyway so the folder is exactly 0700.
    fd = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    try:
        os.fchmod(fd, PRIVATE_DIR_MODE)
    finally:
        os.close(fd)


# --- pruning -------------------------------------------------------------------------------


def oldest_first(root_fd: int) -> list[str]:
    """The archive folders in the root (folders only, links never), oldest first: by
    modification time, then by name with numbers compared as numbers."""
    found: list[tuple[int, list[object], str]] = []
    with os.scandir(root_fd) as entries:
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    mtime = entry.stat(follow_symlinks=False).st_mtime_ns
                    found.append((mtime, _natural(entry.name), entry.name))
            except OSError:
                continue
    found.sort(key=lambda item: (item[0], item[1]))
    return [name for _, _, name in found]


def _natural(name: str) -> list[object]:
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in _NUMBER.split(name)]


def prune(root_fd: int, keep: int, current: str) -> tuple[list[str], list[tuple[str, str]]]:
    """Remove the oldest archives so that ``keep`` remain, never ``current``.

    Returns the names removed and (name, why) of those that could not be.
    """
    names = [n for n in oldest_first(root_fd) if n != current]
    excess = len(names) + 1 - keep
    removed: list[str] = []
    failed: list[tuple[str, str]] = []
    for name in names[: max(0, excess)]:
        try:
            # rmtree with dir_fd works through descriptors and never follows a link.
            shutil.rmtree(name, dir_fd=root_fd)
        except OSError as exc:
            failed.append((name, exc.strerror or str(exc)))
            continue
        removed.append(name)
    return removed, failed


# --- moving --------------------------------------------------------------------------------


def plan_moves(ws_fd: int, keep: Keep) -> tuple[list[Parts], list[tuple[str, str]]]:
    """Entries to move (as paths), and (path, why) of folders that could not be read."""
    moves: list[Parts] = []
    problems: list[tuple[str, str]] = []

    def visit(fd: int, prefix: Parts) -> None:
        for name, is_dir in _entries(fd):
            parts = (*prefix, name)
            if keep.kept(parts):
                continue
            if not (is_dir and keep.holds_kept(parts)):
                moves.append(parts)
                continue
            try:
                child = os.open(name, _DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                problems.append(("/".join(parts), exc.strerror or str(exc)))
                continue
            try:
                visit(child, parts)
            finally:
                os.close(child)

    visit(ws_fd, ())
    return moves, problems


def _entries(fd: int) -> Iterator[tuple[str, bool]]:
    with os.scandir(fd) as scan:
        listed = [(e.name, e.is_dir(follow_symlinks=False)) for e in scan]
    yield from sorted(listed)


def move_entries(ws_fd: int, dest_fd: int, moves: list[Parts]) -> tuple[int, list[tuple[str, str]]]:
    """Rename each entry into the same relative place under ``dest_fd``."""
    moved = 0
    skipped: list[tuple[str, str]] = []
    opened: dict[Parts, tuple[int, int]] = {(): (ws_fd, dest_fd)}
    try:
        for parts in moves:
            shown = "/".join(parts)
            try:
                src, dst = _folders(opened, parts[:-1])
                os.rename(parts[-1], parts[-1], src_dir_fd=src, dst_dir_fd=dst)
            except OSError as exc:
                skipped.append((shown, exc.strerror or str(exc)))
                continue
            moved += 1
    finally:
        for key, (src, dst) in opened.items():
            if key:
                os.close(src)
                os.close(dst)
    return moved, skipped


def _folders(opened: dict[Parts, tuple[int, int]], parts: Parts) -> tuple[int, int]:
    """The source folder and its mirror in the archive (made on first use), both opened."""
    if parts in opened:
        return opened[parts]
    parent_src, parent_dst = _folders(opened, parts[:-1])
    name = parts[-1]
    src = os.open(name, _DIR_FLAGS, dir_fd=parent_src)
    try:
        with contextlib.suppress(FileExistsError):
            _private_mkdir(name, parent_dst)
        dst = os.open(name, _DIR_FLAGS, dir_fd=parent_dst)
    except OSError:
        os.close(src)
        raise
    opened[parts] = (src, dst)
    return src, dst


def open_archive_root(ws_fd: int, parts: Parts) -> int:
    """Open (creating as 0700) the archive root below the workspace, one folder at a time.

    Raises `ArchiveRefused` when a component is a symbolic link or not a folder: archives
    stay inside the workspace, wherever a link would lead.
    """
    fd = os.dup(ws_fd)
    try:
        for i, name in enumerate(parts):
            shown = "/".join(parts[: i + 1])
            with contextlib.suppress(FileExistsError):
                _private_mkdir(name, fd)
            try:
                child = os.open(name, _DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                raise ArchiveRefused(_refusal(fd, name, shown, exc)) from None
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def _refusal(fd: int, name: str, shown: str, exc: OSError) -> str:
    try:
        st = os.stat(name, dir_fd=fd, follow_symlinks=False)
    except OSError:
        return f"{shown}/ cannot be opened ({exc.strerror})"
    if stat.S_ISLNK(st.st_mode):
        target = os.readlink(name, dir_fd=fd)
        return f"{shown} is a symbolic link (to {target}); archives stay inside the workspace"
    if not stat.S_ISDIR(st.st_mode):
        return f"{shown} is there but is not a folder"
    return f"{shown}/ cannot be opened ({exc.strerror})"


class ArchiveRefused(Exception):
    """The archive folder cannot be used; the message says why."""


def archive_workspace(
    workspace: str,
    keep: Keep,
    *,
    archive_dir: str,
    naming: str,
    max_archives: int,
    now: datetime,
) -> ArchiveResult:
    """Move what ``keep`` does not keep into a new archive folder; prune old ones.

    ``keep`` must keep the archive root itself; the caller knows what else never moves.
    """
    root = split_relative(archive_dir)
    if not root or ".." in root or archive_dir.startswith("/"):
        return ArchiveResult(refused=f"archive_dir {archive_dir!r} is not a folder inside it")
    prefix = "/".join(root)
    try:
        ws_fd = os.open(workspace, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        return ArchiveResult(refused=f"the workspace cannot be opened ({exc.strerror})")
    try:
        try:
            moves, skipped = plan_moves(ws_fd, keep)
        except OSError as exc:
            return ArchiveResult(refused=f"the workspace cannot be listed ({exc.strerror})")
        if not moves:
            return ArchiveResult(skipped=tuple(skipped))
        try:
            root_fd = open_archive_root(ws_fd, root)
        except ArchiveRefused as exc:
            return ArchiveResult(refused=str(exc))
        except OSError as exc:
            return ArchiveResult(refused=f"{prefix}/ cannot be made ({exc.strerror})")
        try:
            try:
                name = claim_folder(root_fd, archive_name(ws_fd, naming, now))
                dest_fd = os.open(name, _DIR_FLAGS, dir_fd=root_fd)
            except OSError as exc:
                return ArchiveResult(refused=f"no archive folder in {prefix}/ ({exc.strerror})")
            try:
                moved, failed = move_entries(ws_fd, dest_fd, moves)
            finally:
                os.close(dest_fd)
            pruned: list[str] = []
            unpruned: list[tuple[str, str]] = []
            if not moved:  # every move failed: no empty archive, and none removed for it
                with contextlib.suppress(OSError):
                    os.rmdir(name, dir_fd=root_fd)
                return ArchiveResult(skipped=(*skipped, *failed))
            if max_archives > 0:
                pruned, unpruned = prune(root_fd, max_archives, name)
        finally:
            os.close(root_fd)
    finally:
        os.close(ws_fd)
    return ArchiveResult(
        folder=f"{prefix}/{name}",
        moved=moved,
        skipped=(*skipped, *failed),
        pruned=tuple(f"{prefix}/{n}" for n in pruned),
        unpruned=tuple((f"{prefix}/{n}", why) for n, why in unpruned),
    )
