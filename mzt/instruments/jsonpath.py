"""Dot paths into parsed JSON: ``a.b``, ``a[0]``, ``a.*``, ``a.*.b``, ``messages[1].content[0]``.

``*`` stands for every value of a mapping or every item of a list; an integer in
brackets (negative counts from the end) or a plain number picks a list item. A path
that leads nowhere yields nothing; it never raises on data.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from mzt.support.lazyre import LazyPattern

WILDCARD = "*"
Step = str | int

_PART = LazyPattern(r"([^\[\]]*)((?:\[-?\d+\])*)")
_INDEX = LazyPattern(r"\[(-?\d+)\]")


@lru_cache(maxsize=256)
def compile_path(path: str) -> tuple[Step, ...]:
    """The steps of ``path``; raises ValueError for a malformed path."""
    if not path or path.strip() != path:
        raise ValueError(f"{path!r} is not a dot path (such as `result` or `a.b[0].c`)")
    steps: list[Step] = []
    for i, part in enumerate(path.split(".")):
        match = _PART.fullmatch(part)
        key = match.group(1) if match else ""
        # Only the first part may start with an index (`[0].a`); elsewhere `a..b` is a typo.
        if match is None or (not key and (i > 0 or not match.group(2))):
            raise ValueError(f"{path!r} is not a valid dot path: {part!r} is not a key")
        if key:
            steps.append(key)
        steps.extend(int(n) for n in _INDEX.findall(match.group(2)))
    return tuple(steps)


def find_all(data: Any, path: str) -> list[Any]:
    """Every value ``path`` reaches in ``data``, in document order (nulls left out)."""
    current = [data]
    for step in compile_path(path):
        found: list[Any] = []
        for value in current:
            if step == WILDCARD:
                if isinstance(value, dict):
                    found.extend(value.values())
                elif isinstance(value, list):
                    found.extend(value)
            elif isinstance(value, dict):
                if isinstance(step, str) and step in value:
                    found.append(value[step])
            elif isinstance(value, list):
                index = _as_index(step)
                if index is not None and -len(value) <= index < len(value):
                    found.append(value[index])
        current = found
        if not current:
            break
    return [value for value in current if value is not None]


def find_first(data: Any, path: str) -> Any | None:
    """The first value ``path`` reaches in ``data``, or None."""
    found = find_all(data, path)
    return found[0] if found else None


def _as_index(step: Step) -> int | None:
    if isinstance(step, int):
        return step
    return int(step) if step.isdigit() else None
