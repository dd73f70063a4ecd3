"""`run_command` / `run_script` hooks: what runs, where, and what a failure says."""

from __future__ import annotations

from pathlib import Path

from mzt.run.after.chain import ChainContext
from mzt.run.after.hook_command import run_hook_command
from mzt.score.models import PostSuccessHook
from mzt.score.models.hooks import ConcertConfig


def context(tmp_path: Path) -> ChainContext:
    workspace = tmp_path / "a $(x) 'b"
    (workspace / "hooks").mkdir(parents=True, exist_ok=True)
    return ChainContext(
        workspace=workspace,
        job_id="job",
        fields={"workspace": str(workspace), "job_id": "job", "sheet_count": "2"},
        concert=ConcertConfig(),
        environ={"PATH": "/usr/bin:/bin", "MZT_V_workspace": "stale"},
        log_dir=workspace / "hooks",
    )


def run(tmp_path: Path, **hook: object) -> dict[str, object]:
    return run_hook_command(PostSuccessHook(**hook), context(tmp_path), 1, lambda: None)


def test_run_command_gets_the_fields_as_values(tmp_path: Path) -> None:
    found = run(tmp_path, type="run_command", command="printf '%s|' {workspace} {sheet_count}")
    assert found["success"] is True and found["exit_code"] == 0
    assert Path(str(found["log_path"])).read_text() == f"{context(tmp_path).workspace}|2|"


def test_run_script_keeps_a_value_in_one_argument(tmp_path: Path) -> None:
    found = run(tmp_path, type="run_script", command="printf '<%s>' {workspace}/x")
    assert Path(str(found["log_path"])).read_text() == f"<{context(tmp_path).workspace}/x>"


def test_failures_say_why(tmp_path: Path) -> None:
    assert "cannot use the command" in str(
        run(tmp_path, type="run_script", command="'open")["error"]
    )
    missing = run(tmp_path, type="run_command", command="true", working_directory="nowhere")
    assert "not a folder" in str(missing["error"]) and "success" not in missing
    failed = run(tmp_path, type="run_command", command="echo bad >&2; exit 9")
    assert failed["error"] == "exited 9: bad" and failed["success"] is False
    absent = run(tmp_path, type="run_script", command="no-such-program-here")
    assert "not found" in str(absent["error"]).lower()
