"""A reader that goes away (`mzt run score.yaml | head -1`) never changes the job's outcome."""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import Project


def gated_score(project: Project) -> dict[str, object]:
    gate = project.root / "gate"
    return {
        "name": "piped",
        "instrument": "cli",
        "sheet": {"size": 1, "total_items": 3},
        # Sheet 1 waits until the reader has gone, so every later line meets a closed pipe.
        "prompt": {
            "template": f"while [ ! -e {gate} ]; do sleep 0.05; done; echo {{{{ sheet_num }}}}"
        },
    }


@pytest.mark.parametrize("flags", [[], ["--json"]])
def test_the_run_goes_on_to_its_own_end_and_exit_code(project: Project, flags: list[str]) -> None:
    score = project.score(gated_score(project))
    run = project.start("run", *flags, score)
    assert run.stdout is not None and run.stderr is not None
    if not flags:
        assert "piped" in run.stdout.readline()  # the first line, as `head -1` reads it
    run.stdout.close()
    (project.root / "gate").touch()
    assert run.wait(timeout=120) == 0
    with run.stderr:
        assert run.stderr.read() == ""  # no traceback, no "Broken pipe"
    state = project.state("piped")
    assert state["status"] == "completed"
    assert all(s["status"] == "completed" for s in state["sheets"].values())
    done = project.mzt("status", "piped", "--json")
    assert json.loads(done.stdout)["status"] == "completed"
