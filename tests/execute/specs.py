"""Attempt specs for executor tests: a bash script on the built-in `cli` instrument."""

from __future__ import annotations

import os
from pathlib import Path

from mzt.execute.attempt import AttemptSpec
from mzt.instruments import load_instruments


def shell_spec(folder: Path, script: str, sheet_num: int = 1) -> AttemptSpec:
    instrument = load_instruments(home=folder / "home", cwd=folder).get("cli")
    assert instrument is not None
    return AttemptSpec(
        sheet_num=sheet_num,
        attempt=1,
        mode="normal",
        instrument_name="cli",
        instrument=instrument,
        model=None,
        config={},
        prompt=script,
        workdir=folder,
        workspace=folder,
        timeout=60,
        idle_timeout=None,
        stdout_log=folder / f"sheet-{sheet_num}.stdout",
        stderr_log=folder / f"sheet-{sheet_num}.stderr",
        tail_bytes=4096,
        rules=(),
        context={},
        baseline={},
        environ=dict(os.environ),
        rate_limit_patterns=(),
    )
