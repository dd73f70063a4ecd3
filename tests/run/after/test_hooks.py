"""When a run fires its hooks, what a round records, and what it owes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mzt.run.after.chain import CHAIN_DEPTH_ENV, ChainContext
from mzt.run.after.hooks import AfterRun, line, owes_hooks
from mzt.run.control import Controls
from mzt.run.reporting import NullReporter
from mzt.score.models import PostSuccessHook
from mzt.score.models.hooks import ConcertConfig
from mzt.state import CheckpointState, JobStatus, JsonStateBackend, SheetStatus, hook_rounds


class Notes(NullReporter):
    def __init__(self) -> None:
        self.lines: list[str] = []

    def note(self, message: str) -> None:
        self.lines.append(message)


def after(tmp_path: Path, hooks: list[dict[str, Any]], depth: int = 0, **concert: Any) -> AfterRun:
    workspace = tmp_path / "ws"
    workspace.mkdir(exist_ok=True)
    chain = ChainContext(
        workspace=workspace,
        job_id="job",
        fields={"workspace": str(workspace), "job_id": "job", "sheet_count": "2"},
        concert=ConcertConfig(**concert),
        environ={"PATH": "/usr/bin:/bin", CHAIN_DEPTH_ENV: str(depth)},
        log_dir=workspace / "hooks",
    )
    return AfterRun(
        hooks=[PostSuccessHook(**h) for h in hooks],
        chain=chain,
        store=JsonStateBackend(workspace),
        controls=Controls(workspace, "job"),
        reporter=Notes(),
        resume=False,
    )


def state(done: int = 0) -> CheckpointState:
    job = CheckpointState(job_id="job", job_name="job", total_sheets=2)
    for num in (1, 2):
        job.sheet(num).status = SheetStatus.COMPLETED if num <= done else SheetStatus.PENDING
    return job


def complete(job: CheckpointState) -> CheckpointState:
    for sheet in job.sheets.values():
        sheet.status = SheetStatus.COMPLETED
    job.mark_job_completed()
    return job


def test_new_work_counts_only_sheets_this_run_finished(tmp_path: Path) -> None:
    runner = after(tmp_path, [])
    job = state(done=1)
    runner.opened(job)
    assert runner.new_work(job) == 0
    job.sheet(2).status = SheetStatus.SKIPPED
    assert runner.new_work(job) == 1


def test_nothing_fires_without_new_work_or_completion(tmp_path: Path) -> None:
    runner = after(tmp_path, [{"type": "run_command", "command": "touch fired"}])
    job = state(done=2)
    runner.opened(job)
    job.mark_job_completed()
    assert runner.finish(job, 0, "completed") == (0, "completed")
    failed = state()
    runner.opened(failed)
    failed.sheet(1).status = SheetStatus.COMPLETED
    failed.mark_job_failed("sheet 2 failed")
    assert runner.finish(failed, 1, "x") == (1, "x")
    assert not (tmp_path / "ws" / "fired").exists() and runner.results == []


def test_abort_skips_the_rest_and_the_round_is_owed(tmp_path: Path) -> None:
    runner = after(
        tmp_path,
        [
            {"type": "run_command", "command": "touch one"},
            {"type": "run_command", "command": "exit 4", "on_failure": "abort"},
            {"type": "run_command", "command": "touch three"},
        ],
    )
    job = state()
    runner.opened(job)
    code, message = runner.finish(complete(job), 0, "completed")
    assert code == 6 and message == "on_success hook 2 failed: exited 4"
    assert [r["outcome"] for r in job.hook_results] == ["succeeded", "failed", "skipped"]
    assert job.status == JobStatus.COMPLETED and owes_hooks(job)
    assert not (tmp_path / "ws" / "three").exists()
    assert [n for n, _ in runner._owed_hooks(hook_rounds.owed(job.hook_results))] == [2, 3]
    assert "on_success 2 (run_command: exit 4) failed: exited 4" in runner.reporter.lines  # type: ignore[attr-defined]


def test_concert_abort_stops_after_any_failure(tmp_path: Path) -> None:
    hooks = [
        {"type": "run_command", "command": "false"},
        {"type": "run_command", "command": "true"},
    ]
    runner = after(tmp_path, hooks, abort_concert_on_hook_failure=True)
    job = state()
    runner.opened(job)
    assert runner.finish(complete(job), 0, "completed")[0] == 6
    assert [r["outcome"] for r in job.hook_results] == ["failed", "skipped"]


def test_a_chain_at_max_depth_is_refused_not_failed(tmp_path: Path) -> None:
    runner = after(
        tmp_path, [{"type": "run_job", "job_path": "next.yaml"}], depth=3, max_chain_depth=3
    )
    job = state()
    runner.opened(job)
    assert runner.finish(complete(job), 0, "completed") == (0, "completed")
    [result] = job.hook_results
    assert result["outcome"] == "refused" and result["success"] is False
    assert not owes_hooks(job)
    assert "refused: max_chain_depth reached" in (tmp_path / "ws" / "concert.log").read_text()


def test_pause_before_chain_holds_it_and_what_follows(tmp_path: Path) -> None:
    hooks = [
        {"type": "run_job", "job_path": "next.yaml", "pause_before_chain": True},
        {"type": "run_command", "command": "touch later"},
    ]
    runner = after(tmp_path, hooks)
    job = state()
    runner.opened(job)
    code, message = runner.finish(complete(job), 0, "completed")
    assert code == 3 and "held by pause_before_chain" in message and "next.yaml" in message
    assert job.status == JobStatus.PAUSED
    assert [r["outcome"] for r in job.hook_results] == ["held", "held"]
    # A later `mzt run` that finds the chain held (nothing new to do) keeps holding it.
    again = after(tmp_path, hooks)
    again.opened(job)
    job.mark_job_completed()
    assert again.finish(job, 0, "completed")[0] == 3


def test_line_names_the_hook_and_its_outcome() -> None:
    text = line(
        {
            "index": 2,
            "type": "run_script",
            "command": "x" * 80,
            "outcome": "failed",
            "error": "exited 1",
            "log_path": "/w/hooks/hook-2.log",
        }
    )
    assert text.startswith("on_success 2 (run_script: " + "x" * 57 + "...) failed: exited 1")
    assert text.endswith("(log: /w/hooks/hook-2.log)")


def test_resume_records_an_owed_hook_the_score_dropped(tmp_path: Path) -> None:
    hooks = [
        {"type": "run_command", "command": "true"},
        {"type": "run_command", "command": "false"},
    ]
    runner = after(tmp_path, hooks)
    job = state()
    runner.opened(job)
    assert runner.finish(complete(job), 0, "completed")[0] == 6
    fixed = after(tmp_path, hooks[:1])
    assert fixed.resume_owed(job) == (0, "completed")
    assert job.hook_results[-1]["outcome"] == "removed" and not owes_hooks(job)


def test_the_cancel_file_skips_the_hooks_left(tmp_path: Path) -> None:
    hooks = [{"type": "run_command", "command": "touch .marianne-cancel-job"}] + [
        {"type": "run_command", "command": "touch fired"}
    ] * 2
    runner = after(tmp_path, hooks)
    job = state()
    runner.opened(job)
    assert runner.finish(complete(job), 0, "completed")[0] == 6
    assert [r["outcome"] for r in job.hook_results] == ["succeeded", "skipped", "skipped"]
    assert not (tmp_path / "ws" / "fired").exists()
    assert not (tmp_path / "ws" / ".marianne-cancel-job").exists()
