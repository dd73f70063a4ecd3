"""msgspec imported as if typing_extensions were not installed, wherever it first is.

msgspec supports that: it then takes ``get_type_hints``, ``Required`` and ``NotRequired``
from `typing`, which is all mzt's types use. With typing_extensions present (other
libraries install it), msgspec's import pulls it in, and it pulls in `inspect`, `ast`,
`dis` and `tokenize`: the largest single part of reading a checkpoint. The `mzt` program
installs :func:`install` at start; the first ``import msgspec`` of the process, from any
module, then runs with typing_extensions hidden. A library that imports typing_extensions
later still gets it, and should a msgspec ever need it, the import is made again with it.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # not `typing`: this runs at every start

if TYPE_CHECKING:
    from collections.abc import Sequence
    from importlib.machinery import ModuleSpec
    from types import ModuleType
    from typing import Any


def install() -> None:
    """Hide typing_extensions from the first import of msgspec (once; a no-op if late)."""
    if "msgspec" not in sys.modules and "typing_extensions" not in sys.modules:
        sys.meta_path.insert(0, _Finder)


class _Finder:
    @staticmethod
    def find_spec(
        name: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if name != "msgspec":
            return None
        sys.meta_path.remove(_Finder)
        if "typing_extensions" in sys.modules:
            return None
        from importlib.machinery import PathFinder

        spec = PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _Loader(spec.loader)  # type: ignore[assignment]
        return spec


class _Loader:
    """The real loader, run with ``sys.modules["typing_extensions"]`` set to None."""

    def __init__(self, real: Any) -> None:
        self.real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)  # create_module, resources…: as the real loader

    def exec_module(self, module: ModuleType) -> None:
        sys.modules["typing_extensions"] = None  # type: ignore[assignment]  # its import fails
        try:
            self.real.exec_module(module)
        except ImportError:
            # A msgspec that cannot do without it: import it as it is, fully.
            for name in [n for n in sys.modules if n.startswith("msgspec.")]:
                del sys.modules[name]
            del sys.modules["typing_extensions"]
            self.real.exec_module(module)
        finally:
            if sys.modules.get("typing_extensions", False) is None:
                del sys.modules["typing_extensions"]
