"""Attempt logs: capped per stream with head, marker and tail; memory stays bounded."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mzt.support.errors import UsageError
from mzt.support.output_log import (
    DEFAULT_LOG_MAX_BYTES,
    MARKER,
    OutputStream,
    RingBuffer,
    log_max_bytes,
    tail_kept,
)


def feed_all(stream: OutputStream, data: bytes, chunk: int = 65536) -> None:
    for start in range(0, len(data), chunk):
        stream.feed(data[start : start + chunk])
    stream.finish()


def test_small_output_is_logged_whole(tmp_path: Path) -> None:
    log = tmp_path / "out"
    stream = OutputStream(log, 1024, max_log_bytes=4096)
    feed_all(stream, b"line\n" * 100)
    assert log.read_bytes() == b"line\n" * 100
    assert stream.log_dropped == 0


def test_flood_keeps_head_marker_and_tail(tmp_path: Path) -> None:
    log = tmp_path / "out"
    cap = 8192
    lines = b"".join(b"line %06d\n" % n for n in range(100_000))  # 1.2 MB
    stream = OutputStream(log, 1024, max_log_bytes=cap)
    feed_all(stream, lines)
    data = log.read_bytes()
    marker = MARKER.search(data)
    assert marker is not None
    head, tail = data[: marker.start()], data[marker.end() :]
    # The marker goes on a line of its own: a line break is added when the head cut one.
    assert head.endswith(b"\n") and lines.startswith(head.removesuffix(b"\n"))
    head = head if lines.startswith(head) else head[:-1]
    assert lines.endswith(tail)
    assert len(head) + len(tail) <= cap
    # The kept end starts on a line boundary: at most one line short of its share.
    assert tail_kept(cap) - len(b"line 000000\n") < len(tail) <= tail_kept(cap)
    assert tail.startswith(b"line ")
    dropped = int(re.search(rb"\[mzt: ([0-9,]+) bytes", data).group(1).replace(b",", b""))  # type: ignore[union-attr]
    assert dropped == len(lines) - len(head) - len(tail) == stream.log_dropped
    assert len(data) < cap + 300
    assert stream.total == len(lines)
    assert stream.tail_text().endswith("line 099999\n")


def test_cap_never_splits_a_character(tmp_path: Path) -> None:
    log = tmp_path / "out"
    text = "é€😀" * 20_000
    stream = OutputStream(log, 1024, max_log_bytes=4096)
    feed_all(stream, text.encode(), chunk=4099)
    data = log.read_bytes()
    data.decode("utf-8")  # head and tail both on character boundaries
    assert MARKER.search(data)


def test_flood_memory_is_the_ring_not_the_stream(tmp_path: Path) -> None:
    stream = OutputStream(tmp_path / "out", 1024, max_log_bytes=1 << 20)
    for _ in range(200):  # 12.8 MB through a 1 MiB cap
        stream.feed(b"x" * 65535 + b"\n")
    assert stream.overflow is not None
    assert len(stream.overflow.data) == tail_kept(1 << 20) + 64 * 1024
    assert len(stream.tail) <= 2 * 1024 + 65536
    stream.finish()
    assert (tmp_path / "out").stat().st_size < (1 << 20) + 300


def test_ring_buffer_keeps_the_last_bytes() -> None:
    ring = RingBuffer(10)
    written = b""
    for piece in (b"abc", b"defgh", b"ijklmnop", b"q", b"0123456789abcdef", b"xyz"):
        ring.write(piece)
        written += piece
        assert ring.getvalue() == written[-10:]
    assert ring.total == len(written)


def test_secret_split_across_the_cap_is_still_redacted(tmp_path: Path) -> None:
    key = "ghp_" + "Q7" * 18
    log = tmp_path / "out"
    stream = OutputStream(log, 1024, max_log_bytes=4096)
    feed_all(stream, (b"word " * 409) + key.encode() + b" " + b"filler\n" * 3000, chunk=1000)
    assert key.encode() not in log.read_bytes()
    assert key[4:14].encode() not in log.read_bytes()


def test_a_secret_cut_by_the_drop_leaves_no_fragment(tmp_path: Path) -> None:
    # Past the head, output is redacted only where it is kept; a secret whose start falls
    # in the dropped part must not leave its end behind in the kept part.
    cap = 16384
    ring = tail_kept(cap) + 64 * 1024  # raw bytes the stream holds past its head
    key = "ghp_" + "Q7" * 18 + "\n"
    body = "".join(
        f"b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAAB{n:04d}\n" for n in range(200)
    )
    pem = f"-----BEGIN OPENSSH PRIVATE KEY-----\n{body}-----END OPENSSH PRIVATE KEY-----\n"
    # Where the secret sits: across the start of the raw ring, and across the start of the
    # part of it that is kept.
    cases = [(s, room) for s in (key, pem) for room in (ring, tail_kept(cap))]
    for secret, room in cases:
        log = tmp_path / "out"
        stream = OutputStream(log, 1024, max_log_bytes=cap)
        after = b"after\n" * ((room - len(secret) // 2) // 6)
        feed_all(stream, b"filler line\n" * 20_000 + secret.encode() + after, chunk=4096)
        written = log.read_bytes()
        assert MARKER.search(written) and written.endswith(b"after\n")
        for piece in (secret[20:40], secret[-40:-2], "b3BlbnNzaC1rZXktdjEAAAAA"):
            assert piece.encode() not in written, (secret[:10], piece)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("", DEFAULT_LOG_MAX_BYTES), ("65536", 65536), ("100M", 100 << 20), ("2g", 2 << 30),
     ("64KiB", 64 << 10), (" 8K ", 8192)],
)  # fmt: skip
def test_log_cap_from_the_environment(value: str, expected: int) -> None:
    assert log_max_bytes({"MZT_LOG_MAX_BYTES": value}) == expected
    assert log_max_bytes({}) == DEFAULT_LOG_MAX_BYTES


@pytest.mark.parametrize("value", ["lots", "-5", "100", "1.5M", "0"])
def test_bad_log_cap_says_what_to_do(value: str) -> None:
    with pytest.raises(UsageError) as caught:
        log_max_bytes({"MZT_LOG_MAX_BYTES": value})
    assert "MZT_LOG_MAX_BYTES" in str(caught.value) and "at least 4096" in str(caught.value)
