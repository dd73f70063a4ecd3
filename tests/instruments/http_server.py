"""A real HTTP server on 127.0.0.1 that answers as the test says, for the HTTP instruments."""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    status: int = 200
    body: bytes | dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    reply: Reply
    queue: list[Reply]  # answered first, one request each, before `reply`
    seen: list[Seen]
    release: threading.Event
    closed_at: list[float]  # when a client hung up on a held answer (monotonic)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", "0"))
        data = json.loads(self.rfile.read(length))
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.server.seen.append(Seen(self.path, headers, data))
        reply = self.server.queue.pop(0) if self.server.queue else self.server.reply
        if reply.delay and not self._hold(reply.delay):
            return
        payload = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
        try:
            self.send_response(reply.status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except OSError:
            pass  # the client gave up (the stop and timeout tests)

    def _hold(self, seconds: float) -> bool:
        """Wait before answering; False when the client hangs up meanwhile."""
        end = time.monotonic() + seconds
        while not self.server.release.is_set() and time.monotonic() < end:
            readable, _, _ = select.select([self.connection], [], [], 0.05)
            # The request was read whole: anything readable now is the end of the stream.
            if readable and not self.connection.recv(1, socket.MSG_PEEK):
                self.server.closed_at.append(time.monotonic())
                return False
        return True

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve(reply: Reply) -> Iterator[_Server]:
    httpd = _Server(("127.0.0.1", 0), _Handler)
    httpd.reply = reply
    httpd.queue = []
    httpd.seen = []
    httpd.release = threading.Event()
    httpd.closed_at = []
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield httpd
    finally:
        httpd.release.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def url_of(httpd: _Server) -> str:
    host, port = httpd.server_address[:2]
    return f"http://{host}:{port}"


def closed_port_url() -> str:
    """A port on 127.0.0.1 that nothing listens on (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
