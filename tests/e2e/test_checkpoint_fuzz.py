"""Damaged checkpoints: every view agrees with the store's loader, byte for byte.

A finished job's snapshot and journal are mutated (one byte flipped, or cut short) and,
for each mutation, the store's loader is asked first: when it refuses the files (what
makes `mzt resume` exit 5), `mzt status` must exit 5 too, in text and JSON, and `mzt list`
must mark the job unreadable; when it loads them, the views must show what it loaded. The
bulk runs the CLI in-process; a sample is confirmed with the installed command.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.conftest import Project

FULL = os.environ.get("MZT_FULL_TESTS") == "1"
CI_POSITIONS = 140  # per file in the quick variant
CI_CUTS = 25
FULL_POSITIONS = 500  # per big file in the full sweep (small files: every byte)
SUBPROCESS_SAMPLE = 20


def _score(project: Project) -> Path:
    ws = "{{ workspace }}"
    template = (
        f"echo x >> {ws}/tries-{{{{ sheet_num }}}}\n"
        "{% if sheet_num == 1 %}"
        f"test $(wc -l < {ws}/tries-1) -ge 2 && touch {ws}/done-1"
        "{% elif sheet_num == 2 %}"
        "false"
        "{% else %}"
        f"touch {ws}/done-{{{{ sheet_num }}}}"
        "{% endif %}\n"
    )
    return project.score(
        {
            "name": "job",
            "instrument": "cli",
            "sheet": {"size": 1, "total_items": 4},
            "retry": {"max_retries": 2, "base_delay_seconds": 0.01, "jitter": False},
            "prompt": {"template": template},
            "validations": [
                {"type": "file_exists", "path": "{workspace}/done-{sheet_num}", "retry_count": 0}
            ],
        }
    )


@dataclass
class Outcome:
    code: int
    out: str


def _cli(project: Project, *args: str) -> Outcome:
    from mzt.cli import cli
    from mzt.cli.errors import run_guarded

    out, err = io.StringIO(), io.StringIO()
    with (
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
        _env("MZT_HOME", str(project.home)),
        _env("NO_COLOR", "1"),
    ):
        code = run_guarded(cli, list(args))
    return Outcome(code, out.getvalue())


@contextlib.contextmanager
def _env(name: str, value: str) -> Iterator[None]:
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


def _loaded(ws: Path) -> dict[int, str] | None:
    """The sheets' statuses as the store loads them; ``None`` when it refuses the files."""
    from mzt.state import JsonStateBackend
    from mzt.support.errors import StateCorruptionError

    try:
        state = JsonStateBackend(ws).load("job")
    except StateCorruptionError:
        return None
    assert state is not None
    return {n: str(s.status) for n, s in state.sheets.items()}


def _disagreement(project: Project) -> str | None:
    """What the views got wrong about the current files (``None``: nothing)."""
    ws = project.workspace
    expected = _loaded(ws)
    text = _cli(project, "status", "job", "-w", str(ws))
    doc = _cli(project, "status", "job", "-w", str(ws), "--json")
    listing = _cli(project, "list", "--all", "--json")
    rows = [r for r in json.loads(listing.out)["jobs"] if r["job_id"] == "job"]
    if expected is None:
        problems = []
        if text.code != 5:
            problems.append(f"status exit {text.code}")
        if doc.code != 5:
            problems.append(f"status --json exit {doc.code}")
        elif json.loads(doc.out).get("schema") != "mzt.error/1":
            problems.append("status --json is not an error document")
        if not rows or rows[0]["status"] != "corrupt":
            problems.append("list does not mark it unreadable")
        return "; ".join(problems) or None
    if text.code != 0 or doc.code != 0:
        return f"loadable, but status exits {text.code}/{doc.code}"
    shown = {int(n): s["status"] for n, s in json.loads(doc.out)["sheets"].items()}
    if shown != expected:
        return f"status shows {shown}, the loader {expected}"
    if not rows or rows[0]["status"] == "corrupt":
        return "loadable, but list marks it unreadable"
    done = sum(1 for s in expected.values() if s == "completed")
    if rows[0]["progress"]["completed"] != done:
        return f"list shows {rows[0]['progress']['completed']} done, the loader {done}"
    return None


def _mutations(data: bytes, rng: random.Random) -> list[tuple[str, bytes]]:
    """Single-byte flips and truncations of ``data``, named for the failure message."""
    size = len(data)
    if FULL and size <= 20_000:
        positions = list(range(size))
    else:
        count = FULL_POSITIONS if FULL else CI_POSITIONS
        positions = sorted(rng.sample(range(size), min(size, count)))
    found = []
    for at in positions:
        flipped = bytearray(data)
        flipped[at] ^= 1 << rng.randrange(8)
        found.append((f"flip byte {at}", bytes(flipped)))
    cuts = sorted(rng.sample(range(size), min(size, CI_CUTS * (4 if FULL else 1))))
    found.extend((f"cut at {at}", data[:at]) for at in cuts)
    return found


@pytest.fixture
def finished(project: Project) -> Project:
    result = project.mzt("run", _score(project))
    assert result.returncode == 1, result.stderr
    sheets = project.sheets("job")
    assert sheets[1]["attempt_count"] == 2 and sheets[2]["status"] == "failed"
    return project


def _sweep(project: Project, name: str) -> list[str]:
    target = project.workspace / ".marianne" / name
    original = target.read_bytes()
    files = {p: p.read_bytes() for p in (project.workspace / ".marianne").glob("job*")}
    rng = random.Random(f"{name}-{len(original)}")
    failures = []
    try:
        for label, mutated in _mutations(original, rng):
            for path, data in files.items():
                path.write_bytes(data)
            target.write_bytes(mutated)
            before = target.read_bytes()
            problem = _disagreement(project)
            if problem is not None:
                failures.append(f"{name}, {label}: {problem}")
            assert target.read_bytes() == before, f"{name}, {label}: a view changed the file"
    finally:
        for path, data in files.items():
            path.write_bytes(data)
    return failures


@pytest.mark.parametrize("name", ["job.json", "job.history.jsonl"])
def test_views_agree_with_the_loader_on_every_mutation(finished: Project, name: str) -> None:
    failures = _sweep(finished, name)
    assert not failures, f"{len(failures)} disagreements:\n" + "\n".join(failures[:40])


def test_installed_command_agrees_on_a_sample(finished: Project) -> None:
    target = finished.workspace / ".marianne" / "job.json"
    original = target.read_bytes()
    files = {p: p.read_bytes() for p in (finished.workspace / ".marianne").glob("job*")}
    rng = random.Random(7)
    sample = rng.sample(_mutations(original, rng), SUBPROCESS_SAMPLE)
    failures: list[str] = []
    try:
        for label, mutated in sample:
            for path, data in files.items():
                path.write_bytes(data)
            target.write_bytes(mutated)
            refused = _loaded(finished.workspace) is None
            status = finished.mzt("status", "job", "-w", finished.workspace, "--json")
            if refused != (status.returncode == 5):
                failures.append(f"{label}: loader refused={refused}, status {status.returncode}")
            if refused:
                resume = finished.mzt("resume", "job", "-w", finished.workspace)
                if resume.returncode != 5:
                    failures.append(f"{label}: resume exits {resume.returncode}, not 5")
    finally:
        for path, data in files.items():
            path.write_bytes(data)
    assert not failures, "\n".join(failures)
