"""Background folds copy untouched sheets from the last snapshot instead of keeping them."""

from __future__ import annotations

import os
from pathlib import Path

from mzt.state import JsonStateBackend
from mzt.state.codec import encode_document
from mzt.support.redact import get_redactor
from tests.state.conftest import make_state


def _document(store: JsonStateBackend) -> bytes:
    return store.state_path("job").read_bytes()


def test_a_fold_writes_the_bytes_a_whole_encoding_would(workspace: Path) -> None:
    store = JsonStateBackend(workspace, compact_every=4)
    state = make_state(9)
    state.mark_job_running()
    store.save(state)
    # Changes at the start, in the middle, at the end, and a sheet the snapshot lacks.
    for num in (1, 5, 9):
        state.mark_sheet_started(num)
        state.mark_sheet_completed(num)
        store.record_sheet(state, num)
    state.sheet(10)
    state.total_sheets = 10
    store.record_sheet(state, 10)  # the fourth line: the fold starts in the background
    store.flush()
    folded = _document(store)
    assert b'"10":' in folded and folded.count(b'"status":"completed"') == 3
    assert folded == encode_document(state, get_redactor())
    # Nothing is kept of the sheets the journal has not touched since.
    assert store._books["job"].encoded == {}
    # The next fold starts from this one's layout.
    state.mark_sheet_started(2)
    for _ in range(4):
        store.record_sheet(state, 2)
    store.flush()
    assert _document(store) == encode_document(state, get_redactor())
    loaded = store.load("job")
    assert loaded is not None
    assert {n: s.model_dump() for n, s in loaded.sheets.items()} == {
        n: s.model_dump() for n, s in state.sheets.items()
    }


def test_a_replaced_snapshot_is_not_folded_from(workspace: Path) -> None:
    store = JsonStateBackend(workspace, compact_every=2)
    state = make_state(3)
    state.mark_job_running()
    store.save(state)
    path = store.state_path("job")
    # Someone else's file under the name: the same sheets, laid out differently.
    stranger = _document(store).replace(b'"sheets":{', b'"sheets":{ ')
    path.write_bytes(stranger)
    os.utime(path, ns=(1, 1))
    state.mark_sheet_started(1)
    store.record_sheet(state, 1)
    store.record_sheet(state, 1)
    store.flush()
    assert _document(store) == stranger  # given up: the file is left as it was
    state.mark_sheet_completed(1)
    for _ in range(2):
        store.record_sheet(state, 1)  # the next fold is written whole from the state
    store.flush()
    assert _document(store) == encode_document(state, get_redactor())


def test_a_whole_snapshot_is_streamed_with_its_layout(workspace: Path) -> None:
    store = JsonStateBackend(workspace)
    state = make_state(2500)  # more than one batch of sheets
    for num in (1, 2048, 2049, 2500):
        state.mark_sheet_started(num)
        state.mark_sheet_completed(num)
    store.save(state)
    written = _document(store)
    assert written == state.model_dump_json().encode()
    layout = store._books["job"].layout
    assert layout is not None and layout.count == 2500
    for position, num in enumerate(state.sheets):
        start, end = layout.starts[position], layout.starts[position + 1] - 1
        assert written[start:end] == b'"%d":%s' % (
            num,
            state.sheets[num].model_dump_json().encode(),
        )
    assert written[layout.starts[-1] - 1 :] == b"}}"
