"""The command lines answered before click: which shapes they recognise."""

from __future__ import annotations

from pathlib import Path

import pytest

from mzt.cli.fast import _take_workspace


@pytest.mark.parametrize(
    ("args", "rest", "workspace"),
    [
        (["s.yaml"], ["s.yaml"], None),
        (["-w", "ws", "s.yaml"], ["s.yaml"], Path("ws")),
        (["-q", "--workspace", "ws", "s.yaml"], ["-q", "s.yaml"], Path("ws")),
        (["s.yaml", "--workspace=a b"], ["s.yaml"], Path("a b")),
    ],
)
def test_one_workspace_option_is_taken_out(
    args: list[str], rest: list[str], workspace: Path | None
) -> None:
    assert _take_workspace(args) == (rest, workspace)


@pytest.mark.parametrize(
    "args",
    [
        ["-w"],  # no value
        ["-w", "a", "-w", "b", "s.yaml"],  # twice
        ["-w", "--json", "s.yaml"],  # a flag where the value should be
        ["--workspace=", "s.yaml"],  # empty
    ],
)
def test_anything_unusual_is_left_to_click(args: list[str]) -> None:
    rest, workspace = _take_workspace(args)
    assert workspace is None and "--" in rest  # no fast answer accepts "--"
