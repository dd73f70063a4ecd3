"""End to end: `mzt run` sends a score's notifications, never fails or stalls for them, and
writes none of their secrets anywhere."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from mzt.run.notify.notifying import MAX_SEND_SECONDS
from tests.e2e.conftest import Project
from tests.notify_servers import dead_port, http_server, silent_server, smtp_server

SECRET = "hk-9f8e7d6c5b4a39281706"
ALL_EVENTS = ["job_start", "sheet_start", "sheet_complete", "sheet_failed", "job_failed"]


def score(notifications: list[dict[str, Any]], *, fail_two: bool = True) -> dict[str, Any]:
    body = "{% if sheet_num == 2 %}exit 3{% else %}true{% endif %}" if fail_two else "true"
    return {
        "name": "notified",
        "instrument": "cli",
        "sheet": {"size": 1, "total_items": 2},
        "prompt": {"template": body},
        "retry": {"max_retries": 0},
        "notifications": notifications,
    }


def run(project: Project, data: dict[str, Any]) -> tuple[Any, float]:
    path = project.score(data)
    began = time.monotonic()
    result = project.mzt("run", path)
    return result, time.monotonic() - began


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")


def everything_written(project: Project) -> list[tuple[Path, bytes]]:
    roots = [project.workspace, project.home]
    return [(p, p.read_bytes()) for root in roots for p in root.rglob("*") if p.is_file()]


def history(project: Project, event: str) -> list[dict[str, Any]]:
    lines = (project.workspace / ".marianne" / "notified.history.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r.get("event") == event]


def test_webhook_and_slack_get_the_events_and_no_secret_is_written(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    with http_server() as (base, received):
        monkeypatch.setenv("HOOK_URL", f"{base}/hook/{SECRET}")
        notifications = [
            {"type": "webhook", "on_events": ALL_EVENTS, "config": {"url_env": "HOOK_URL"}},
            {"type": "slack", "config": {"webhook_url": f"{base}/services/T0/B0/{SECRET}x"}},
        ]
        result, _ = run(project, score(notifications))
        assert result.returncode == 1, result.stderr  # sheet 2 fails; the sends do not matter
        got = received.wait(7)
    hooks = [body for path, _, body in got if path.startswith("/hook/")]
    events = [(b["event"], b["sheet"]) for b in hooks]
    assert events == [
        ("job_start", None),
        ("sheet_start", 1),
        ("sheet_complete", 1),
        ("sheet_start", 2),
        ("sheet_failed", 2),
        ("job_failed", None),
    ]
    last = hooks[-1]
    assert last["job_id"] == "notified" and last["job_name"] == "notified"
    assert last["status"] == "failed" and (last["done"], last["total"]) == (1, 2)
    assert last["workspace"] == str(project.workspace) and "sheets failed: 2" in last["error"]
    assert "exited with status 3" in hooks[4]["error"]
    slack = [body for path, _, body in got if path.startswith("/services/")]
    assert len(slack) == 1 and slack[0]["attachments"][0]["title"] == "job notified failed"
    for path, data in everything_written(project):
        assert SECRET.encode() not in data, path
    assert SECRET not in result.stdout + result.stderr
    stored = project.state("notified")["config_snapshot"]["notifications"]
    assert stored[0]["config"] == {"url_env": "HOOK_URL"}
    assert stored[1]["config"]["webhook_url"] == "[not stored]"


def test_email_reaches_a_local_smtp_server(project: Project) -> None:
    with smtp_server() as (port, received):
        config = {"smtp_host": "127.0.0.1", "smtp_port": port, "to": "ops@example.test"}
        data = score([{"type": "email", "on_events": ["job_complete"], "config": config}])
        result, _ = run(project, {**data, "prompt": {"template": "true"}})
        assert result.returncode == 0, result.stderr
        rcpt, mail = received.wait()[0]
    assert rcpt == ["ops@example.test"] and mail["Subject"] == "job notified completed"
    assert '"event": "job_complete"' in mail.get_payload()


@pytest.mark.parametrize("endpoint", ["refused", "silent"])
def test_a_dead_endpoint_delays_the_job_by_at_most_the_bound(
    project: Project, endpoint: str
) -> None:
    quiet, _ = run(project, score([], fail_two=False))
    assert quiet.returncode == 0
    _, baseline = run(project, {**score([], fail_two=False), "name": "again"})
    with silent_server() as silent:
        url = f"http://127.0.0.1:{dead_port()}/h" if endpoint == "refused" else silent
        hooks = [{"type": "webhook", "on_events": ALL_EVENTS, "config": {"url": url}}]
        result, took = run(project, score(hooks, fail_two=False))
    assert result.returncode == 0, result.stderr
    said = "given up" if endpoint == "silent" else "webhook notification (job_start) not sent"
    assert said in result.stdout
    # A send blocks no sheet; only the job's end waits, at most the bound, for the queue.
    assert took - baseline < MAX_SEND_SECONDS + 5, (took, baseline)
    failed = history(project, "notification_failed")
    assert failed
    if endpoint == "silent":  # what was still queued at the end: one event for all of it
        assert [r["channel"] for r in failed if "given up" in r["reason"]] == ["all"]
    else:
        # The first failure at once, then one count of the rest (a line per sheet would
        # grow the history with the job).
        assert [(r["notification"], r.get("repeats")) for r in failed] == [
            ("job_start", None),
            ("-", 4),  # sheet_start and sheet_complete, of each sheet
        ]


def test_a_job_resumed_from_its_stored_score_says_the_url_was_not_kept(project: Project) -> None:
    with http_server() as (base, received):
        hooks = [{"type": "webhook", "on_events": ["job_failed"], "config": {"url": base}}]
        first, _ = run(project, score(hooks))
        assert first.returncode == 1 and received.wait()[0][2]["event"] == "job_failed"
        (project.root / "score.yaml").unlink()  # only the checkpoint's copy is left
        again = project.mzt("resume", "notified", "-w", project.workspace)
        assert again.returncode == 1, again.stderr
        assert len(received.items) == 1  # nothing sent to the URL the copy does not hold
    assert "webhook notification (job_failed) not sent: its `url` is not stored" in again.stdout
