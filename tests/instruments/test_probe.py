"""`mzt.instruments.probe`: loopback endpoints are probed, remote ones never."""

from __future__ import annotations

import socket

import pytest

from mzt.instruments.probe import local_address, unreachable


@pytest.mark.parametrize(
    ("endpoint", "address"),
    [
        ("http://localhost:11434/v1/chat/completions", ("localhost", 11434)),
        ("http://127.0.0.1:8080/v1", ("127.0.0.1", 8080)),
        ("http://[::1]:9000/x", ("::1", 9000)),
        ("https://localhost/v1", ("localhost", 443)),
        ("http://localhost/v1", ("localhost", 80)),
        ("https://api.anthropic.com/v1/messages", None),
        ("http://10.0.0.5:11434/v1", None),
        ("http://localhost:99999999/v1", None),  # not a port: nothing to probe
    ],
)
def test_only_this_machine_is_probed(endpoint: str, address: tuple[str, int] | None) -> None:
    assert local_address(endpoint) == address


def test_a_listening_port_answers_and_a_closed_one_says_why() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert unreachable(("127.0.0.1", port)) is None
    problem = unreachable(("127.0.0.1", port))
    assert problem is not None
    assert f"nothing listens at 127.0.0.1:{port}" in problem and "start its server" in problem
