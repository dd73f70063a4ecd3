"""What a store keeps between writes of one job, and the lock its writing methods share."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

from mzt.state.folding import Layout
from mzt.state.journal import Journal
from mzt.state.statuses import JobStatus
from mzt.support import records


class Guarded(Protocol):
    """A store whose writing methods run under one lock."""

    _guard: threading.RLock


_S = TypeVar("_S", bound=Guarded)
_P = ParamSpec("_P")
_T = TypeVar("_T")


def serialised(
    method: Callable[Concatenate[_S, _P], _T],
) -> Callable[Concatenate[_S, _P], _T]:
    """Run a writing method under the store's lock (threads of one run share the store)."""

    def guarded(self: _S, /, *args: _P.args, **kwargs: _P.kwargs) -> _T:
        with self._guard:
            return method(self, *args, **kwargs)

    return functools.update_wrapper(guarded, method)


@records.record
class WriterBook:
    """What this store last wrote for one job: the baseline journal lines are relative to."""

    journal: Journal
    prepared: bool = False
    instance_id: str | None = None
    status: JobStatus | None = None
    seq: int | None = None
    head: dict[str, Any] = records.field(default_factory=dict)
    config: Any = None
    # The bytes of each sheet journaled since the snapshot, as its last line gave them: a
    # patch is computed against them (the first line of any other sheet holds it whole),
    # and a fold takes them, the rest of the sheets coming from the snapshot's file.
    encoded: dict[int, bytes] = records.field(default_factory=dict)
    # Where the sheets are in the snapshot this store wrote last; None when there is none
    # to fold from (not written yet, or being written).
    layout: Layout | None = None
    lines_since_snapshot: int = 0
    journal_bytes: int = 0
    snapshot_bytes: int = 0
    snapshot_at: float = 0.0

    def folded(self, layout: Layout | None) -> None:
        """A background fold ended: its file's layout, or None when it was given up."""
        self.layout = layout
        if layout is not None:
            self.snapshot_bytes = layout.starts[-1] + 1
