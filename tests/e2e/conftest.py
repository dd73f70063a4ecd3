from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

FAKE_AGENT = Path(__file__).with_name("fake_agent.py")


@dataclass
class Project:
    """A workspace, a score in it, and ways to run mzt on it as a user would."""

    root: Path
    home: Path

    @property
    def workspace(self) -> Path:
        return self.root / "ws"

    def score(self, data: dict[str, Any], name: str = "score.yaml") -> Path:
        data = {"workspace": "./ws", "pause_between_sheets_seconds": 0, **data}
        path = self.root / name
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return path

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {**os.environ, "MZT_HOME": str(self.home), "NO_COLOR": "1", **(extra or {})}

    def mzt(
        self, *args: object, timeout: float = 120, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "mzt", *map(str, args)],
            cwd=self.root,
            env=self.env(env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def start(self, *args: object, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "mzt", *map(str, args)],
            cwd=self.root,
            env=self.env(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def state(self, job: str) -> dict[str, Any]:
        """The snapshot file's document with the defaults it leaves out filled in."""
        from mzt.state.loader import read_snapshot

        path = self.workspace / ".marianne" / f"{job}.json"
        json.loads(path.read_text())  # the file itself must be plain JSON
        state = read_snapshot(job, path)
        assert state is not None
        doc = state.model_dump(mode="json")
        doc["sheets"] = {str(n): s for n, s in doc["sheets"].items()}
        return doc

    def sheets(self, job: str) -> dict[int, dict[str, Any]]:
        """Sheet states, with the journal folded in (what mzt's readers see)."""
        from mzt.state import JsonStateBackend

        state = JsonStateBackend(self.workspace).load(job)
        assert state is not None
        return {n: s.model_dump(mode="json") for n, s in state.sheets.items()}

    def fake_profile(
        self, name: str = "fake", executable: str = sys.executable, **cli: Any
    ) -> None:
        """Install the scripted fake agent as a user instrument profile."""
        folder = self.home / "instruments"
        folder.mkdir(parents=True, exist_ok=True)
        profile = {
            "name": name,
            "display_name": "Fake agent",
            "kind": "cli",
            "default_timeout_seconds": 60,
            "cli": {
                "command": {
                    "executable": executable,
                    "subcommand": str(FAKE_AGENT),
                    "prompt_via_stdin": True,
                },
                "output": {"format": "text"},
                **cli,
            },
        }
        (folder / f"{name}.yaml").write_text(yaml.safe_dump(profile, sort_keys=False))


@pytest.fixture
def project(tmp_path: Path) -> Project:
    home = tmp_path / "home"
    home.mkdir()
    root = tmp_path / "proj"
    root.mkdir()
    return Project(root, home)


def wait_for(predicate: Callable[[], bool], timeout: float = 20, step: float = 0.05) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(step)
    raise AssertionError("condition not met in time")


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
