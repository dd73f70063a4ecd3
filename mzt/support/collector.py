"""Keeping a run's long-lived objects out of the cycle collector's way."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def long_lived() -> Iterator[None]:
    """Keep what exists when the loop starts out of the cycle collector's passes.

    The state, the plan and the score are tens of thousands of long-lived objects on a big
    job, none of them garbage; every full collection would walk them all, a pause between
    two sheets that grows with the job. Frozen, they are skipped; what the loop allocates
    is collected as usual, and they are handed back to the collector when it ends. The
    entry point starts `mzt run` with the collector off (`mzt.entry`), so there is no
    start-up garbage worth a full collection first (that took 20–40 ms of every run).
    """
    was_enabled = gc.isenabled()
    gc.freeze()
    gc.enable()
    try:
        yield
    finally:
        gc.unfreeze()
        if not was_enabled:
            gc.disable()
