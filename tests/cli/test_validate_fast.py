"""`mzt validate` answered before click says exactly what the click command says."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from mzt.cli import fast
from tests.cli.conftest import Result
from tests.helpers import minimal, write_score

BROKEN = "name: t\nsheet: {size: 1, total_items: 2}\nprompt: {}\nretries: 3\n"
WARNED = minimal(validations=[{"type": "content_regex", "path": "{workspace}/a", "pattern": "("}])


def scores(tmp_path: Path) -> dict[str, Path]:
    (tmp_path / "a-file").write_text("")
    return {
        "good": write_score(tmp_path, minimal(instrument="cli"), "good.yaml"),
        "broken": write_score(tmp_path, BROKEN, "broken.yaml"),
        "warned": write_score(tmp_path, WARNED, "warned.yaml"),
        "missing": tmp_path / "missing.yaml",
        "folder": tmp_path,
    }


@pytest.mark.parametrize("which", ["good", "broken", "warned", "missing", "folder"])
@pytest.mark.parametrize(
    "flags",
    [[], ["-q"], ["--json"], ["-v"], ["-v", "-j"], ["-w", "elsewhere"], ["--workspace=ws", "-q"]],
)
def test_the_fast_answer_is_the_click_answer(
    tmp_path: Path,
    mzt: Callable[..., Result],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    which: str,
    flags: list[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    ended: list[int] = []
    monkeypatch.setattr(fast, "_end", ended.append)  # it would end this process
    args = ["validate", *flags, str(scores(tmp_path)[which])]
    code = fast.answer(args)
    assert ended == [code], "the process ends once the answer is printed"
    captured = capsys.readouterr()
    assert code is not None, "answered here, not handed to click"
    assert Result(code, captured.out, captured.err) == mzt(*args)


@pytest.mark.parametrize(
    "args",
    [
        ["validate"],
        ["validate", "a.yaml", "b.yaml"],
        ["validate", "--dry", "a.yaml"],
        ["validate", "-w", "a-file", "a.yaml"],  # click names the problem with -w
        ["validate", "-w", "x", "-w", "y", "a.yaml"],
        ["validate", "--help"],
    ],
)
def test_anything_else_goes_to_click(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    scores(tmp_path)
    assert fast.answer(args) is None
    assert capsys.readouterr() == ("", "")


def test_the_real_command_answers_without_click(tmp_path: Path) -> None:
    score = write_score(tmp_path, minimal(instrument="cli"))
    probe = (
        "import json, os, sys\nfrom mzt.entry import main\nsys.argv = ['mzt', *sys.argv[1:]]\n"
        "def _exit(code):\n    raise SystemExit(code)\nos._exit = _exit\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    code = exc.code\n"
        "print(json.dumps({'code': code, 'click': 'click' in sys.modules}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, "validate", "-j", str(score)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    document, seen = (json.loads(line) for line in done.stdout.splitlines())
    assert seen == {"code": 0, "click": False} and document["valid"] is True
