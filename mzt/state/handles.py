"""Attempt handles as the files hold them: without what the sheet and the writer imply.

A handle is written at every attempt start, so what it repeats of its context (its sheet,
its attempt, the host and boot of the run that made it) is left out of the files and put
back when they are read. Lines of the journal only ever apply to the snapshot of the
instance that wrote them, so the ``writer`` a handle is completed from is always the run
that made it.
"""

from __future__ import annotations

from typing import Any

import msgspec

from mzt.state.checkpoint import WriterInfo
from mzt.state.models import SheetState


def stored_sheet(sheet: SheetState, writer: WriterInfo | None) -> SheetState:
    """``sheet`` as the files hold it: its attempt handle without what its context says.

    A handle names its sheet, its attempt, and the host and boot of the run that made it;
    the sheet and the document's ``writer`` say the same, so those keys are left out when
    they are equal (and a process group that is the process's own, an empty ``extra``,
    the local executor: what nearly every handle says).
    :func:`complete_handle` puts them back. Empty lists are left out as defaults are.
    """
    sheet = sheet.sharing_empties()
    handle = sheet.attempt_handle
    if not handle:
        return sheet
    implied = _implied(sheet, writer, handle)
    compact = {k: v for k, v in handle.items() if k not in implied or implied[k] != v}
    return msgspec.structs.replace(sheet, attempt_handle=compact)


def complete_handle(sheet: SheetState, writer: WriterInfo | None) -> None:
    """Give a stored attempt handle back the keys :func:`stored_sheet` left out."""
    handle = sheet.attempt_handle
    if not handle:
        return
    missing = {k: v for k, v in _implied(sheet, writer, handle).items() if k not in handle}
    if missing:
        sheet.attempt_handle = {**handle, **missing}


def _implied(
    sheet: SheetState, writer: WriterInfo | None, handle: dict[str, Any]
) -> dict[str, Any]:
    implied: dict[str, Any] = {
        "executor": "local",
        "sheet_num": sheet.sheet_num,
        "attempt": sheet.attempt_count,
        "pgid": handle.get("pid"),  # an attempt leads its own process group
        "extra": {},
    }
    if writer is not None:
        implied["host"] = writer.host
        implied["boot_id"] = writer.boot_id
    return implied
