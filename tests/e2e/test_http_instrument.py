"""End to end: `mzt run` of a score on `anthropic_api`, against a local Messages API.

The base URL comes from ``ANTHROPIC_BASE_URL`` (honoured for the built-in profile, as
Anthropic's SDKs do); the key from the variable that ``instrument_config.api_key_env``
names.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Project

KEY = "sk-fake-e2e-0123456789abcdef"
HAIKU = "Sheets turn in order\nan API answers softly\nthe checkpoint holds fast"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    status: int
    requests: list[tuple[str, dict[str, str], dict[str, Any]]]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        data = json.loads(self.rfile.read(int(self.headers["content-length"])))
        self.server.requests.append(
            (self.path, {k.lower(): v for k, v in self.headers.items()}, data)
        )
        if self.server.status == 200:
            body: dict[str, Any] = {
                "id": "msg_01",
                "type": "message",
                "role": "assistant",
                "model": data["model"],
                "content": [{"type": "text", "text": HAIKU}],
                "stop_reason": "end_turn",
                "usage": {"input_tokens": 40, "output_tokens": 20},
            }
        else:
            body = {
                "type": "error",
                "error": {"type": "authentication_error", "message": "invalid x-api-key"},
            }
        payload = json.dumps(body).encode()
        self.send_response(self.server.status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Server]:
    httpd = _Server(("127.0.0.1", 0), _Handler)
    httpd.status = 200
    httpd.requests = []
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    host, port = httpd.server_address[:2]
    monkeypatch.setenv("ANTHROPIC_BASE_URL", f"http://{host}:{port}")
    monkeypatch.setenv("FAKE_KEY", KEY)
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


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

    (path, headers, body) = api.requests[0]
    assert len(api.requests) == 1
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
    api.status = 401
    run = project.mzt("run", api_score(project))
    assert run.returncode == 1, run.stdout + run.stderr
    sheet = project.sheets("api")[1]
    assert sheet["status"] == "failed"
    assert (sheet["error_code"], sheet["error_category"]) == ("E502", "auth")
    assert len(api.requests) == 1  # an auth failure is not retried
    assert KEY not in files_under(project.workspace)
