"""`mzt.cli.options`: shell completion of job ids and instrument names, through `mzt`."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.helpers import MZT, minimal, write_score


def complete(words: str, cwd: Path, home: Path) -> list[str]:
    """What bash completion offers for the last of ``words``."""
    env = {
        **os.environ,
        "MZT_HOME": str(home),
        "_MZT_COMPLETE": "bash_complete",
        "COMP_WORDS": words,
        "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1)),
    }
    out = subprocess.run(MZT, env=env, cwd=cwd, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
    return [line.split(",", 1)[1] for line in out.stdout.splitlines() if "," in line]


def test_job_ids_complete_from_the_workspace_and_the_registry(tmp_path: Path) -> None:
    home = tmp_path / "home"
    for name in ("nightly-review", "nightly-tests", "weekly"):
        data = minimal(name=name, instrument="cli", workspace=f"./ws-{name}")
        data.update(prompt={"template": "true"}, sheet={"size": 1, "total_items": 1})
        score = write_score(tmp_path, data, name=f"{name}.yaml")
        env = {**os.environ, "MZT_HOME": str(home)}
        done = subprocess.run(
            [*MZT, "run", "-q", str(score)], env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert complete("mzt status night", elsewhere, home) == ["nightly-review", "nightly-tests"]
    assert complete("mzt resume w", elsewhere, home) == ["weekly"]
    ws = tmp_path / "ws-weekly"
    assert "weekly" in complete(f"mzt logs -w {ws} ", elsewhere, home)


def test_instrument_names_complete(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert complete("mzt run score.yaml --instrument cl", tmp_path, home) == [
        "claude-code",
        "cli",
        "cline-cli",
    ]
    assert complete("mzt instruments check gem", tmp_path, home) == ["gemini-cli"]


def test_a_broken_registry_completes_nothing_quietly(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "registry").write_text("not a folder")
    assert complete("mzt status x", tmp_path, home) == []
