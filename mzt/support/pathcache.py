"""Executables found on a PATH, remembered for as long as they stay there.

Every attempt looks its program up on PATH, twice (is it installed, can the held start
exec it), over every PATH folder in turn: some twenty stat calls per sheet for the same
answer nearly every time. A remembered answer is checked again with a single stat and
access, so an executable that was removed or lost its execute bit is noticed at once;
one that is installed earlier on PATH during a run is seen from the next lookup that
misses, as a long-running shell's hash table would.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable

_FOUND: dict[tuple[str, str, str], str] = {}


def lookup(
    kind: str, program: str, search: str, find: Callable[[], str | None], *, regular: bool
) -> str | None:
    """``find()``'s answer for ``program`` on ``search``, from memory while still valid.

    ``kind`` keeps apart lookups that accept different files; ``regular`` asks for a
    regular file (else anything but a folder), executable by this process.
    """
    key = (kind, program, search)
    known = _FOUND.get(key)
    if known is not None and _still_there(known, regular=regular):
        return known
    found = find()
    # A relative folder (or name) depends on the working directory: not remembered.
    if found is not None and os.sep not in program and _absolute_only(search):
        _FOUND[key] = found
    else:
        _FOUND.pop(key, None)
    return found


def _still_there(path: str, *, regular: bool) -> bool:
    try:
        mode = os.stat(path).st_mode  # noqa: PTH116 (a string path: this runs per attempt)
    except OSError:
        return False
    kind_ok = stat.S_ISREG(mode) if regular else not stat.S_ISDIR(mode)
    return kind_ok and os.access(path, os.X_OK)


def _absolute_only(search: str) -> bool:
    return all(folder.startswith("/") for folder in search.split(os.pathsep))
