"""What each HTTP API family sends and answers; `mzt.instruments.http` carries them all.

Three families share one transport (worker thread, abandon on stop, error mapping):

- ``anthropic``: Anthropic's Messages API. ``x-api-key`` and ``anthropic-version``;
  body ``{model, max_tokens, messages, temperature?}``; the answer's text blocks, tokens
  from ``usage.input_tokens`` / ``output_tokens``.
- ``openai``: OpenAI-style chat completions (OpenAI, llama.cpp's server, vLLM, LM
  Studio, Ollama's ``/v1``). ``Authorization: Bearer`` only when there is a key (local
  servers need none); body ``{model, messages, max_tokens?, temperature?}``; the text
  is ``choices[0].message.content``, tokens ``usage.prompt_tokens`` /
  ``completion_tokens``.
- ``ollama``: Ollama's native ``/api/chat``, because only it takes ``num_ctx`` and
  ``keep_alive`` per request: past its context window (4096 tokens by default on most
  machines) Ollama drops the start of the prompt without a word, and the OpenAI-style
  endpoint has no way to widen it. Body ``{model, messages, stream: false, options:
  {num_ctx, num_predict?, temperature?}, keep_alive?}``; the text is
  ``message.content``, tokens ``prompt_eval_count`` / ``eval_count``.
"""

from __future__ import annotations

import math
import urllib.parse
from collections.abc import Mapping
from typing import Any

from mzt.instruments.classify import ErrorInfo
from mzt.instruments.profile import InstrumentProfile
from mzt.support import records

FAMILIES = frozenset({"anthropic", "openai", "ollama"})
"""The ``http.schema_family`` values mzt can call (``gemini`` is described only)."""
ANTHROPIC_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 16384
"""Anthropic's ``max_tokens`` when the config sets none (Marianne's), capped by the model."""
DEFAULT_NUM_CTX = 32768
"""Ollama's context window when the config sets none: Marianne's default."""
BASE_URL_ENV: Mapping[str, str] = {
    "anthropic": "ANTHROPIC_BASE_URL",
    "openai": "OPENAI_BASE_URL",
    "ollama": "OLLAMA_HOST",
}
"""Per family, the variable that redirects a built-in profile, as each vendor's own tools do."""
ANSWER_NAMES: Mapping[str, str] = {
    "anthropic": "a Messages API answer",
    "openai": "a chat-completions answer",
    "ollama": "an Ollama chat answer",
}
_OLLAMA_PORT = 11434
_USER_AGENT = "mzt (HTTP instrument)"


@records.record(frozen=True, slots=True)
class ApiRequest:
    """One request ready to send, with the model it names and the key it carries."""

    url: str
    headers: Mapping[str, str]
    body: Mapping[str, Any]
    model: str


@records.record(frozen=True, slots=True)
class Reply:
    """The parts of a successful answer mzt keeps."""

    texts: tuple[str, ...]
    input_tokens: int | None
    output_tokens: int | None
    cut_off: bool  # stopped at the output token cap


def family(profile: InstrumentProfile) -> str | None:
    """The profile's schema family when mzt can call it, else None."""
    http = profile.http
    return http.schema_family if http is not None and http.schema_family in FAMILIES else None


def key_variable(profile: InstrumentProfile, config: Mapping[str, Any]) -> tuple[str | None, bool]:
    """The variable holding the API key, and whether the request cannot go without it.

    Anthropic always needs one. Other families send one when there is one: a local server
    wants none, but a variable the score names (``api_key_env``) must be set.
    """
    named = _text(config.get("api_key_env"))
    profile_var = profile.http.auth_env_var if profile.http is not None else None
    if family(profile) == "anthropic":
        return named or profile_var or "ANTHROPIC_API_KEY", True
    return named or profile_var, named is not None


def base_url(
    profile: InstrumentProfile,
    config: Mapping[str, Any],
    environ: Mapping[str, str],
    builtin: bool,
) -> str:
    """The config's ``base_url``, else the family's variable (built-ins), else the profile's.

    A user's own profile names its URL on purpose, so only a built-in one is redirected.
    Ollama's URLs are its server's root, as Marianne's ``ollama.base_url`` is; a ``/v1``
    written out of OpenAI habit is dropped there, since ``/api/chat`` lives beside it.
    """
    assert profile.http is not None
    kind = profile.http.schema_family
    base = _text(config.get("base_url"))
    variable = BASE_URL_ENV.get(kind, "")
    if base is None and builtin and environ.get(variable, "").strip():
        value = environ[variable].strip()
        base = ollama_host(value) if kind == "ollama" else value
    base = (base or profile.http.base_url).rstrip("/")
    if kind == "ollama" and base.endswith("/v1"):
        base = base[: -len("/v1")]
    return base


def ollama_host(value: str) -> str:
    """``OLLAMA_HOST`` as the Ollama client reads it: ``host``, ``host:port`` or a URL.

    Without a scheme it is ``http`` on port 11434; with ``http://`` or ``https://`` and no
    port, that scheme's own port; an empty host is this machine.
    """
    scheme, found, rest = value.partition("://")
    if not found:
        scheme, rest = "http", value
    default_port = _OLLAMA_PORT if not found else (443 if scheme == "https" else 80)
    hostport, _, path = rest.partition("/")
    try:
        parts = urllib.parse.urlsplit(f"{scheme}://{hostport}")
        port = parts.port or default_port
        host = parts.hostname or "127.0.0.1"
    except ValueError:  # a port that is not a number: Ollama falls back the same way
        host, port = "127.0.0.1", default_port
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}" + (f"/{path}".rstrip("/") if path else "")


def build(
    profile: InstrumentProfile,
    prompt: str,
    model: str,
    config: Mapping[str, Any],
    key: str,
    base: str,
) -> ApiRequest | ErrorInfo:
    """The request of ``profile``'s family for one prompt; an `ErrorInfo` for a bad setting."""
    assert profile.http is not None
    kind = profile.http.schema_family
    url = base + "/" + profile.http.endpoint.lstrip("/")
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        return ErrorInfo("E301", "configuration", False, f"not an http(s) URL: {url}")
    headers = {
        "content-type": "application/json",
        "accept": "application/json",
        "user-agent": _USER_AGENT,
    }
    messages = [{"role": "user", "content": prompt}]
    body: dict[str, Any] = {"model": model, "messages": messages}
    temperature = _number(config.get("temperature"))
    max_tokens = _whole(config.get("max_tokens"))
    if kind == "anthropic":
        headers["anthropic-version"] = ANTHROPIC_VERSION
        headers["x-api-key"] = key
        body["max_tokens"] = max_tokens or _anthropic_max_tokens(profile, model)
        _put(body, "temperature", temperature)
    elif kind == "openai":
        _put(body, "max_tokens", max_tokens)
        _put(body, "temperature", temperature)
    else:
        num_ctx = config.get("num_ctx")
        num_ctx = DEFAULT_NUM_CTX if num_ctx is None else num_ctx
        if _whole(num_ctx) is None:
            return ErrorInfo(
                "E301", "configuration", False, f"num_ctx must be a whole number, not {num_ctx!r}"
            )
        options: dict[str, Any] = {"num_ctx": num_ctx}
        _put(options, "num_predict", max_tokens)
        _put(options, "temperature", temperature)
        body.update(stream=False, options=options)
        keep_alive = config.get("keep_alive")
        if isinstance(keep_alive, str | int) and not isinstance(keep_alive, bool):
            body["keep_alive"] = keep_alive
    if key and kind != "anthropic":
        headers["authorization"] = f"Bearer {key}"
    return ApiRequest(url, headers, body, model)


def read(kind: str, doc: Any) -> Reply | None:
    """The answer in a 2xx document; None when it is not that family's answer."""
    if not isinstance(doc, dict):
        return None
    if kind == "anthropic":
        content = doc.get("content")
        if not isinstance(content, list):
            return None
        texts = tuple(
            block["text"]
            for block in content
            if isinstance(block, dict)
            and block.get("type") == "text"
            and isinstance(block.get("text"), str)
        )
        usage = _dict(doc.get("usage"))
        return Reply(
            texts,
            _count(usage.get("input_tokens")),
            _count(usage.get("output_tokens")),
            doc.get("stop_reason") == "max_tokens",
        )
    if kind == "openai":
        choices = doc.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            return None
        choice = choices[0]
        usage = _dict(doc.get("usage"))
        return Reply(
            _content(_dict(choice.get("message")).get("content")),
            _count(usage.get("prompt_tokens")),
            _count(usage.get("completion_tokens")),
            choice.get("finish_reason") == "length",
        )
    message = doc.get("message")
    if not isinstance(message, dict):
        return None
    return Reply(
        _content(message.get("content")),
        _count(doc.get("prompt_eval_count")),
        _count(doc.get("eval_count")),
        doc.get("done_reason") == "length",
    )


def _content(value: object) -> tuple[str, ...]:
    """A chat message's text: a string, or a list of ``{type: text, text}`` parts."""
    if isinstance(value, str):
        return (value,) if value else ()
    if isinstance(value, list):
        return tuple(
            part["text"]
            for part in value
            if isinstance(part, dict)
            and part.get("type") == "text"
            and isinstance(part.get("text"), str)
        )
    return ()


def _anthropic_max_tokens(profile: InstrumentProfile, model: str) -> int:
    spec = profile.model_spec(model)
    if spec is not None and spec.max_output_tokens:
        return min(DEFAULT_MAX_TOKENS, spec.max_output_tokens)
    return DEFAULT_MAX_TOKENS


def _put(target: dict[str, Any], name: str, value: object) -> None:
    if value is not None:
        target[name] = value


def _whole(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        return None
    return value


def _number(value: object) -> float | int | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return value
    return None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _count(value: object) -> int | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return int(value) if value >= 0 else None
    return None
