"""Fixtures shared by the score tests (helpers live in `score_cli`)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def cli_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MZT_HOME for command lines run outside a single test (module-level batches)."""
    return tmp_path_factory.mktemp("mzt-home-batch")
