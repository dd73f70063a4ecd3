"""End to end: `mzt run` of a score on `anthropic_api`, against a local Messages API.

The base URL comes from ``ANTHROPIC_BASE_URL`` (honoured for the built-in profile, as
Anthropic's SDKs do); the key from the variable that ``instrument_config.api_key_env``
names.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import Project
from tests.instruments.http_server import Reply, _Server, serve, url_of

KEY = "sk-fake-e2e-0123456789abcdef"
HAIKU = "Sheets turn in order\nan API answers softly\nthe checkpoint holds fast"
ANSWER = {
    "id": "msg_01",
    "type": "message",
    "role": "assistant",
    "model": "claude-haiku-4-5-20251001",
    "content": [{"type": "text", "text": HAIKU}],
    "stop_reason": "end_turn",
    "usage": {"input_tokens": 40, "output_tokens": 20},
}
BAD_KEY = {
    "type": "error",
    "error": {"type": "authentication_error", "message": "invalid x-api-key"},
}


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Server]:
    monkeypatch.setenv("FAKE_KEY", KEY)
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    with serve(Reply(body=ANSWER)) as httpd:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", url_of(httpd))
        yield httpd


def api_score(project: Project) -> Path:
    return project.score(
        {
            "name": "api",
            "instrument": "anthropic_api",
            "instrument_config": {
                "api_key_env": "FAKE_KEY",
                "model": "claude-haiku-4-5-20251001",
                "max_tokens": 256,
            },
            "retry": {"max_retries": 2, "base_delay_seconds": 0.05, "jitter": False},
            "sheet": {"size": 1, "total_items": 1},
            "prompt": {"template": "Write a haiku about sheet {{ sheet_num }}."},
        }
    )


def files_under(root: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in sorted(root.rglob("*")) if p.is_file())


def test_run_on_anthropic_api(project: Project, api: _Server) -> None:
    run = project.mzt("run", api_score(project))
    assert run.returncode == 0, run.stdout + run.stderr

    (seen,) = api.seen
    path, headers, body = seen.path, seen.headers, seen.body
    assert path == "/v1/messages"
    assert headers["x-api-key"] == KEY
    assert headers["anthropic-version"] == "2023-06-01"
    assert body["model"] == "claude-haiku-4-5-20251001"
    assert body["max_tokens"] == 256
    (message,) = body["messages"]
    assert message["role"] == "user"
    assert "Write a haiku about sheet 1." in message["content"]

    output = project.workspace / ".marianne" / "outputs" / "api" / "sheet-1.md"
    assert output.read_text() == HAIKU
    sheet = project.sheets("api")[1]
    assert sheet["status"] == "completed"
    assert (sheet["input_tokens"], sheet["output_tokens"]) == (40, 20)
    assert sheet["instrument_name"] == "anthropic_api"
    logs = list((project.workspace / ".marianne").rglob("sheet-1.attempt-1.stdout"))
    assert len(logs) == 1 and json.loads(logs[0].read_text())["content"][0]["text"] == HAIKU
    # The key reaches the API and nothing else.
    assert KEY not in files_under(project.workspace)
    assert KEY not in run.stdout + run.stderr


def test_refused_key_fails_the_sheet_at_once_as_auth(project: Project, api: _Server) -> None:
    api.reply = Reply(401, BAD_KEY)
    run = project.mzt("run", api_score(project))
    assert run.returncode == 1, run.stdout + run.stderr
    sheet = project.sheets("api")[1]
    assert sheet["status"] == "failed"
    assert (sheet["error_code"], sheet["error_category"]) == ("E502", "auth")
    assert len(api.seen) == 1  # an auth failure is not retried
    assert KEY not in files_under(project.workspace)
