"""The `mzt` command line: a thin shell over `mzt.api`.

Each command parses its flags, calls one api function and renders the result. Errors
the user can act on arrive as `MztError` and are rendered once, here, as a paragraph
and a hint (or a JSON error document under --json); anything unexpected becomes a
one-line summary plus a crash report file, never a bare traceback.

`cli` and `main` (in :mod:`mzt.cli.group`) load on first use, so the click-free answers
in :mod:`mzt.cli.fast` start without importing click.
"""

from __future__ import annotations

# Not `typing`: importing it is a visible share of `mzt status`'s whole answer.
TYPE_CHECKING = False

if TYPE_CHECKING:
    from typing import Any

    from mzt.cli.group import COMMANDS, LazyGroup, cli, main

_EXPORTS = frozenset({"COMMANDS", "LazyGroup", "cli", "main"})


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'mzt.cli' has no attribute {name!r}")
    from mzt.cli import group

    value = getattr(group, name)
    globals()[name] = value
    return value


__all__ = ["COMMANDS", "LazyGroup", "cli", "main"]
