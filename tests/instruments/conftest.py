from __future__ import annotations

from pathlib import Path

import pytest

from mzt.instruments import Registry, load_instruments


@pytest.fixture
def registry(tmp_path: Path, _isolated_home: Path) -> Registry:
    """The built-in profiles only: an empty MZT_HOME and a current directory without profiles."""
    return load_instruments(home=_isolated_home, cwd=tmp_path)
