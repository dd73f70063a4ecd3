"""The OpenAI-style and Ollama families: request and answer mapping, then the same
transport behaviour as `anthropic_api` against a real local server."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mzt.instruments import InstrumentProfile, Registry
from mzt.instruments import http_schemas as schemas
from mzt.instruments.classify import ErrorInfo
from mzt.instruments.http import HttpAttempt, call_http_api
from mzt.support.process import StopRequest
from tests.instruments.http_server import Reply, _Server, closed_port_url, serve, url_of

KEY = "sk-proj-test-key-0123456789abcdefXYZ"
CHAT = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "model": "gpt-4.1-mini",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Hello from a chat API."},
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 1000, "completion_tokens": 500, "total_tokens": 1500},
}
OLLAMA_CHAT = {
    "model": "llama3.1:8b",
    "created_at": "2026-12-04T21:00:00Z",
    "message": {"role": "assistant", "content": "Hello from Ollama."},
    "done": True,
    "done_reason": "stop",
    "prompt_eval_count": 26,
    "eval_count": 9,
}


def builtin(registry: Registry, name: str) -> InstrumentProfile:
    instrument = registry.get(name)
    assert instrument is not None
    return instrument.profile


@pytest.fixture
def openai(registry: Registry) -> InstrumentProfile:
    return builtin(registry, "openai_api")


@pytest.fixture
def ollama(registry: Registry) -> InstrumentProfile:
    return builtin(registry, "ollama")


@pytest.fixture
def chat_server() -> Iterator[_Server]:
    with serve(Reply(body=CHAT)) as httpd:
        yield httpd


@pytest.fixture
def ollama_server() -> Iterator[_Server]:
    with serve(Reply(body=OLLAMA_CHAT)) as httpd:
        yield httpd


def call(
    profile: InstrumentProfile,
    tmp_path: Path,
    config: dict[str, Any],
    *,
    environ: dict[str, str] | None = None,
    timeout: float = 10,
    should_stop: Any = lambda: None,
) -> HttpAttempt:
    return call_http_api(
        profile,
        "Say hello.",
        model=None,
        config=config,
        timeout=timeout,
        environ={} if environ is None else environ,
        should_stop=should_stop,
        stdout_log=tmp_path / "attempt.stdout",
        stderr_log=tmp_path / "attempt.stderr",
        builtin=True,
    )


# --- mapping -----------------------------------------------------------------------------------


def test_openai_body_carries_only_what_is_set(openai: InstrumentProfile) -> None:
    plain = schemas.build(openai, "hi", "m", {}, "", "http://h/v1")
    assert not isinstance(plain, ErrorInfo)
    assert plain.url == "http://h/v1/chat/completions"
    assert plain.body == {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    assert "authorization" not in plain.headers  # a local server needs no key
    full = schemas.build(openai, "hi", "m", {"max_tokens": 64, "temperature": 0.3}, KEY, "http://h")
    assert not isinstance(full, ErrorInfo)
    assert (full.body["max_tokens"], full.body["temperature"]) == (64, 0.3)
    assert full.headers["authorization"] == f"Bearer {KEY}"
    assert "x-api-key" not in full.headers


def test_ollama_body_asks_for_one_answer_and_a_wide_context(ollama: InstrumentProfile) -> None:
    plain = schemas.build(ollama, "hi", "llama3.1:8b", {}, "", "http://h:11434")
    assert not isinstance(plain, ErrorInfo)
    assert plain.url == "http://h:11434/api/chat"
    assert plain.body == {
        "model": "llama3.1:8b",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": False,
        "options": {"num_ctx": schemas.DEFAULT_NUM_CTX},
    }
    config = {"num_ctx": 8192, "max_tokens": 100, "temperature": 0, "keep_alive": "10m"}
    full = schemas.build(ollama, "hi", "llama3.1:8b", config, "", "http://h:11434")
    assert not isinstance(full, ErrorInfo)
    assert full.body["options"] == {"num_ctx": 8192, "num_predict": 100, "temperature": 0}
    assert full.body["keep_alive"] == "10m"
    for wrong in ("big", 0, True):
        bad = schemas.build(ollama, "hi", "m", {"num_ctx": wrong}, "", "http://h")
        assert isinstance(bad, ErrorInfo) and bad.code == "E301"
    unset = schemas.build(ollama, "hi", "m", {"num_ctx": None}, "", "http://h")
    assert not isinstance(unset, ErrorInfo)
    assert unset.body["options"] == {"num_ctx": schemas.DEFAULT_NUM_CTX}


@pytest.mark.parametrize(
    ("kind", "doc", "expected"),
    [
        ("openai", CHAT, (("Hello from a chat API.",), 1000, 500, False)),
        (
            "openai",
            {"choices": [{"message": {"content": [{"type": "text", "text": "a"}]}}]},
            (("a",), None, None, False),
        ),
        (
            "openai",
            {"choices": [{"message": {"content": None}, "finish_reason": "length"}]},
            ((), None, None, True),
        ),
        ("ollama", OLLAMA_CHAT, (("Hello from Ollama.",), 26, 9, False)),
        (
            "ollama",
            {**OLLAMA_CHAT, "done_reason": "length"},
            (("Hello from Ollama.",), 26, 9, True),
        ),
    ],
)
def test_answers_are_read(kind: str, doc: dict[str, Any], expected: tuple[Any, ...]) -> None:
    reply = schemas.read(kind, doc)
    assert reply is not None
    assert (reply.texts, reply.input_tokens, reply.output_tokens, reply.cut_off) == expected


@pytest.mark.parametrize(
    ("kind", "doc"),
    [("openai", {"choices": []}), ("openai", OLLAMA_CHAT), ("ollama", CHAT), ("ollama", [1])],
)
def test_other_shapes_are_not_answers(kind: str, doc: object) -> None:
    assert schemas.read(kind, doc) is None


@pytest.mark.parametrize(
    ("value", "url"),
    [
        ("", "http://127.0.0.1:11434"),
        ("0.0.0.0", "http://0.0.0.0:11434"),
        ("gpu-box", "http://gpu-box:11434"),
        ("gpu-box:9000", "http://gpu-box:9000"),
        (":9000", "http://127.0.0.1:9000"),
        ("http://gpu-box", "http://gpu-box:80"),
        ("https://ollama.example/proxy/", "https://ollama.example:443/proxy"),
        ("[::1]:11500", "http://[::1]:11500"),
        ("gpu-box:port", "http://127.0.0.1:11434"),
    ],
)
def test_ollama_host_is_read_as_ollama_reads_it(value: str, url: str) -> None:
    assert schemas.ollama_host(value) == url


def test_base_url_precedence(ollama: InstrumentProfile, openai: InstrumentProfile) -> None:
    env = {"OLLAMA_HOST": "gpu-box", "OPENAI_BASE_URL": "http://127.0.0.1:8080/v1/"}
    assert schemas.base_url(ollama, {}, {}, True) == "http://localhost:11434"
    assert schemas.base_url(ollama, {}, env, True) == "http://gpu-box:11434"
    assert schemas.base_url(ollama, {}, env, False) == "http://localhost:11434"  # a user's own
    # The score wins over the variable; Ollama's URL is its root, so /v1 is dropped.
    assert schemas.base_url(ollama, {"base_url": "http://x:1/v1/"}, env, True) == "http://x:1"
    assert schemas.base_url(openai, {}, env, True) == "http://127.0.0.1:8080/v1"
    assert schemas.base_url(openai, {}, {}, True) == "https://api.openai.com/v1"


def test_key_variable_is_needed_only_when_named(
    openai: InstrumentProfile, ollama: InstrumentProfile
) -> None:
    assert schemas.key_variable(openai, {}) == ("OPENAI_API_KEY", False)
    assert schemas.key_variable(openai, {"api_key_env": "VLLM_KEY"}) == ("VLLM_KEY", True)
    assert schemas.key_variable(ollama, {}) == (None, False)


# --- through the transport ------------------------------------------------------------------


def test_chat_completion_success(
    chat_server: _Server, openai: InstrumentProfile, tmp_path: Path
) -> None:
    environ = {"OPENAI_API_KEY": KEY}
    attempt = call(openai, tmp_path, {"base_url": url_of(chat_server) + "/v1"}, environ=environ)
    assert attempt.error is None and attempt.outcome.exit_code == 0
    assert attempt.result.result_text == "Hello from a chat API."
    assert (attempt.result.input_tokens, attempt.result.output_tokens) == (1000, 500)
    # A listed model is priced even on another server (a gateway in front of OpenAI).
    assert attempt.result.cost_usd == pytest.approx(1.0 * 0.0004 + 0.5 * 0.0016)
    (seen,) = chat_server.seen
    assert seen.path == "/v1/chat/completions"
    assert seen.headers["authorization"] == f"Bearer {KEY}"
    assert KEY not in attempt.outcome.stdout_tail + (tmp_path / "attempt.stdout").read_text()


def test_an_unlisted_model_on_another_server_is_not_priced_as_the_default(
    chat_server: _Server, openai: InstrumentProfile, tmp_path: Path
) -> None:
    config = {"base_url": url_of(chat_server), "model": "qwen2.5-coder-7b"}
    attempt = call(openai, tmp_path, config)
    assert attempt.result.success and attempt.result.cost_usd is None
    assert attempt.result.warnings == ()
    assert "authorization" not in chat_server.seen[0].headers


def test_a_named_key_variable_that_is_unset_sends_nothing(
    chat_server: _Server, openai: InstrumentProfile, tmp_path: Path
) -> None:
    config = {"base_url": url_of(chat_server), "api_key_env": "VLLM_KEY"}
    error = call(openai, tmp_path, config).error
    assert error is not None and (error.code, error.category) == ("E502", "auth")
    assert chat_server.seen == []


@pytest.mark.parametrize(
    ("reply", "code", "category", "wait"),
    [
        (
            Reply(
                429, {"error": {"type": "rate_limit", "message": "slow down"}}, {"retry-after": "7"}
            ),
            "E101",
            "rate_limit",
            7,
        ),
        (Reply(503, {"error": {"message": "server overloaded"}}), "E103", "rate_limit", None),
        (Reply(401, {"error": {"message": "Incorrect API key"}}), "E502", "auth", None),
        (Reply(403, {"error": {"message": "forbidden"}}), "E502", "auth", None),
        (Reply(500, {"error": {"message": "boom"}}), "E503", "transient", None),
        (Reply(200, {"error": {"message": "no slots available"}}), "E503", "transient", None),
    ],
)
def test_chat_errors_map_as_for_anthropic(
    chat_server: _Server,
    openai: InstrumentProfile,
    tmp_path: Path,
    reply: Reply,
    code: str,
    category: str,
    wait: float | None,
) -> None:
    chat_server.reply = reply
    attempt = call(openai, tmp_path, {"base_url": url_of(chat_server)})
    error = attempt.error
    assert error is not None and (error.code, error.category) == (code, category)
    assert error.retriable is (category != "auth")
    if wait is not None:
        assert error.suggested_wait == wait
    assert not attempt.result.success and attempt.outcome.exit_code == 1


def test_ollama_success_and_its_plain_error_strings(
    ollama_server: _Server, ollama: InstrumentProfile, tmp_path: Path
) -> None:
    environ = {"OLLAMA_HOST": url_of(ollama_server)}
    attempt = call(ollama, tmp_path, {"keep_alive": "1m"}, environ=environ)
    assert attempt.error is None
    assert attempt.result.result_text == "Hello from Ollama."
    assert (attempt.result.input_tokens, attempt.result.output_tokens) == (26, 9)
    assert attempt.result.cost_usd == 0.0  # the profile lists the model as free
    (seen,) = ollama_server.seen
    assert seen.path == "/api/chat"
    assert seen.body["stream"] is False and seen.body["keep_alive"] == "1m"

    # Any Ollama server's models are free, listed or not.
    other = call(ollama, tmp_path, {"model": "qwen2.5-coder:7b"}, environ=environ)
    assert other.result.cost_usd == 0.0

    ollama_server.reply = Reply(404, {"error": 'model "nosuch" not found, try pulling it first'})
    failed = call(ollama, tmp_path, {"model": "nosuch"}, environ=environ)
    assert failed.error is not None and failed.error.code == "E301"
    assert "try pulling it first" in failed.outcome.stderr_tail


def test_connection_refused_is_a_network_error(ollama: InstrumentProfile, tmp_path: Path) -> None:
    attempt = call(ollama, tmp_path, {"base_url": closed_port_url()})
    error = attempt.error
    assert error is not None and (error.code, error.category) == ("E901", "network")
    assert "Connection refused" in attempt.outcome.stderr_tail


def test_a_stop_abandons_a_server_that_never_answers(
    chat_server: _Server, openai: InstrumentProfile, tmp_path: Path
) -> None:
    chat_server.reply = Reply(delay=60)
    asked_at: list[float] = []

    def stop() -> StopRequest | None:
        if len(chat_server.seen) == 0:
            return None
        asked_at.append(time.monotonic())
        return StopRequest("cancelled")

    attempt = call(openai, tmp_path, {"base_url": url_of(chat_server)}, should_stop=stop)
    assert attempt.outcome.reason == "cancelled" and attempt.error is None
    assert time.monotonic() - asked_at[0] < 1.0
    # The connection was shut, not left for the server to hold.
    deadline = time.monotonic() + 10
    while not chat_server.closed_at and time.monotonic() < deadline:
        time.sleep(0.02)
    assert chat_server.closed_at and chat_server.closed_at[0] - asked_at[0] < 5


def test_a_server_that_never_answers_times_out(
    ollama_server: _Server, ollama: InstrumentProfile, tmp_path: Path
) -> None:
    ollama_server.reply = Reply(delay=60)
    started = time.monotonic()
    attempt = call(ollama, tmp_path, {"base_url": url_of(ollama_server)}, timeout=0.5)
    assert attempt.outcome.reason == "timeout"
    assert attempt.error is not None and attempt.error.code == "E504"
    assert time.monotonic() - started < 5
