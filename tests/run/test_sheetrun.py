"""Preparing a sheet's attempt, and foreseeing it without a trace."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from mzt import api
from mzt.instruments import load_instruments
from mzt.run.sheetrun import BASELINE_KEY, SheetPreparer
from mzt.state import CheckpointState
from tests.helpers import minimal, write_score


def _preparer(tmp_path: Path, **overrides: Any) -> tuple[SheetPreparer, CheckpointState]:
    data = minimal(instrument="cli", workspace=str(tmp_path / "ws"), **overrides)
    prepared = api.prepare_score(write_score(tmp_path, data))
    instruments = load_instruments(home=tmp_path / "home", cwd=tmp_path)
    preparer = SheetPreparer(prepared, instruments, dict(os.environ))
    state = CheckpointState(job_id="t", job_name="t", total_sheets=prepared.plan.total_sheets)
    return preparer, state


def test_a_foreseen_spec_is_the_one_prepare_gives(tmp_path: Path) -> None:
    preparer, state = _preparer(tmp_path)
    foreseen = preparer.foresee(state, 2)
    assert foreseen is not None
    assert foreseen == preparer.prepare(state, 2)
    assert preparer.foresee(state, None) is None


def test_foreseeing_keeps_no_baseline(tmp_path: Path) -> None:
    rule = {"type": "file_modified", "path": "{workspace}/out.txt"}
    preparer, state = _preparer(tmp_path, validations=[rule])
    foreseen = preparer.foresee(state, 1)
    assert foreseen is not None and foreseen.baseline  # taken, to be compared at launch
    assert BASELINE_KEY not in (state.sheet(1).outcome_data or {})
    spec = preparer.prepare(state, 1)
    assert spec == foreseen
    assert BASELINE_KEY in (state.sheet(1).outcome_data or {})  # prepare keeps it


def test_nothing_is_foreseen_for_a_sheet_tried_before_or_one_that_may_be_skipped(
    tmp_path: Path,
) -> None:
    preparer, state = _preparer(tmp_path)
    state.sheet(2).attempt_count = 1
    assert preparer.foresee(state, 2) is None
    skipping, state = _preparer(
        tmp_path, sheet={"size": 1, "total_items": 3, "skip_when": {2: "True"}}
    )
    assert skipping.foresee(state, 2) is None
    assert skipping.foresee(state, 1) is not None


def test_a_prompt_that_does_not_render_foresees_nothing(tmp_path: Path) -> None:
    preparer, state = _preparer(tmp_path, prompt={"template": "{{ no_such_name }}"})
    assert preparer.foresee(state, 1) is None
