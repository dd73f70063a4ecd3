"""The notifying tee: which events become messages, the bounded wait at the end, failures
as notes and history events, and nothing of it in runs without notifications."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from mzt import api
from mzt.run.notify import channels
from mzt.run.notify.notifying import Outbox
from mzt.run.reporting import NullReporter
from mzt.score.models.hooks import NotificationConfig
from tests.cli.test_startup import imported
from tests.helpers import minimal, write_score


class Recorder(NullReporter):
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def note(self, message: str) -> None:
        self.calls.append(("note", message))

    def sheet_started(self, num: int, attempt: int, instrument: str, mode: str) -> None:
        self.calls.append(("sheet_started", num))

    def run_finished(self, status: str, completed: int, total: int, seconds: float) -> None:
        self.calls.append(("run_finished", status))


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "home"
    monkeypatch.setenv("MZT_HOME", str(folder))
    return folder


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, channels.Message]]:
    got: list[tuple[str, channels.Message]] = []

    def fake(kind: str, config: Any, message: channels.Message) -> None:
        got.append((kind, message))
        if config.get("fail"):
            raise channels.SendFailed("the endpoint said no")

    monkeypatch.setattr(channels, "send", fake)
    return got


def score(tmp_path: Path, notifications: list[dict[str, Any]], template: str) -> Path:
    data = minimal(
        workspace="./ws",
        instrument="cli",
        sheet={"size": 1, "total_items": 2},
        prompt={"template": template},
        retry={"max_retries": 2},
        pause_between_sheets_seconds=0,
        notifications=notifications,
    )
    return write_score(tmp_path, data)


FLAKY = "{% if sheet_num == 2 %}test -e {{ workspace }}/once || { touch {{ workspace }}/once; exit 3; }{% endif %}"


def test_events_reach_only_the_channels_that_asked_for_them(
    tmp_path: Path, sent: list[tuple[str, channels.Message]]
) -> None:
    hooks = [
        {"type": "webhook", "on_events": ["sheet_start", "job_complete"], "config": {"url": "x"}},
        {"type": "desktop", "on_events": ["job_failed"]},
    ]
    reporter = Recorder()
    result = api.run_score(score(tmp_path, hooks, FLAKY), reporter=reporter)
    assert result.exit_code == 0, result.message
    # Sheet 2 ran twice (a retry): one sheet_start each, forwarded starts for every attempt.
    assert [(k, m.event, m.payload["sheet"]) for k, m in sent] == [
        ("webhook", "sheet_start", 1),
        ("webhook", "sheet_start", 2),
        ("webhook", "job_complete", None),
    ]
    assert [c for c in reporter.calls if c[0] == "sheet_started"] == [
        ("sheet_started", 1),
        ("sheet_started", 2),
        ("sheet_started", 2),
    ]
    done = sent[-1][1]
    assert done.payload["done"] == 2 and done.payload["status"] == "completed"
    assert done.title == "job t completed"


def test_a_failed_send_is_a_note_and_a_history_event_never_a_job_error(
    tmp_path: Path, sent: list[tuple[str, channels.Message]]
) -> None:
    hooks = [
        {"type": "webhook", "on_events": ["sheet_complete"], "config": {"url": "x", "fail": 1}}
    ]
    reporter = Recorder()
    result = api.run_score(score(tmp_path, hooks, "true"), reporter=reporter)
    assert result.exit_code == 0 and len(sent) == 2
    notes = [c[1] for c in reporter.calls if c[0] == "note"]
    assert notes == ["webhook notification (sheet_complete) not sent: the endpoint said no"]
    assert reporter.calls[-1] == ("run_finished", "completed")  # the note comes before it
    lines = (tmp_path / "ws" / ".marianne" / "t.history.jsonl").read_text().splitlines()
    failed = [r for r in map(json.loads, lines) if r["event"] == "notification_failed"]
    assert [(r["channel"], r["reason"], r.get("repeats")) for r in failed] == [
        ("webhook", "the endpoint said no", None),  # at once
        ("webhook", "the endpoint said no", 1),  # at the end: how often it came back
    ]


def test_the_end_waits_at_most_the_bound_for_a_stuck_send(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    release = threading.Event()
    monkeypatch.setattr(channels, "send", lambda *args: release.wait(30))
    outbox = Outbox()
    channel = NotificationConfig(type="desktop")
    for _ in range(3):
        outbox.put(channel, channels.Message("job_start", {}, "", ""))
    began = time.monotonic()
    assert outbox.close(0.3) == 3
    assert 0.25 < time.monotonic() - began < 5
    release.set()


def test_the_sending_thread_never_redacts(monkeypatch: pytest.MonkeyPatch) -> None:
    # Redacting runs RE2's C++ code; a daemon thread inside it when a run exits aborts the
    # process. A failure is redacted where it is reported, on the run's own thread.
    seen: list[str] = []
    real = channels.Redactor.redact

    def redact(self: Any, text: str) -> str:
        seen.append(threading.current_thread().name)
        return real(self, text)

    monkeypatch.setattr(channels.Redactor, "redact", redact)
    secret = "hunter2-" + "x" * 20

    def refuse(config: Any, message: Any, secrets: list[str], timeout: float) -> None:
        secrets.append(secret)
        raise OSError(f"refused by {secret}")

    monkeypatch.setitem(channels._SENDERS, "webhook", refuse)
    outbox = Outbox()
    outbox.put(
        NotificationConfig(type="webhook", config={"url": "x"}),
        channels.Message("job_start", {}, "", ""),
    )
    assert outbox.close(10) == 0
    kind, _, failure = outbox.failures.get_nowait()
    assert kind == "webhook"
    assert seen == []  # nothing redacted on the sending thread
    assert secret not in failure.cleaned() and "refused" in failure.cleaned()
    assert seen and set(seen) == {threading.current_thread().name}


def test_runs_without_notifications_import_no_sender(tmp_path: Path) -> None:
    plain = write_score(tmp_path, minimal(instrument="cli", prompt={"template": "true"}))
    modules = imported(tmp_path, "run", "-q", str(plain))
    assert "mzt.run.runner" in modules  # it did run
    assert {"mzt.run.notify.channels", "smtplib"}.isdisjoint(modules)
    data = minimal(instrument="cli", prompt={"template": "true"}, name="n")
    data["notifications"] = [{"type": "desktop", "on_events": ["job_complete"]}]
    notified = write_score(tmp_path, data, "notified.yaml")
    assert "mzt.run.notify.channels" in imported(tmp_path, "run", "-q", str(notified))
