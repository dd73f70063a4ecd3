"""The profiles shipped in ``mzt/instruments/builtin/``: known by file name, read on use.

A built-in profile's file is named after the instrument it defines, so every built-in
name is known from one directory listing; a file is read only when its instrument is
used. These files ship with mzt and are trusted, so they are parsed with libyaml's C
loader when PyYAML has it (ten times faster than the pure-Python reader); profiles
users write keep going through the hardened reader in :mod:`mzt.support.yamlsafe`.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

FOLDER = Path(__file__).resolve().parent / "builtin"
SUFFIXES = (".yaml", ".yml")


@cache
def files() -> dict[str, Path]:
    """Every shipped profile file by the instrument name it is named after, sorted."""
    found = {}
    for entry in sorted(FOLDER.iterdir(), key=lambda e: e.name):
        if entry.suffix in SUFFIXES and not entry.name.startswith(".") and entry.is_file():
            found[entry.stem] = entry
    return found


def read(path: Path) -> Any:
    """The plain data of a shipped profile (raises ``yaml.YAMLError`` or ``OSError``)."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(path.read_bytes(), Loader=loader)  # noqa: S506 - a safe loader
