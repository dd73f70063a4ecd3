"""Pydantic as mzt uses it: no search for third-party plugins.

The first time pydantic builds a validator it asks the installed packages' entry points
for plugins, which imports ``importlib.metadata`` (and with it email, zipfile, csv …):
25–80 ms of every command that reads a score or an instrument profile, more than the
rest of ``mzt validate`` takes to start. mzt's models use no pydantic plugin, so mzt
answers that question for pydantic, once per process, before any model is defined.
Should pydantic move the lookup elsewhere, the answer is simply not asked for and
plugins are searched for as before: slower, never wrong.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from types import ModuleType

_LOADER = "pydantic.plugin._loader"


def _no_plugins() -> Iterable[object]:
    return ()


def skip_plugin_discovery() -> None:
    """Make pydantic find no plugins without looking (idempotent)."""
    if _LOADER in sys.modules:
        return
    loader = ModuleType(_LOADER, "mzt: pydantic plugins are not searched for")
    loader.__dict__["get_plugins"] = _no_plugins
    sys.modules[_LOADER] = loader
