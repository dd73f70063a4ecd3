from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Every test gets its own MZT_HOME and no colour; the real home is never touched."""
    home = tmp_path_factory.mktemp("mzt-home")
    monkeypatch.setenv("MZT_HOME", str(home))
    monkeypatch.setenv("NO_COLOR", "1")
    return home


@pytest.fixture(autouse=True)
def _environment_unchanged() -> object:
    before = dict(os.environ)
    yield
    # monkeypatch restores what it set; anything else leaking out is a bug in the test.
    leaked = {k for k in set(os.environ) ^ set(before) if not k.startswith(("PYTEST_", "MZT_HOME"))}
    assert not leaked, f"a test changed the environment: {sorted(leaked)}"
