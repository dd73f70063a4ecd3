"""The starter score `mzt init` writes."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from mzt.support.errors import UsageError

_INIT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


def init_score(name: str, *, folder: Path, force: bool = False) -> Path:
    """Write a starter score ``<folder>/<name>.yaml`` and return its path."""
    if not _INIT_NAME.match(name):
        raise UsageError(
            f"{name!r} is not a usable score name",
            hint="use letters, digits, '-' and '_' (at most 64, starting with a letter or digit)",
        )
    if not folder.is_dir():
        raise UsageError(f"the folder {folder} does not exist")
    target = folder / f"{name}.yaml"
    if target.exists() and not force:
        raise UsageError(f"{target} already exists", hint="pass --force to overwrite it")
    text = resources.files("mzt").joinpath("data/starter.yaml").read_text(encoding="utf-8")
    # Plain markers, not str.format: the starter is full of Jinja and bash braces.
    text = text.replace("__NAME__", name).replace("__FILE__", target.name)
    target.write_text(text, encoding="utf-8")
    return target
