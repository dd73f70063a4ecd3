"""Progress events of a run: what the runner tells whoever shows them.

The runner calls a `Reporter`; it never formats text itself. The command line's
`mzt.cli.progress.LineReporter` prints one line per event; `NullReporter` says nothing
(``--quiet`` and ``--json``, where only the final document or the errors are printed).
"""

from __future__ import annotations

from typing import Protocol


class Reporter(Protocol):
    def run_started(self, job_id: str, total: int, workspace: str, how: str) -> None: ...

    def sheet_started(self, num: int, attempt: int, instrument: str, mode: str) -> None: ...

    def sheet_finished(self, num: int, status: str, detail: str) -> None: ...

    def sheet_waiting(self, num: int, kind: str, seconds: float, reason: str) -> None: ...

    def note(self, message: str) -> None: ...

    def run_finished(self, status: str, completed: int, total: int, seconds: float) -> None: ...


class NullReporter:
    """Says nothing."""

    def run_started(self, job_id: str, total: int, workspace: str, how: str) -> None:
        pass

    def sheet_started(self, num: int, attempt: int, instrument: str, mode: str) -> None:
        pass

    def sheet_finished(self, num: int, status: str, detail: str) -> None:
        pass

    def sheet_waiting(self, num: int, kind: str, seconds: float, reason: str) -> None:
        pass

    def note(self, message: str) -> None:
        pass

    def run_finished(self, status: str, completed: int, total: int, seconds: float) -> None:
        pass
