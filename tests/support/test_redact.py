"""Credential redaction: every pattern, streaming across chunks, tails."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from mzt.support.redact import (
    Redactor,
    get_redactor,
    redact,
    redact_tail,
    secret_env_values,
    utf8_tail,
)
from mzt.support.redact_stream import StreamRedactor

DATA = Path(__file__).parents[1] / "data" / "secrets"
CLEAN = (DATA / "clean_agent_output.txt").read_text()
NEAR_MISSES = (DATA / "clean_near_misses.txt").read_text()
ENV_SECRET = "correct-horse-battery-staple-42"

# Built at run time so no credential-shaped literal sits in the repository.
_R = random.Random(7)


def _tok(alphabet: str, n: int) -> str:
    return "".join(_R.choice(alphabet) for _ in range(n))


ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
URLSAFE = ALNUM + "-_"
PEM_BODY = "\n".join(_tok(ALNUM + "+/", 64) for _ in range(6))

# (kind, the secret, the text around it)
CASES: list[tuple[str, str, str]] = [
    ("ANTHROPIC_KEY", "sk-ant-api03-" + _tok(URLSAFE, 93) + "AA", "key={}"),
    ("ANTHROPIC_KEY", "sk-ant-admin01-" + _tok(URLSAFE, 60), "admin {} ok"),
    ("ANTHROPIC_KEY", "sk-ant-oat01-" + _tok(URLSAFE, 80), "oauth token: {}"),
    ("OPENAI_KEY", "sk-proj-" + _tok(URLSAFE, 120), "OPENAI_API_KEY={}"),
    ("OPENAI_KEY", "sk-svcacct-" + _tok(URLSAFE, 60), "{}"),
    ("OPENAI_KEY", "sk-" + _tok(ALNUM, 20) + "T3BlbkFJ" + _tok(ALNUM, 19) + "7", "legacy {}."),
    ("AWS_ACCESS_KEY", "AKIA" + _tok("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16), "id {}"),
    ("AWS_ACCESS_KEY", "ASIA" + _tok("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16), "({})"),
    ("AWS_SECRET_KEY", _tok(ALNUM + "/+", 40), "aws_secret_access_key = {}"),
    ("GOOGLE_API_KEY", "AIza" + _tok(URLSAFE, 35), "?key={}&q=1"),
    ("GITHUB_TOKEN", "ghp_" + _tok(ALNUM, 36), "token {}"),
    ("GITHUB_TOKEN", "gho_" + _tok(ALNUM, 36), "{}"),
    ("GITHUB_TOKEN", "ghs_" + _tok(ALNUM, 36), "{}"),
    ("GITHUB_TOKEN", "ghu_" + _tok(ALNUM, 36), "{}"),
    ("GITHUB_TOKEN", "ghr_" + _tok(ALNUM, 36), "{}"),
    ("GITHUB_TOKEN", "github_pat_" + _tok(ALNUM + "_", 82), "pat: {}"),
    ("SLACK_TOKEN", "xoxb-" + _tok("0123456789", 12) + "-" + _tok(ALNUM, 24), "{}"),
    ("SLACK_TOKEN", "xoxp-" + _tok("0123456789", 12) + "-" + _tok(ALNUM, 24), "{}"),
    ("SLACK_TOKEN", "xoxa-" + _tok(ALNUM, 30), "{}"),
    ("SLACK_TOKEN", "xoxe-" + _tok(ALNUM, 30), "{}"),
    ("SLACK_TOKEN", "xoxr-" + _tok(ALNUM, 30), "{}"),
    ("SLACK_TOKEN", "xoxs-" + _tok(ALNUM, 30), "{}"),
    ("SLACK_TOKEN", "xapp-1-A" + _tok(ALNUM, 10) + "-" + _tok(ALNUM, 30), "{}"),
    ("HUGGINGFACE_TOKEN", "hf_" + _tok(ALNUM, 34), "HF: {}"),
    ("BEARER_TOKEN", _tok(ALNUM, 10) + "9." + _tok(URLSAFE, 30), "got Bearer {} back"),
    ("AUTH_HEADER", _tok(ALNUM, 30) + "==", 'curl -H "Authorization: Basic {}" url'),
    ("AUTH_HEADER", _tok(URLSAFE, 40), "Authorization: Bearer {}"),
    ("API_KEY_HEADER", _tok(ALNUM, 32), "x-api-key: {}"),
    ("URL_CREDENTIALS", "admin:" + _tok(ALNUM, 16), "postgres://{}@db.internal:5432/app"),
    ("URL_CREDENTIALS", ":" + _tok(ALNUM, 16), "redis://{}@cache:6379"),
    (
        "JWT",
        "eyJ" + _tok(URLSAFE, 20) + ".eyJ" + _tok(URLSAFE, 40) + "." + _tok(URLSAFE, 43),
        "jwt {}",
    ),
    (
        "PRIVATE_KEY",
        f"-----BEGIN RSA PRIVATE KEY-----\n{PEM_BODY}\n-----END RSA PRIVATE KEY-----",
        "key:\n{}\nafter",
    ),
    ("PRIVATE_KEY", f"-----BEGIN OPENSSH PRIVATE KEY-----\n{PEM_BODY}", "cut block:\n{}"),
    ("ENV_SECRET", ENV_SECRET, "password is {} right"),
    # Generic key/value secrets: neither in the environment nor of a known shape.
    ("GENERIC_SECRET", "hunter2hunter2", "PASSWORD={}"),
    ("GENERIC_SECRET", "hunter2hunter2", "db_password: {}"),
    ("GENERIC_SECRET", _tok(ALNUM, 32), '{{"client_secret": "{}"}}'),
    ("GENERIC_SECRET", _tok(ALNUM, 32), '{{\\"client_secret\\": \\"{}\\"}}'),
    ("GENERIC_SECRET", _tok(ALNUM, 24) + "7", "API_KEY={}"),
    ("GENERIC_SECRET", _tok(ALNUM, 20) + "1", "export SERVICE_TOKEN='{}'"),
    ("GENERIC_SECRET", "Tr0ub4dor&3x", 'password := "{}"'),
    ("GENERIC_SECRET", _tok(ALNUM, 30) + "9", "private_key = {}"),
    ("GENERIC_SECRET", _tok(ALNUM, 20) + "2", "'access_key' => '{}'"),
    (
        "GENERIC_SECRET",
        _tok("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", 24),
        "secret={}",
    ),
    ("AWS_SECRET_KEY", _tok(ALNUM + "/+", 40), "AWS_SECRET_ACCESS_KEY={}"),
    ("BASIC_AUTH", "YWxpY2U6aHVudGVyMmh1bnRlcjI=", "Basic {}"),
    ("AUTH_HEADER", "YWxpY2U6aHVudGVyMg==", '{{"Authorization": "Basic {}"}}'),
    (
        "PRIVATE_KEY",
        f"-----BEGIN OPENSSH PRIVATE KEY-----\n{PEM_BODY}\n-----END OPENSSH PRIVATE KEY-----",
        "id_ed25519:\n{}\n",
    ),
]


@pytest.fixture(params=[True, False], ids=["re2", "needles"])
def redactor(request: pytest.FixtureRequest) -> Redactor:
    """With RE2's one-pass scan and with the plain search it falls back to: same results."""
    return Redactor([ENV_SECRET], use_re2=request.param)


def secret_core(secret: str) -> str:
    """The part of a secret that must never survive (its random body)."""
    return secret.split("\n", 1)[1] if secret.startswith("-----BEGIN") else secret


@pytest.mark.parametrize(
    ("kind", "secret", "frame"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)]
)
def test_each_pattern_is_redacted(redactor: Redactor, kind: str, secret: str, frame: str) -> None:
    text = frame.format(secret)
    out = redactor.redact(text)
    assert secret_core(secret) not in out
    assert f"[REDACTED_{kind}]" in out
    assert redactor.redact(out) == out  # idempotent
    # The JSON pre-check never misses a string that needs redacting.
    assert redactor.json_might_contain(json.dumps({"x": text}))
    assert redactor.json_might_contain(json.dumps({"x": "\n" + text}, ensure_ascii=False))


def test_lead_in_text_stays_readable(redactor: Redactor) -> None:
    assert (
        redactor.redact("postgres://u:p4ssw0rd@h/db")
        == "postgres://[REDACTED_URL_CREDENTIALS]@h/db"
    )
    assert redactor.redact("Authorization: Bearer abcdefgh12345678").startswith("Authorization: ")


def test_clean_agent_output_is_unchanged(redactor: Redactor) -> None:
    assert redactor.redact(CLEAN) == CLEAN
    assert not redactor.json_might_contain(json.dumps({"x": CLEAN}))
    assert StreamRedactor(redactor).feed(CLEAN) + StreamRedactor(redactor).flush() != ""
    stream = StreamRedactor(redactor)
    assert stream.feed(CLEAN) + stream.flush() == CLEAN


@pytest.mark.parametrize("line", [x for x in NEAR_MISSES.splitlines() if x.strip()])
def test_code_logs_json_and_diffs_that_only_name_secrets_are_unchanged(
    redactor: Redactor, line: str
) -> None:
    assert redactor.redact(line) == line


def test_near_miss_corpus_is_unchanged_whole_and_streamed(redactor: Redactor) -> None:
    assert redactor.redact(NEAR_MISSES) == NEAR_MISSES
    stream = StreamRedactor(redactor, hold=64)
    out = "".join(stream.feed(NEAR_MISSES[i : i + 97]) for i in range(0, len(NEAR_MISSES), 97))
    assert out + stream.flush() == NEAR_MISSES


def test_bytes_that_are_not_utf8_are_scanned_too(redactor: Redactor) -> None:
    key = "ghp_" + _tok(ALNUM, 36)
    data = b"\xff\xfe binary " + key.encode() + b" \xc3("
    out = redactor.redact_bytes(data)
    assert key.encode() not in out and out.startswith(b"\xff\xfe binary [REDACTED_")


@pytest.mark.parametrize(
    "text",
    [
        "the task-scheduler-for-large-projects-v2 is done",
        "sk-learn-compatible-estimators",
        "use bearer authentication",
        "see https://example.com:8443/a@b",
        "hf_model_name_here",
    ],
)
def test_near_misses_are_left_alone(redactor: Redactor, text: str) -> None:
    assert redactor.redact(text) == text


def test_env_values_are_picked_by_name() -> None:
    env = {
        "ANTHROPIC_API_KEY": "value-long-enough",
        "GITHUB_TOKEN": "another-long-one",
        "DB_PASSWORD": "hunter2hunter2",
        "SHORT_TOKEN": "abc",
        "SSH_AUTH_SOCK": "/tmp/agent.sock",
        "KEY_FILE": "/home/me/key.pem",
        "HOME": "/home/me",
    }
    assert set(secret_env_values(env)) == {
        "value-long-enough",
        "another-long-one",
        "hunter2hunter2",
    }


def test_default_redactor_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert redact(f"x {ENV_SECRET} y") == f"x {ENV_SECRET} y"
    monkeypatch.setenv("MY_SERVICE_TOKEN", ENV_SECRET)
    assert redact(f"x {ENV_SECRET} y") == "x [REDACTED_ENV_SECRET] y"
    assert get_redactor() is get_redactor()


# --- streaming ------------------------------------------------------------------------------


def corpus() -> str:
    parts = [CLEAN[:400]]
    for _, secret, frame in CASES:
        parts.append(frame.format(secret))
        parts.append(CLEAN[:200])
    return "\n".join(parts)


def assert_no_secret(text: str) -> None:
    for _, secret, _ in CASES:
        assert secret_core(secret) not in text, secret[:20]


def test_stream_split_in_two_anywhere_gives_the_whole_text_result(redactor: Redactor) -> None:
    text = corpus()
    whole = redactor.redact(text)
    assert_no_secret(whole)
    for cut in range(0, len(text) + 1, 101):
        stream = StreamRedactor(redactor, hold=256)
        out = stream.feed(text[:cut]) + stream.feed(text[cut:]) + stream.flush()
        assert out == whole, cut


def test_every_split_of_each_secret_is_caught(redactor: Redactor) -> None:
    for _, secret, frame in CASES:
        text = "prefix line\n" + frame.format(secret) + "\nsuffix line\n"
        for cut in range(len(text) + 1):
            stream = StreamRedactor(redactor)
            out = stream.feed(text[:cut]) + stream.feed(text[cut:]) + stream.flush()
            assert secret_core(secret) not in out
            assert out == redactor.redact(text)


def test_stream_random_chunks(redactor: Redactor) -> None:
    text = corpus()
    rng = random.Random(3)
    for _ in range(20):
        stream = StreamRedactor(redactor, hold=128)
        out, position = [], 0
        while position < len(text):
            size = rng.randint(1, 300)
            out.append(stream.feed(text[position : position + size]))
            position += size
        out.append(stream.flush())
        assert "".join(out) == redactor.redact(text)


def test_stream_holds_back_only_a_bounded_tail(redactor: Redactor) -> None:
    stream = StreamRedactor(redactor, hold=100)
    emitted = stream.feed("word " * 2000)
    assert len(emitted) >= 10_000 - 2 * 100


def test_stream_huge_token_is_swallowed_to_its_end(redactor: Redactor) -> None:
    stream = StreamRedactor(redactor, hold=64, max_hold=1024)
    key = "sk-ant-api03-" + "A" * 5000
    out = stream.feed("start " + key[:3000]) + stream.feed(key[3000:] + " tail") + stream.flush()
    assert "AAAA" not in out
    assert out.startswith("start [REDACTED_ANTHROPIC_KEY]") and out.endswith(" tail")


def test_stream_cut_pem_block_is_redacted_to_the_end(redactor: Redactor) -> None:
    stream = StreamRedactor(redactor, hold=64, max_hold=256)
    out = stream.feed("before\n-----BEGIN PRIVATE KEY-----\n")
    for line in PEM_BODY.split("\n") * 4:
        out += stream.feed(line + "\n")
    out += stream.feed("-----END PRIVATE KEY-----\nafter\n") + stream.flush()
    assert all(line not in out for line in PEM_BODY.split("\n"))
    assert out.startswith("before\n[REDACTED_PRIVATE_KEY]") and out.endswith("after\n")
    cut = StreamRedactor(redactor)
    unfinished = cut.feed("-----BEGIN EC PRIVATE KEY-----\n" + PEM_BODY[:100]) + cut.flush()
    assert unfinished == "[REDACTED_PRIVATE_KEY]"


# --- tails -------------------------------------------------------------------------------------


def test_redact_tail_redacts_before_cutting(redactor: Redactor) -> None:
    key = "ghp_" + "B" * 36
    text = "x" * 100 + " " + key + " end"
    tail, truncated = redact_tail(text, 30, redactor)
    assert truncated and tail is not None
    assert "BBBB" not in tail and tail.endswith("[REDACTED_GITHUB_TOKEN] end")
    assert len(tail.encode()) <= 30


def test_redact_tail_whose_cut_reveals_a_token_start(redactor: Redactor) -> None:
    key = "sk-ant-api03-" + "C" * 40
    text = "x" + key  # glued to a word: not a key as written
    assert redactor.redact(text) == text
    tail, _ = redact_tail(text, len(key), redactor)  # the cut removes the glue
    assert tail == "[REDACTED_ANTHROPIC_KEY]"


def test_redact_tail_none_and_short(redactor: Redactor) -> None:
    assert redact_tail(None, 10, redactor) == (None, False)
    assert redact_tail("short", 10, redactor) == ("short", False)


@pytest.mark.parametrize("limit", range(0, 12))
def test_utf8_tail_starts_on_a_character(limit: int) -> None:
    data = "aé€😀".encode()
    tail = utf8_tail(data, limit)
    assert len(tail) <= limit
    assert data.endswith(tail)
    tail.decode("utf-8")  # never starts mid-character
