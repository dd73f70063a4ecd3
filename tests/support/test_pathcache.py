from __future__ import annotations

import os
from pathlib import Path

from mzt.support.spawnhold import locate


def _tool(folder: Path, name: str) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


def test_a_remembered_executable_that_went_away_is_noticed(tmp_path: Path) -> None:
    tool = _tool(tmp_path / "bin", "mzt-test-tool")
    env = {"PATH": f"{tmp_path / 'bin'}:/usr/bin"}
    assert locate("mzt-test-tool", tmp_path, env) == str(tool)
    assert locate("mzt-test-tool", tmp_path, env) == str(tool)  # remembered
    tool.chmod(0o644)
    assert isinstance(locate("mzt-test-tool", tmp_path, env), PermissionError)
    tool.unlink()
    assert isinstance(locate("mzt-test-tool", tmp_path, env), FileNotFoundError)
    other = _tool(tmp_path / "other", "mzt-test-tool")
    env = {"PATH": f"{tmp_path / 'bin'}:{tmp_path / 'other'}"}
    assert locate("mzt-test-tool", tmp_path, env) == str(other)


def test_a_relative_path_folder_is_searched_every_time(tmp_path: Path) -> None:
    _tool(tmp_path / "bin", "mzt-test-tool")
    env = {"PATH": "bin"}
    old = Path.cwd()
    os.chdir(tmp_path)
    try:
        assert locate("mzt-test-tool", tmp_path, env) == "bin/mzt-test-tool"
        os.chdir(tmp_path / "bin")
        assert isinstance(locate("mzt-test-tool", tmp_path, env), FileNotFoundError)
    finally:
        os.chdir(old)
