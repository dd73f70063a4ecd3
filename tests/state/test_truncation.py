"""A checkpoint cut at any byte is reported as corrupt; a cut journal loses only its tail."""

from __future__ import annotations

from pathlib import Path

import pytest

from mzt.state import JsonStateBackend
from mzt.state.lock import RunLock
from mzt.support.errors import StateCorruptionError
from tests.state.conftest import make_state


def test_snapshot_cut_at_every_offset_is_corruption(store: JsonStateBackend) -> None:
    state = make_state(1)
    state.mark_sheet_completed(1)
    state.sheets[1].capture_output("ünïcødé output 😀", "warnings")
    store.save(state)
    path = store.state_path("job")
    full = path.read_bytes()
    assert store.load("job") is not None
    kinds = set()
    for offset in range(len(full)):
        cut = full[:offset]
        path.write_bytes(cut)
        with pytest.raises(StateCorruptionError) as caught:
            store.load("job")
        assert caught.value.path == str(path)
        kinds.add(caught.value.error_type)
        assert path.read_bytes() == cut  # never repaired or rewritten behind the user's back
    # Cuts inside a multi-byte character are not even UTF-8.
    assert kinds == {"empty", "json_decode", "encoding"}


def test_journal_cut_at_every_offset_loses_only_the_cut_lines(workspace: Path) -> None:
    store = JsonStateBackend(workspace)
    state = make_state(3)
    state.mark_job_running()
    store.save(state)
    seqs = [state.seq]
    for num in (1, 2, 3):
        state.mark_sheet_started(num)
        store.record_sheet(state, num)
        seqs.append(state.seq)
    store.close()
    journal = store.history_path("job")
    full = journal.read_bytes()
    line_ends = [i + 1 for i, byte in enumerate(full) if byte == ord("\n")]
    with RunLock(store.lock_path("job"), job_id="job"):  # keep the state "running"
        # Every byte of the last line, and both sides of every line boundary.
        offsets = set(range(line_ends[-2], len(full) + 1))
        offsets |= {end + delta for end in line_ends for delta in (-1, 0, 1)} | {0}
        for offset in sorted(o for o in offsets if 0 <= o <= len(full)):
            journal.write_bytes(full[:offset])
            loaded = JsonStateBackend(workspace).load("job")
            assert loaded is not None
            complete = sum(1 for end in line_ends if end <= offset)
            assert loaded.seq == seqs[complete]
    assert journal.read_bytes() == full
