"""Whether the server of a local HTTP instrument is there to answer.

Only endpoints on this machine are probed: a local model server (Ollama, llama.cpp, vLLM)
that was never started is the usual reason such an instrument fails, and connecting to
loopback costs nothing. Remote APIs are not contacted: a health check must not need the
network.
"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

PROBE_SECONDS = 1.0
_LOOPBACK_NAMES = frozenset({"localhost", "ip6-localhost", "::1"})


def local_address(endpoint: str) -> tuple[str, int] | None:
    """Host and port of an endpoint on this machine (loopback); None for any other."""
    try:
        parts = urlsplit(endpoint)
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    if host is None or not (host.lower() in _LOOPBACK_NAMES or host.startswith("127.")):
        return None
    return host, port or (443 if parts.scheme == "https" else 80)


def unreachable(address: tuple[str, int], timeout: float = PROBE_SECONDS) -> str | None:
    """Why nothing answers at ``address``; None when something accepts a connection."""
    try:
        with socket.create_connection(address, timeout=timeout):
            return None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        return f"nothing listens at {address[0]}:{address[1]} ({reason}); start its server first"
