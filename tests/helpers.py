"""Small builders shared by the tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

MZT = [sys.executable, "-m", "mzt"]


def minimal(**overrides: Any) -> dict[str, Any]:
    """The smallest valid score as data, with top-level keys replaced by ``overrides``."""
    data: dict[str, Any] = {
        "name": "t",
        "sheet": {"size": 1, "total_items": 3},
        "prompt": {"template": "sheet {{ sheet_num }}"},
    }
    data.update(overrides)
    return data


def side_by_side(name: str, sheets: int, template: str, **extra: Any) -> dict[str, Any]:
    """A `cli` score of one stage fanned out to ``sheets`` voices, all allowed to run at once."""
    data: dict[str, Any] = {
        "name": name,
        "instrument": "cli",
        "sheet": {"size": 1, "total_items": 1, "fan_out": {1: sheets}},
        "parallel": {"enabled": True, "max_concurrent": sheets},
        "prompt": {"template": template},
    }
    data.update(extra)
    return data


def write_score(folder: Path, data: dict[str, Any] | str, name: str = "score.yaml") -> Path:
    path = folder / name
    text = data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path


def run_mzt(
    *args: str | Path, cwd: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run the installed mzt as a user would, in a subprocess."""
    env = dict(os.environ)
    return subprocess.run(
        [*MZT, *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
