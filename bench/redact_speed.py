"""How fast attempt output is redacted on its way to the log, in MB/s of child output.

The path measured is the one `mzt.support.process` takes for every pipe: 64 KiB reads of
raw bytes go through the stream redactor and come out as the bytes written to the log.
Three inputs, built at run time (no credential-shaped literal sits in the repository):

* clean: realistic agent output — the clean corpus of the tests (code, logs, JSON, diffs,
  prose) repeated, with a counter so no two copies are alike;
* one long line: the same size of ``a`` with no whitespace at all (``tr '\\0' a``);
* secret-dense: the clean text with a credential of some kind every ~600 bytes.

Each figure is the median over ``--rounds`` rounds, each round in a fresh process, with
min–max. ``--against DIR`` also measures another checkout of mzt (say, the main branch),
alternating round by round (this checkout, the other, …), and prints the per-round speed-up.

Usage: python bench/redact_speed.py [--mb 32] [--rounds 5] [--against /path/to/checkout]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CLEAN = REPO / "tests" / "data" / "secrets" / "clean_agent_output.txt"
CHUNK = 64 * 1024
KINDS = ("clean", "one long line", "secret-dense")


def _secrets(rng: random.Random) -> list[str]:
    alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

    def tok(n: int, alphabet: str = alnum) -> str:
        return "".join(rng.choice(alphabet) for _ in range(n))

    return [
        "export ANTHROPIC_API_KEY=sk-ant-api03-" + tok(90),
        "aws_access_key_id = AKIA" + tok(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"),
        "aws_secret_access_key = " + tok(40),
        "curl -H 'Authorization: Bearer " + tok(40) + "' https://api.example.com",
        "GITHUB_TOKEN=ghp_" + tok(36),
        "postgres://app:" + tok(16) + "@db.internal:5432/app",
        'PASSWORD="' + tok(18) + '"',
        '{"client_secret": "' + tok(32) + '"}',
        "-----BEGIN OPENSSH PRIVATE KEY-----\n" + tok(64) + "\n-----END OPENSSH PRIVATE KEY-----",
    ]


def make_input(kind: str, size: int) -> bytes:
    if kind == "one long line":
        return b"a" * size
    clean = CLEAN.read_text()
    rng = random.Random(11)
    secrets = _secrets(rng) if kind == "secret-dense" else []
    parts: list[str] = []
    total = 0
    copy = 0
    while total < size:
        copy += 1
        for paragraph in clean.split("\n\n"):
            piece = f"{paragraph}\n[{copy}]\n"
            if secrets:
                piece += rng.choice(secrets) + "\n"
            parts.append(piece)
            total += len(piece)
    return "".join(parts).encode()[:size]


def pipeline() -> tuple[Callable[[bytes], bytes], Callable[[], bytes]]:
    """``feed`` and ``finish`` of the stream path of whichever mzt is on ``sys.path``."""
    from mzt.support import redact_stream

    byte_stream = getattr(redact_stream, "ByteStreamRedactor", None)
    if byte_stream is not None:
        stream = byte_stream()
        return stream.feed, stream.flush
    import codecs

    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    text_stream = redact_stream.StreamRedactor()

    def feed(data: bytes) -> bytes:
        return bytes(text_stream.feed(decoder.decode(data)).encode())

    def finish() -> bytes:
        tail = text_stream.feed(decoder.decode(b"", final=True)) + text_stream.flush()
        return bytes(tail.encode())

    return feed, finish


def measure_one(kind: str, megabytes: int) -> dict[str, float]:
    data = make_input(kind, megabytes * 1_000_000)
    view = memoryview(data)
    feed, finish = pipeline()
    out = 0
    started = time.perf_counter()
    for start in range(0, len(data), CHUNK):
        out += len(feed(bytes(view[start : start + CHUNK])))
    out += len(finish())
    seconds = time.perf_counter() - started
    return {"mb_per_s": len(data) / seconds / 1e6, "out_bytes": out, "in_bytes": len(data)}


def spawn(source: Path, kind: str, megabytes: int) -> dict[str, float]:
    argv = [sys.executable, __file__, "--one", kind, "--mb", str(megabytes)]
    argv += ["--source", str(source)]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"measuring {kind!r} with {source} failed:\n{done.stderr[-3000:]}")
    result: dict[str, float] = json.loads(done.stdout)
    return result


def spread(values: list[float], unit: str, digits: int = 1) -> str:
    mid = statistics.median(values)
    return f"{mid:.{digits}f}{unit} (min {min(values):.{digits}f} – max {max(values):.{digits}f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=32, help="megabytes of output per input")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--against", type=Path, help="another mzt checkout to compare with")
    parser.add_argument("--one", choices=KINDS, help=argparse.SUPPRESS)
    parser.add_argument("--source", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        sys.path.insert(0, str(args.source or REPO))
        print(json.dumps(measure_one(args.one, args.mb)))
        return
    sides = [("this checkout", REPO)]
    if args.against:
        sides.append((f"{args.against}", args.against.resolve()))
    print(f"redaction of {args.mb} MB per input, {CHUNK // 1024} KiB chunks, {args.rounds} rounds")
    for kind in KINDS:
        speeds: dict[str, list[float]] = {name: [] for name, _ in sides}
        for _ in range(args.rounds):
            for name, source in sides:
                speeds[name].append(spawn(source, kind, args.mb)["mb_per_s"])
        print(f"{kind}:")
        for name, _ in sides:
            print(f"    {name:<40} {spread(speeds[name], ' MB/s')}")
        if args.against:
            mine, other = speeds[sides[0][0]], speeds[sides[1][0]]
            ratios = [a / b for a, b in zip(mine, other, strict=True)]
            print(f"    {'speed-up per round (this / other)':<40} {spread(ratios, '×', 2)}")


if __name__ == "__main__":
    main()
