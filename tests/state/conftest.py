"""Fixtures for the state tests: a workspace, a store, small states, a clean environment."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from mzt.state import CheckpointState, JsonStateBackend


@dataclass
class Outcome:
    """A finished attempt as the runner would report it."""

    execution_success: bool = False
    rate_limited: bool = False
    cost_usd: float = 0.0
    duration_seconds: float = 0.0
    exit_code: int | None = None


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    return ws


@pytest.fixture
def store(workspace: Path) -> JsonStateBackend:
    backend = JsonStateBackend(workspace)
    yield backend
    backend.close()


def make_state(sheets: int = 3, job_id: str = "job") -> CheckpointState:
    """A fresh state with every sheet pre-created as pending."""
    state = CheckpointState(job_id=job_id, job_name=f"{job_id} name", total_sheets=sheets)
    for num in range(1, sheets + 1):
        state.sheet(num)
    return state
