"""End to end: `mzt run` on `openai_api` and on Marianne's `backend.type: ollama`, each
against a local server standing in for llama.cpp's server or Ollama."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Project, wait_for
from tests.instruments.http_server import Reply, _Server, serve, url_of

KEY = "sk-fake-e2e-chat-0123456789abcdef"
HAIKU = "Chat turns in order\na local server answers\nthe checkpoint holds fast"
CHAT = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": HAIKU}, "finish_reason": "stop"}
    ],
    "usage": {"prompt_tokens": 1000, "completion_tokens": 500, "total_tokens": 1500},
}
OLLAMA_CHAT = {
    "model": "qwen2.5-coder:7b",
    "message": {"role": "assistant", "content": HAIKU},
    "done": True,
    "done_reason": "stop",
    "prompt_eval_count": 30,
    "eval_count": 12,
}


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Server]:
    monkeypatch.setenv("FAKE_KEY", KEY)
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY", "OLLAMA_HOST"):
        monkeypatch.delenv(name, raising=False)
    with serve(Reply(body=CHAT)) as httpd:
        yield httpd


def chat_score(project: Project, api: _Server, **extra: Any) -> Path:
    return project.score(
        {
            "name": "chat",
            "instrument": "openai_api",
            "instrument_config": {
                "base_url": url_of(api) + "/v1",
                "api_key_env": "FAKE_KEY",
                "model": "gpt-4.1-mini",
                "max_tokens": 256,
            },
            "retry": {"max_retries": 2, "base_delay_seconds": 0.05, "jitter": False},
            "rate_limit": {"min_wait_seconds": 1, "max_waits": 3},
            "sheet": {"size": 1, "total_items": 1},
            "prompt": {"template": "Write a haiku about sheet {{ sheet_num }}."},
            **extra,
        }
    )


def files_under(root: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in sorted(root.rglob("*")) if p.is_file())


def output(project: Project, job: str) -> str:
    return (project.workspace / ".marianne" / "outputs" / job / "sheet-1.md").read_text()


def test_run_on_an_openai_compatible_server(project: Project, api: _Server) -> None:
    run = project.mzt("run", chat_score(project, api))
    assert run.returncode == 0, run.stdout + run.stderr

    (seen,) = api.seen
    assert seen.path == "/v1/chat/completions"
    assert seen.headers["authorization"] == f"Bearer {KEY}"
    assert seen.body["model"] == "gpt-4.1-mini" and seen.body["max_tokens"] == 256
    (message,) = seen.body["messages"]
    assert message["role"] == "user"
    assert "Write a haiku about sheet 1." in message["content"]

    assert output(project, "chat") == HAIKU
    sheet = project.sheets("chat")[1]
    assert sheet["status"] == "completed" and sheet["instrument_name"] == "openai_api"
    assert (sheet["input_tokens"], sheet["output_tokens"]) == (1000, 500)
    state = project.state("chat")
    assert state["total_estimated_cost"] == pytest.approx(1.0 * 0.0004 + 0.5 * 0.0016)
    assert KEY not in files_under(project.workspace)
    assert KEY not in run.stdout + run.stderr


def test_429_with_retry_after_is_waited_out_then_succeeds(project: Project, api: _Server) -> None:
    limited = {"error": {"type": "rate_limit_exceeded", "message": "Rate limit reached"}}
    api.queue.append(Reply(429, limited, {"retry-after": "2"}))
    started = time.monotonic()
    run = project.mzt("run", chat_score(project, api))
    assert run.returncode == 0, run.stdout + run.stderr
    assert time.monotonic() - started >= 2  # the server's Retry-After was the wait
    assert len(api.seen) == 2
    sheet = project.sheets("chat")[1]
    assert sheet["status"] == "completed"
    assert sheet["attempt_count"] == 2 and sheet["normal_attempts"] == 0  # no retry spent
    assert output(project, "chat") == HAIKU


def test_401_fails_the_sheet_at_once(project: Project, api: _Server) -> None:
    api.reply = Reply(401, {"error": {"type": "invalid_api_key", "message": "Incorrect key"}})
    run = project.mzt("run", chat_score(project, api))
    assert run.returncode == 1, run.stdout + run.stderr
    sheet = project.sheets("chat")[1]
    assert sheet["status"] == "failed"
    assert (sheet["error_code"], sheet["error_category"]) == ("E502", "auth")
    assert len(api.seen) == 1  # an auth failure is permanent: not retried
    assert KEY not in files_under(project.workspace)


def test_cancel_ends_a_request_the_server_never_answers(project: Project, api: _Server) -> None:
    api.reply = Reply(delay=300)
    score = chat_score(project, api)
    proc = project.start("run", score)
    wait_for(lambda: len(api.seen) == 1, timeout=60)
    touched = time.monotonic()
    (project.workspace / ".marianne-cancel-chat").touch()
    _, err = proc.communicate(timeout=60)
    exited = time.monotonic()
    assert proc.returncode == 4, err
    # The run shuts the connection as soon as it sees the cancel (it checks every 0.25 s).
    wait_for(lambda: bool(api.closed_at), timeout=10)
    assert api.closed_at[0] - touched < 3
    assert exited - touched < 8
    state = project.state("chat")
    assert state["status"] == "cancelled"
    assert state["sheets"]["1"]["status"] == "cancelled"


@pytest.mark.parametrize("via", ["OLLAMA_HOST", "backend.ollama.base_url"])
def test_backend_type_ollama_runs_against_the_server(
    project: Project, api: _Server, monkeypatch: pytest.MonkeyPatch, via: str
) -> None:
    api.reply = Reply(body=OLLAMA_CHAT)
    settings: dict[str, Any] = {"model": "qwen2.5-coder:7b", "num_ctx": 8192, "keep_alive": "1m"}
    host, port = api.server_address[:2]
    if via == "OLLAMA_HOST":
        monkeypatch.setenv("OLLAMA_HOST", f"{host}:{port}")
    else:
        settings["base_url"] = url_of(api)
    score = project.score(
        {
            "name": "local",
            "backend": {"type": "ollama", "ollama": settings},
            "sheet": {"size": 1, "total_items": 1},
            "prompt": {"template": "Write a haiku about sheet {{ sheet_num }}."},
        }
    )
    run = project.mzt("run", score)
    assert run.returncode == 0, run.stdout + run.stderr
    (seen,) = api.seen
    assert seen.path == "/api/chat"
    assert "authorization" not in seen.headers
    assert seen.body["model"] == "qwen2.5-coder:7b" and seen.body["stream"] is False
    assert seen.body["options"] == {"num_ctx": 8192} and seen.body["keep_alive"] == "1m"
    assert output(project, "local") == HAIKU
    sheet = project.sheets("local")[1]
    assert sheet["instrument_name"] == "ollama"
    assert (sheet["input_tokens"], sheet["output_tokens"]) == (30, 12)
    logs = list((project.workspace / ".marianne").rglob("sheet-1.attempt-1.stdout"))
    assert len(logs) == 1 and json.loads(logs[0].read_text())["message"]["content"] == HAIKU
