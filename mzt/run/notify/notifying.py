"""Notifications: the run's events, as messages sent on a background thread.

`with_notifications` puts a `NotifyingReporter` in front of the run's reporter when the
score has notifications (and gives the reporter back untouched when it has none: then
nothing here sends and `mzt.run.notify.channels` is never imported). The tee forwards every
event and turns these into messages for the channels that asked for them:

    run_started                  → job_start
    a sheet's first start        → sheet_start
    sheet_finished completed     → sheet_complete      failed → sheet_failed
    run_finished completed       → job_complete        failed → job_failed
                 paused          → job_paused          (cancelled sends nothing)

Messages go through a queue to one daemon thread, so a slow or dead endpoint never
holds the run loop. When the run ends it waits for what is queued at most
`MAX_SEND_SECONDS`, then gives up with a note. A message that was not sent is a note
in the run's output and a ``notification_failed`` history event, never an error of the
job: the first of each channel and reason at once, and at the end one event with the
count of its repeats (a dead endpoint on sheet events would otherwise write a line, and
sync it, per sheet). Both are written by the main thread, the only writer of the job's
files.
"""

from __future__ import annotations

import queue
import threading
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mzt.run.reporting import Reporter
from mzt.support.log import get_logger
from mzt.support.redact import redact

if TYPE_CHECKING:
    from mzt.run.notify.channels import Message, SendFailed
    from mzt.score.models.hooks import NotificationConfig
    from mzt.score.preparation import PreparedScore
    from mzt.state import CheckpointState, JsonStateBackend

MAX_SEND_SECONDS = 10.0  # the same bound as mzt.run.notify.channels, which is imported only to send
_ERROR_CHARS = 1000
_JOB_EVENTS = {"completed": "job_complete", "failed": "job_failed", "paused": "job_paused"}
_TITLES = {
    "job_start": "job {name} started",
    "job_complete": "job {name} completed",
    "job_failed": "job {name} failed",
    "job_paused": "job {name} paused",
    "sheet_start": "job {name}: sheet {sheet} started",
    "sheet_complete": "job {name}: sheet {sheet} completed",
    "sheet_failed": "job {name}: sheet {sheet} failed",
}
_log = get_logger("mzt.notifications")


def with_notifications(
    reporter: Reporter, prepared: PreparedScore, store: JsonStateBackend, state: CheckpointState
) -> Reporter:
    """``reporter``, sending the score's notifications too when it has any."""
    channels = prepared.loaded.score.notifications
    if not channels:
        return reporter
    return NotifyingReporter(reporter, prepared, store, state, list(channels))


class Outbox:
    """A queue of (channel, message) and the daemon thread that sends them in order."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[tuple[NotificationConfig, Message] | None] = (
            queue.SimpleQueue()
        )
        self._idle = threading.Condition()
        self._pending = 0
        # Failures as sent: their reasons are cleaned by the main thread (see SendFailed).
        self.failures: queue.SimpleQueue[tuple[str, str, SendFailed]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def put(self, channel: NotificationConfig, message: Message) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="mzt-notify", daemon=True)
            self._thread.start()
        with self._idle:
            self._pending += 1
        self._queue.put((channel, message))

    def close(self, seconds: float) -> int:
        """Wait up to ``seconds`` for the queue to empty; how many messages were left."""
        with self._idle:
            self._idle.wait_for(lambda: self._pending == 0, timeout=seconds)
            left = self._pending
        self._queue.put(None)  # the thread ends after what it is sending (it is a daemon)
        return left

    def _work(self) -> None:
        from mzt.run.notify.channels import SendFailed, send

        while (item := self._queue.get()) is not None:
            channel, message = item
            try:
                send(channel.type, channel.config, message)
            except SendFailed as exc:
                self.failures.put((channel.type, message.event, exc))
            finally:
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()


class NotifyingReporter:
    """Forwards every event to ``inner`` and queues the notifications they call for."""

    def __init__(
        self,
        inner: Reporter,
        prepared: PreparedScore,
        store: JsonStateBackend,
        state: CheckpointState,
        channels: list[NotificationConfig],
    ) -> None:
        self.inner = inner
        self.store = store
        self.state = state
        self.channels = channels
        self.job_id = prepared.job_id
        self.job_name = prepared.loaded.score.name
        self.workspace = str(prepared.workspace)
        self.outbox = Outbox()
        self.done, self.total = state.get_progress()  # completed sheets, counted on from here
        self.started: set[int] = set()
        self.repeats: dict[tuple[str, str], int] = {}  # failures seen, and repeats since

    # --- events ------------------------------------------------------------------------------

    def run_started(
        self, job_id: str, total: int, workspace: str, how: str, done: int, concurrency: int
    ) -> None:
        self.inner.run_started(job_id, total, workspace, how, done, concurrency)
        self.total = total
        self._emit("job_start", "running")

    def sheet_started(self, num: int, attempt: int, instrument: str, mode: str) -> None:
        self.inner.sheet_started(num, attempt, instrument, mode)
        if num not in self.started:  # retries and completion attempts are not new starts
            self.started.add(num)
            self._emit("sheet_start", "running", sheet=num)

    def sheet_finished(self, num: int, status: str, detail: str) -> None:
        self.inner.sheet_finished(num, status, detail)
        self.started.discard(num)
        if status == "completed":
            self.done += 1
            self._emit("sheet_complete", status, sheet=num)
        elif status == "failed":
            self._emit("sheet_failed", status, sheet=num, error=detail)

    def sheet_waiting(self, num: int, kind: str, seconds: float, reason: str) -> None:
        self.inner.sheet_waiting(num, kind, seconds, reason)

    def note(self, message: str) -> None:
        self.inner.note(message)

    def spent(self, usd: float) -> None:
        self.inner.spent(usd)

    def tick(self) -> None:
        self.inner.tick()
        self._report_failures()

    def run_finished(self, status: str, completed: int, total: int, seconds: float) -> None:
        self.done, self.total = completed, total
        event = _JOB_EVENTS.get(status)
        if event is not None:
            error = self.state.error_message if status != "completed" else None
            self._emit(event, status, error=error)
        left = self.outbox.close(MAX_SEND_SECONDS)
        self._report_failures()
        if left:
            reason = f"{left} not sent within {MAX_SEND_SECONDS:g} s of the job's end; given up"
            self._failed("all", "-", reason, f"notifications: {reason}")
        self._count_repeats()
        self.inner.run_finished(status, completed, total, seconds)

    # --- messages ----------------------------------------------------------------------------

    def _emit(
        self, event: str, status: str, *, sheet: int | None = None, error: Any = None
    ) -> None:
        wanted = [c for c in self.channels if event in c.on_events]
        if not wanted:
            return
        from mzt.run.notify.channels import Message

        message = payload_message(
            event,
            job_id=self.job_id,
            job_name=self.job_name,
            status=status,
            sheet=sheet,
            done=self.done,
            total=self.total,
            workspace=self.workspace,
            error=redact(str(error))[:_ERROR_CHARS] if error else None,
        )
        for channel in wanted:
            self.outbox.put(channel, Message(event, *message))

    def _report_failures(self) -> None:
        while True:
            try:
                kind, event, failure = self.outbox.failures.get_nowait()
            except queue.Empty:
                return
            self._failed(kind, event, failure.cleaned())

    def _failed(self, kind: str, event: str, reason: str, note: str = "") -> None:
        _log.warning("%s notification (%s) not sent: %s", kind, event, reason)
        key = (kind, reason)
        if key in self.repeats:  # a dead endpoint is said once, not once per sheet
            self.repeats[key] += 1
            return
        self.repeats[key] = 0
        self.store.record_event(
            self.state, "notification_failed", channel=kind, notification=event, reason=reason
        )
        self.inner.note(note or f"{kind} notification ({event}) not sent: {reason}")

    def _count_repeats(self) -> None:
        """One more history event per failure that came back: how many times it did."""
        for (kind, reason), repeats in self.repeats.items():
            if repeats:
                self.store.record_event(
                    self.state,
                    "notification_failed",
                    channel=kind,
                    notification="-",
                    reason=reason,
                    repeats=repeats,
                )
        self.repeats.clear()


def payload_message(
    event: str,
    *,
    job_id: str,
    job_name: str,
    status: str,
    sheet: int | None,
    done: int,
    total: int,
    workspace: str,
    error: str | None,
) -> tuple[dict[str, Any], str, str]:
    """The JSON payload of an event, its title and its one-line text (see the README)."""
    payload: dict[str, Any] = {
        "event": event,
        "job_id": job_id,
        "job_name": job_name,
        "status": status,
        "sheet": sheet,
        "done": done,
        "total": total,
        "workspace": workspace,
        "error": error,
        "timestamp": datetime.fromtimestamp(time.time(), UTC).isoformat(timespec="seconds"),
    }
    title = _TITLES[event].format(name=job_name, sheet=sheet)
    text = f"{status}, {done}/{total} sheets done" + (f": {error}" if error else "")
    return payload, title, text
