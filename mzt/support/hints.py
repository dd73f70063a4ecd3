"""The nearest known name to a misspelt one, for "did you mean …?" hints.

`difflib` is imported only when a hint is wanted: most scores have nothing to hint at,
and its import is a share of `mzt validate`'s start-up.
"""

from __future__ import annotations

from collections.abc import Iterable


def closest(word: str, known: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The known name most like ``word`` if it is at least ``cutoff`` alike, else None."""
    import difflib

    found = difflib.get_close_matches(word, list(known), n=1, cutoff=cutoff)
    return found[0] if found else None
