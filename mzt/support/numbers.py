"""Lists of sheet numbers as people read them."""

from __future__ import annotations

from collections.abc import Iterable


def spans(nums: Iterable[int]) -> str:
    """``1-3, 7`` for ``[1, 2, 3, 7]`` (the numbers sorted, each once)."""
    parts: list[tuple[int, int]] = []
    for n in sorted(set(nums)):
        if parts and parts[-1][1] == n - 1:
            parts[-1] = (parts[-1][0], n)
        else:
            parts.append((n, n))
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in parts)
