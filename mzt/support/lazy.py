"""Package attributes that load their module on first use.

A package lists what it offers in a table of name → module (or → (module, attribute)
when the name differs); `exports` turns the table into the package's ``__getattr__``.
Commands that need one corner of a package then import only that corner.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping

# Not `typing`: importing it is a visible share of `mzt status`'s whole answer.
TYPE_CHECKING = False

if TYPE_CHECKING:
    from typing import Any

Where = str | tuple[str, str]


def exports(
    package: str, table: Mapping[str, Where], namespace: dict[str, Any]
) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package`` that loads ``table``'s names into ``namespace``."""

    def attribute(name: str) -> Any:
        where = table.get(name)
        if where is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, attr = (where, name) if isinstance(where, str) else where
        value = getattr(importlib.import_module(module), attr)
        namespace[name] = value  # found directly from now on
        return value

    return attribute
