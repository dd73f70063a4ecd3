"""Each channel against a real local endpoint: what arrives, and how failures read."""

from __future__ import annotations

import time
from typing import Any

import pytest

from mzt.run.notify.channels import MAX_SEND_SECONDS, Message, SendFailed, send, timeout_of
from mzt.run.notify.notifying import payload_message
from mzt.score.notifysecrets import NOT_STORED
from tests.notify_servers import dead_port, http_server, silent_server, smtp_server

SECRET = "s3cr3t-hook-key-0123456789"


def message(event: str = "job_failed", error: str | None = "sheets failed: 2") -> Message:
    payload, title, text = payload_message(
        event,
        job_id="demo",
        job_name="Demo job",
        status="failed",
        sheet=None,
        done=1,
        total=2,
        workspace="/tmp/ws",
        error=error,
    )
    return Message(event, payload, title, text)


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")


def test_webhook_posts_the_payload_with_headers_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HOOK_URL", "")
    monkeypatch.setenv("HOOK_TOKEN", "tok-123")
    with http_server() as (base, received):
        monkeypatch.setenv("HOOK_URL", f"{base}/in/{SECRET}")
        config = {"url_env": "HOOK_URL", "headers": {"Authorization": "Bearer ${HOOK_TOKEN}"}}
        send("webhook", config, message())
        path, headers, body = received.wait()[0]
    assert path == f"/in/{SECRET}"
    assert headers["Authorization"] == "Bearer tok-123"
    assert headers["Content-Type"] == "application/json"
    assert body["event"] == "job_failed" and body["job_id"] == "demo"
    assert body["done"] == 1 and body["total"] == 2 and body["sheet"] is None
    assert body["error"] == "sheets failed: 2" and body["workspace"] == "/tmp/ws"
    assert body["metadata"]["source"] == "mzt"
    assert set(body) >= {"job_name", "status", "timestamp"}


def test_slack_posts_slack_shaped_json() -> None:
    with http_server() as (base, received):
        config = {"webhook_url": f"{base}/services/T0/B0/{SECRET}", "channel": "#ops"}
        send("slack", config, message())
        _, _, body = received.wait()[0]
    assert body["channel"] == "#ops"
    assert body["text"].startswith("job Demo job failed")
    attachment = body["attachments"][0]
    assert attachment["footer"] == "Demo job (demo)"
    assert {"title": "Error", "value": "sheets failed: 2", "short": False} in attachment["fields"]


def test_email_goes_to_a_plain_smtp_server() -> None:
    with smtp_server() as (port, received):
        config = {"smtp_host": "127.0.0.1", "smtp_port": port, "to": ["ops@example.test"]}
        send("email", config, message())
        rcpt, mail = received.wait()[0]
    assert rcpt == ["ops@example.test"]
    assert mail["Subject"] == "job Demo job failed"
    assert '"job_id": "demo"' in mail.get_payload()


def test_email_never_sends_a_password_in_the_clear() -> None:
    config = {"to": "a@b.test", "smtp_password": "pw-123456", "security": "none"}
    with pytest.raises(SendFailed, match="never sent without encryption"):
        send("email", config, message())


@pytest.mark.parametrize("status", [404, 500])
def test_an_error_answer_is_a_failure_without_the_url(status: int) -> None:
    with http_server(status) as (base, _), pytest.raises(SendFailed) as caught:
        send("webhook", {"url": f"{base}/{SECRET}"}, message())
    assert caught.value.cleaned() == f"the server answered HTTP {status}"


def test_a_refused_connection_fails_fast_and_names_no_secret() -> None:
    url = f"http://127.0.0.1:{dead_port()}/{SECRET}"
    began = time.monotonic()
    with pytest.raises(SendFailed) as caught:
        send("webhook", {"url": url}, message())
    assert time.monotonic() - began < 5
    assert SECRET not in caught.value.cleaned() and "refused" in caught.value.cleaned().lower()


def test_a_server_that_never_answers_is_given_up_after_the_timeout() -> None:
    with silent_server() as url, pytest.raises(SendFailed) as caught:
        began = time.monotonic()
        send("webhook", {"url": f"{url}/{SECRET}", "timeout": 1}, message())
    took = time.monotonic() - began
    assert 0.9 < took < 1 + 5  # the bound, plus room for a loaded machine
    assert caught.value.cleaned() == "no answer in time"


def test_secrets_are_redacted_from_any_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_URL", f"ftp://host/{SECRET}")
    with pytest.raises(SendFailed) as caught:
        send("webhook", {"url_env": "HOOK_URL"}, message())
    assert "not an http" in caught.value.cleaned()
    monkeypatch.delenv("HOOK_URL")
    with pytest.raises(SendFailed, match=r"HOOK_URL .* is not set"):
        send("webhook", {"url_env": "HOOK_URL"}, message())


def test_a_setting_left_out_of_the_stored_score_says_so() -> None:
    with pytest.raises(SendFailed, match="not stored with the job"):
        send("webhook", {"url": NOT_STORED}, message())


def test_desktop_without_a_notifier_is_a_plain_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(SendFailed, match="no desktop notifier"):
        send("desktop", {}, message())


@pytest.mark.parametrize(
    ("config", "expected"),
    [({}, MAX_SEND_SECONDS), ({"timeout": 2}, 2.0), ({"timeout": 30}, MAX_SEND_SECONDS)],
)
def test_timeouts_are_capped(config: dict[str, Any], expected: float) -> None:
    assert timeout_of(config) == expected
