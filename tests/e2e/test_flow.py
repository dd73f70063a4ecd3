"""End to end: resume sources, fallbacks, skip rules, waits that must stay interruptible."""

from __future__ import annotations

import json
import signal
import time

from tests.e2e.conftest import Project, wait_for


def base(**extra: object) -> dict[str, object]:
    return {
        "name": "job",
        "instrument": "cli",
        "sheet": {"size": 1, "total_items": 2},
        "prompt": {"template": "echo v1 > {{ workspace }}/out-{{ sheet_num }}.txt"},
        "validations": [{"type": "file_exists", "path": "{workspace}/out-{sheet_num}.txt"}],
        **extra,
    }


def failing_sheet_two(project: Project, template: str) -> dict[str, object]:
    return base(
        prompt={"template": template},
        retry={"max_retries": 1},
    )


def test_resume_reads_the_score_file_then_the_snapshot(project: Project) -> None:
    broken = "{% if sheet_num == 1 %}echo a > {{ workspace }}/out-1.txt{% else %}exit 1{% endif %}"
    score = project.score(failing_sheet_two(project, broken))
    assert project.mzt("run", score).returncode == 1

    # The file the job was started with is read again: fix it there, resume picks it up.
    fixed = "echo b > {{ workspace }}/out-{{ sheet_num }}.txt"
    project.score(failing_sheet_two(project, fixed))
    result = project.mzt("resume", "job", "-w", project.workspace)
    assert result.returncode == 0, result.stderr
    assert (project.workspace / "out-2.txt").read_text() == "b\n"


def test_resume_no_reload_uses_the_stored_snapshot(project: Project) -> None:
    broken = "{% if sheet_num == 1 %}echo a > {{ workspace }}/out-1.txt{% else %}exit 1{% endif %}"
    score = project.score(failing_sheet_two(project, broken))
    assert project.mzt("run", score).returncode == 1
    project.score(failing_sheet_two(project, "echo b > {{ workspace }}/out-{{ sheet_num }}.txt"))
    again = project.mzt("resume", "job", "-w", project.workspace, "--no-reload")
    assert again.returncode == 1  # the stored score still fails sheet 2
    # An explicit --config beats everything.
    other = project.root / "other.yaml"
    other.write_text(score.read_text())
    result = project.mzt("resume", "job", "-w", project.workspace, "--no-reload", "--config", other)
    assert result.returncode == 0, result.stderr


def test_resume_rules(project: Project) -> None:
    score = project.score(base())
    assert project.mzt("resume", "job", "-w", project.workspace).returncode == 2  # nothing yet
    assert project.mzt("run", score).returncode == 0
    done = project.mzt("resume", score)
    assert done.returncode == 2 and "--force" in done.stderr
    forced = project.mzt("resume", score, "--force", "--json")
    assert forced.returncode == 0, forced.stderr
    assert json.loads(forced.stdout)["status"] == "completed"
    missing = project.mzt("resume", "nosuchjob")
    assert missing.returncode == 2 and "nosuchjob" in missing.stderr


def test_exhausted_budget_moves_to_the_fallback_with_a_fresh_budget(project: Project) -> None:
    project.fake_profile("broken", executable="/bin/false")
    score = project.score(
        base(
            instrument="broken",
            instrument_fallbacks=["cli"],
            retry={"max_retries": 2, "base_delay_seconds": 0.05, "jitter": False},
            prompt={"template": "echo ok > {{ workspace }}/out-{{ sheet_num }}.txt"},
            validations=[
                {"type": "file_exists", "path": "{workspace}/out-{sheet_num}.txt", "retry_count": 0}
            ],
        )
    )
    result = project.mzt("run", score)
    assert result.returncode == 0, result.stderr
    sheet = project.sheets("job")[1]
    assert sheet["instrument_name"] == "cli"
    assert sheet["attempt_count"] == 3  # two on the failing instrument, one on the fallback
    [move] = sheet["instrument_fallback_history"]
    assert (move["from"], move["to"]) == ("broken", "cli")


def test_skip_rules(project: Project) -> None:
    score = project.score(
        base(
            sheet={
                "size": 1,
                "total_items": 3,
                "skip_when": {2: "sheets[1]['status'] == 'completed'"},
                "skip_when_command": {3: {"command": "test -f {workspace}/out-1.txt"}},
            }
        )
    )
    result = project.mzt("run", score)
    assert result.returncode == 0, result.stderr
    sheets = project.sheets("job")
    assert sheets[2]["status"] == sheets[3]["status"] == "skipped"
    assert sheets[2]["error_code"] is None  # skipped on purpose, not blocked
    assert not (project.workspace / "out-2.txt").exists()


def test_pause_during_backoff_is_immediate(project: Project) -> None:
    score = project.score(
        base(
            # The script succeeds but writes nothing: a validation failure is backed off
            # (a script's own non-zero exit would be retried at once).
            prompt={"template": "true"},
            retry={"max_retries": 5, "base_delay_seconds": 60, "jitter": False},
        )
    )
    proc = project.start("run", score)
    wait_for(lambda: "retry_scheduled" in _history(project))
    started = time.monotonic()
    (project.workspace / ".marianne-pause-job").touch()
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 3, err
    assert time.monotonic() - started < 20  # the backoff is 60 s
    assert project.sheets("job")[1]["status"] == "retry_scheduled"


def test_second_sigint_skips_the_grace_period(project: Project) -> None:
    marker = project.root / "started"
    score = project.score(base(prompt={"template": f"trap '' TERM INT; touch {marker}; sleep 300"}))
    proc = project.start("run", score)
    wait_for(marker.exists)
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert time.monotonic() - started < 4  # the 5 s grace period was skipped
    assert project.state("job")["status"] == "paused"


def test_a_symlinked_pause_file_is_ignored(project: Project) -> None:
    target = project.root / "elsewhere"
    target.touch()
    project.workspace.mkdir()
    (project.workspace / ".marianne-pause-job").symlink_to(target)
    result = project.mzt("run", project.score(base()))
    assert result.returncode == 0, result.stderr
    assert target.exists()


def _history(project: Project) -> str:
    path = project.workspace / ".marianne" / "job.history.jsonl"
    return path.read_text() if path.exists() else ""


def test_fail_fast_stops_launching_and_resume_runs_the_rest(project: Project) -> None:
    template = (
        "{% if sheet_num == 1 %}exit 1{% else %}sleep 0.2; "
        "echo ok > {{ workspace }}/out-{{ sheet_num }}.txt{% endif %}"
    )
    score = project.score(
        base(
            sheet={"size": 1, "total_items": 1, "fan_out": {1: 6}},
            parallel={"enabled": True, "max_concurrent": 2, "fail_fast": True},
            retry={"max_retries": 1},
            prompt={"template": template},
        )
    )
    result = project.mzt("run", score)
    assert result.returncode == 1, result.stderr
    sheets = project.sheets("job")
    assert sheets[1]["status"] == "failed"
    not_started = [n for n, s in sheets.items() if s["status"] == "skipped"]
    assert not_started and all("fail_fast" in sheets[n]["error_message"] for n in not_started)
    fixed = score.read_text().replace("exit 1", "echo ok > {{ workspace }}/out-1.txt")
    (project.root / "score.yaml").write_text(fixed)
    resumed = project.mzt("resume", "job", "-w", project.workspace)
    assert resumed.returncode == 0, resumed.stderr
