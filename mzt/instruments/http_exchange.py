"""One HTTP request on a worker thread, which the caller polls and may abandon."""

from __future__ import annotations

import contextlib
import http.client
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Mapping
from email.message import Message
from typing import Any

MAX_RESPONSE_BYTES = 10 * 1024 * 1024


def _proxies(environ: Mapping[str, str], host: str) -> dict[str, str]:
    """Proxies from the attempt's environment (not this process's), honouring no_proxy."""
    proxies: dict[str, str] = {}
    for name, value in environ.items():
        lowered = name.lower()
        if value and lowered.endswith("_proxy") and lowered != "no_proxy":
            # The lowercase spelling wins, as in urllib and curl.
            scheme = lowered[: -len("_proxy")]
            if scheme not in proxies or name == lowered:
                proxies[scheme] = value
    no_proxy = environ.get("no_proxy") or environ.get("NO_PROXY")
    if proxies and no_proxy:
        bypass = {**proxies, "no": no_proxy}
        if urllib.request.proxy_bypass_environment(host, bypass):  # type: ignore[attr-defined]
            return {}
    return proxies


class _Exchange:
    """One request on a worker thread, which the caller polls and may abandon."""

    def __init__(
        self, request: urllib.request.Request, timeout: float, proxies: dict[str, str]
    ) -> None:
        self.request = request
        self.timeout = timeout
        self.proxies = proxies
        self.done = threading.Event()
        self.status: int | None = None
        self.reason = ""
        self.headers: dict[str, str] = {}
        self.body = b""
        self.truncated = False
        self.failure: BaseException | None = None
        self._lock = threading.Lock()
        self._connections: list[http.client.HTTPConnection] = []
        self._abandoned = False

    def run(self) -> None:
        try:
            handlers: list[urllib.request.BaseHandler] = [
                urllib.request.ProxyHandler(self.proxies),
                _TrackedHttp(self),
                _TrackedHttps(self),
            ]
            opener = urllib.request.build_opener(*handlers)
            try:
                with opener.open(self.request, timeout=self.timeout) as response:
                    self._take(response.status, response.reason, response.headers, response)
            except urllib.error.HTTPError as exc:
                with exc:
                    self._take(exc.code, str(exc.reason), exc.headers, exc)
        except BaseException as exc:  # handed to the polling thread, which classifies it
            self.failure = exc
        finally:
            self.done.set()

    def _take(self, status: int, reason: str, headers: Message | None, stream: Any) -> None:
        self.status = status
        self.reason = reason
        self.headers = {k.lower(): v for k, v in (headers or {}).items()}
        data = stream.read(MAX_RESPONSE_BYTES + 1) if stream is not None else b""
        self.truncated = len(data) > MAX_RESPONSE_BYTES
        self.body = data[:MAX_RESPONSE_BYTES]

    def track(self, connection: http.client.HTTPConnection) -> None:
        with self._lock:
            self._connections.append(connection)

    def abandon(self) -> None:
        """Shut the connection so the worker's blocking read ends now."""
        with self._lock:
            self._abandoned = True
            connections = list(self._connections)
        for connection in connections:
            sock = connection.sock
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


class _Tracking:
    """Records each connection urllib opens, so `_Exchange.abandon` can shut it."""

    exchange: _Exchange

    def do_open(self, http_class: Any, req: Any, **kwargs: Any) -> Any:
        exchange = self.exchange

        def connect(*args: Any, **kw: Any) -> http.client.HTTPConnection:
            connection: http.client.HTTPConnection = http_class(*args, **kw)
            exchange.track(connection)
            return connection

        return super().do_open(connect, req, **kwargs)  # type: ignore[misc]


class _TrackedHttp(_Tracking, urllib.request.HTTPHandler):
    def __init__(self, exchange: _Exchange) -> None:
        super().__init__()
        self.exchange = exchange


class _TrackedHttps(_Tracking, urllib.request.HTTPSHandler):
    def __init__(self, exchange: _Exchange) -> None:
        super().__init__()
        self.exchange = exchange
