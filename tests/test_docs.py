"""The README, CI script and code must not drift apart."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def shell_blocks(text: str) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", text, flags=re.S)


def test_ci_runs_the_readme_test_command() -> None:
    blocks = shell_blocks(README)
    test_command = next(b.strip() for b in blocks if "pytest" in b)
    assert test_command in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_quick_start_uses_the_hello_example() -> None:
    first = shell_blocks(README)[0]
    assert "examples/hello.yaml" in first
    assert (ROOT / "examples" / "hello.yaml").exists()


def test_every_check_code_is_documented() -> None:
    sources = "".join(p.read_text(encoding="utf-8") for p in (ROOT / "mzt").rglob("*.py"))
    emitted = set(re.findall(r'"(V\d{3})"', sources))
    assert emitted, "no check codes found"
    missing = sorted(c for c in emitted if c not in README)
    assert not missing, f"codes missing from the README: {missing}"
