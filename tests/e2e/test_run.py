"""End to end: the installed `mzt` command on real scores, files and processes."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from tests.e2e.conftest import Project, alive, wait_for

CLI = {"instrument": "cli"}


def simple(n: int = 3, **extra: object) -> dict[str, object]:
    return {
        "name": "job",
        **CLI,
        "sheet": {"size": 1, "total_items": n},
        "prompt": {
            "template": 'echo "sheet {{ sheet_num }}" | tee {{ workspace }}/out-{{ sheet_num }}.txt'
        },
        "validations": [
            {"type": "file_exists", "path": "{workspace}/out-{sheet_num}.txt"},
            {
                "type": "content_contains",
                "path": "{workspace}/out-{sheet_num}.txt",
                "pattern": "sheet",
            },
        ],
        **extra,
    }


def test_completes_then_no_op_then_fresh_after_edit(project: Project) -> None:
    score = project.score(simple())
    first = project.mzt("run", score)
    assert first.returncode == 0, first.stderr
    for n in (1, 2, 3):
        assert (project.workspace / f"out-{n}.txt").read_text() == f"sheet {n}\n"
        output = project.workspace / ".marianne" / "outputs" / "job" / f"sheet-{n}.md"
        assert output.read_text() == f"sheet {n}\n"  # the sheet's result: its stdout
    state = project.state("job")
    assert state["status"] == "completed" and state["pid"] is None
    assert all(
        s["status"] == "completed" and s["attempt_count"] == 1 for s in state["sheets"].values()
    )

    again = project.mzt("run", score, "--json")
    doc = json.loads(again.stdout)
    assert again.returncode == 0 and doc["status"] == "completed"
    assert "nothing to do" in doc["message"]
    assert project.state("job")["sheets"]["1"]["attempt_count"] == 1

    project.score(simple(4))
    changed = project.mzt("run", score)
    assert changed.returncode == 0, changed.stderr
    assert "starting fresh" in changed.stdout
    assert project.state("job")["total_sheets"] == 4


def test_second_attempt_success_and_exhausted_failure_then_resume(project: Project) -> None:
    ws = "{{ workspace }}"
    template = (
        f"echo x >> {ws}/tries-{{{{ sheet_num }}}}\n"
        "{% if sheet_num == 1 %}"
        f"test $(wc -l < {ws}/tries-1) -ge 2 && touch {ws}/done-1"
        "{% elif sheet_num == 2 %}"
        f"test -f {ws}/fixed && touch {ws}/done-2"
        "{% else %}"
        f"touch {ws}/done-{{{{ sheet_num }}}}"
        "{% endif %}\n"
    )
    score = project.score(
        {
            "name": "job",
            **CLI,
            "sheet": {"size": 1, "total_items": 4},
            "retry": {"max_retries": 3, "base_delay_seconds": 0.05, "jitter": False},
            "prompt": {"template": template},
            "validations": [
                {"type": "file_exists", "path": "{workspace}/done-{sheet_num}", "retry_count": 0}
            ],
        }
    )
    result = project.mzt("run", score)
    assert result.returncode == 1, result.stderr
    sheets = project.sheets("job")
    assert (sheets[1]["status"], sheets[1]["attempt_count"]) == ("completed", 2)
    # max_retries: 3 allows three failed executions in all
    assert (sheets[2]["status"], sheets[2]["attempt_count"]) == ("failed", 3)
    assert (project.workspace / "tries-2").read_text().count("x") == 3
    assert sheets[3]["status"] == sheets[4]["status"] == "skipped"
    assert "Blocked by failed dependency: sheet 2" in sheets[3]["error_message"]
    assert "mzt resume job" in result.stderr

    (project.workspace / "fixed").touch()
    resumed = project.mzt("resume", "job", "-w", project.workspace)
    assert resumed.returncode == 0, resumed.stderr
    sheets = project.sheets("job")
    assert all(s["status"] == "completed" for s in sheets.values())
    assert sheets[1]["attempt_count"] == 2  # completed sheets are not run again


def test_completion_mode_names_what_is_missing(project: Project) -> None:
    project.fake_profile()
    ws = "{{ workspace }}"
    template = (
        f"FAKE: write {ws}/a.txt alpha\nFAKE: write {ws}/b.txt beta\n"
        f"FAKE: count {ws}/calls\nFAKE: fail-until {ws}/calls 2\n"
        f"FAKE: write {ws}/c.txt gamma\n"
    )
    score = project.score(
        {
            "name": "job",
            "instrument": "fake",
            "sheet": {"size": 1, "total_items": 1},
            "retry": {"completion_delay_seconds": 0, "completion_threshold_percent": 50},
            "prompt": {"template": template},
            "validations": [
                {"type": "file_exists", "path": "{workspace}/a.txt"},
                {"type": "file_exists", "path": "{workspace}/b.txt"},
                {
                    "type": "file_exists",
                    "path": "{workspace}/c.txt",
                    "description": "the gamma file",
                    "retry_count": 0,
                },
            ],
        }
    )
    result = project.mzt("run", score)
    assert result.returncode == 0, result.stderr
    sheet = project.sheets("job")[1]
    assert sheet["attempt_count"] == 2 and sheet["completion_attempts"] == 1
    assert sheet["normal_attempts"] == 0  # completion mode spends no retry budget
    history = [
        json.loads(line)
        for line in (project.workspace / ".marianne" / "job.history.jsonl").read_text().splitlines()
    ]
    prompts = [h["prompt"] for h in history if h.get("kind") == "attempt"]
    assert "COMPLETION MODE" in prompts[1]
    missing = prompts[1].split("Still missing:")[1].split("The original task")[0]
    assert "c.txt" in missing and "a.txt" not in missing


def test_pause_file_stops_at_the_next_boundary_and_resume_finishes(project: Project) -> None:
    template = "sleep 0.3; echo sheet done > {{ workspace }}/out-{{ sheet_num }}.txt"
    score = project.score(simple(10, prompt={"template": template}))
    proc = project.start("run", score)
    wait_for(lambda: (project.workspace / "out-2.txt").exists())
    (project.workspace / ".marianne-pause-job").touch()
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 3, err
    state = project.state("job")
    assert state["status"] == "paused" and state["pid"] is None
    done = [n for n in range(1, 11) if (project.workspace / f"out-{n}.txt").exists()]
    assert 2 <= len(done) < 10
    assert not (project.workspace / ".marianne-pause-job").exists()
    resumed = project.mzt("resume", score)
    assert resumed.returncode == 0, resumed.stderr
    assert all(s["status"] == "completed" for s in project.sheets("job").values())


def test_a_sheet_passing_its_validations_after_a_failed_exit_says_so(project: Project) -> None:
    template = "echo 'sheet {{ sheet_num }}' > {{ workspace }}/out-{{ sheet_num }}.txt; exit 1"
    score = project.score(simple(1, prompt={"template": template}))
    result = project.mzt("run", score)
    assert result.returncode == 0, result.stderr
    assert "sheet 1: completed (exited 1; 2/2 validations passed)" in result.stdout


def test_a_missing_command_in_a_cli_sheet_is_not_retried(project: Project) -> None:
    count = project.root / "attempts"
    template = f"echo x >> {count}; no-such-command-anywhere --flag"
    retry = {"max_retries": 3, "base_delay_seconds": 30, "jitter": False}
    score = project.score(simple(1, prompt={"template": template}, retry=retry, validations=[]))
    started = time.monotonic()
    result = project.mzt("run", score)
    assert result.returncode == 1, result.stderr
    assert time.monotonic() - started < 25  # no 30 s back-off was sat out
    assert count.read_text() == "x\n"  # one attempt only
    assert "exited with status 127" in result.stdout + result.stderr
    assert "no-such-command-anywhere: command not found" in result.stdout + result.stderr
    assert project.sheets("job")[1]["status"] == "failed"


def test_a_failing_cli_script_spends_its_retries_without_back_off(project: Project) -> None:
    count = project.root / "attempts"
    template = f"echo x >> {count}; echo 'fatal: no such tag' >&2; exit 1"
    retry = {"max_retries": 3, "base_delay_seconds": 30, "jitter": False}
    score = project.score(simple(1, prompt={"template": template}, retry=retry))
    started = time.monotonic()
    result = project.mzt("run", score)
    assert result.returncode == 1, result.stderr
    assert count.read_text() == "x\n" * 3  # the whole budget, as max_retries says
    assert time.monotonic() - started < 25  # and none of the 30 s + 60 s back-off
    assert "exited with status 1: fatal: no such tag" in result.stdout + result.stderr
    assert "sheet 1: retry at once (exited with status 1: fatal: no such tag)" in result.stdout
    errors = json.loads(project.mzt("errors", "--json", "job", "-w", project.workspace).stdout)
    assert [e["category"] for e in errors["errors"]] == ["fatal"] * 3


def test_cancel_kills_the_grandchild_and_exits_4(project: Project) -> None:
    pidfile = project.root / "grandchild.pid"
    score = project.score(simple(2, prompt={"template": f"sleep 300 & echo $! > {pidfile}; wait"}))
    proc = project.start("run", score)
    wait_for(lambda: pidfile.exists() and pidfile.read_text().strip() != "")
    grandchild = int(pidfile.read_text())
    started = time.monotonic()
    (project.workspace / ".marianne-cancel-job").touch()
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 4, err
    assert time.monotonic() - started < 8
    wait_for(lambda: not alive(grandchild), timeout=10)
    state = project.state("job")
    assert state["status"] == "cancelled"
    assert {s["status"] for s in state["sheets"].values()} == {"cancelled"}


def test_sigterm_gives_143_and_a_resumable_paused_state(project: Project) -> None:
    marker = project.root / "started"
    score = project.score(simple(2, prompt={"template": f"touch {marker}; sleep 300"}))
    proc = project.start("run", score)
    wait_for(marker.exists)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 143, err
    state = project.state("job")
    assert state["status"] == "paused"
    sheets = project.sheets("job")
    assert sheets[1]["status"] == "pending"
    assert sheets[1]["normal_attempts"] == 0


def test_timeout_kills_a_hung_instrument_and_its_children(project: Project) -> None:
    pidfile = project.root / "child.pid"
    score = project.score(
        simple(
            1,
            prompt={"template": f"sleep 300 & echo $! > {pidfile}; trap '' TERM; sleep 300"},
            instrument_config={"timeout_seconds": 1},
            retry={"max_retries": 1},
        )
    )
    started = time.monotonic()
    result = project.mzt("run", score)
    elapsed = time.monotonic() - started
    assert result.returncode == 1
    assert elapsed < 1 + 5 + 2 + 3  # timeout + grace + drain + start-up
    assert not alive(int(pidfile.read_text()))
    sheet = project.sheets("job")[1]
    assert sheet["error_code"] == "E001" and sheet["exit_reason"] == "timeout"


def test_parallel_fan_out_respects_limit_and_dependencies(project: Project) -> None:
    ws = "{{ workspace }}"
    template = (
        f"echo start $(date +%s.%N) >> {ws}/log-{{{{ sheet_num }}}}; sleep 1; "
        f"echo end $(date +%s.%N) >> {ws}/log-{{{{ sheet_num }}}}"
    )
    score = project.score(
        {
            "name": "job",
            **CLI,
            "sheet": {"size": 1, "total_items": 2, "fan_out": {1: 8}},
            "parallel": {"enabled": True, "max_concurrent": 4},
            "prompt": {"template": template},
        }
    )
    started = time.monotonic()
    result = project.mzt("run", score)
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    spans = {}
    for n in range(1, 10):
        lines = (project.workspace / f"log-{n}").read_text().split()
        spans[n] = (float(lines[1]), float(lines[3]))
    assert elapsed >= 2, elapsed  # at least two waves of one-second sheets
    # At each start, count the sheets running: never above the limit, and above one at some
    # point (the voices really ran side by side), however slow the machine.
    running = [
        sum(1 for s, e in spans.values() if s <= t < e) for t in (spans[n][0] for n in range(1, 9))
    ]
    assert 2 <= max(running) <= 4, running
    assert spans[9][0] >= max(spans[n][1] for n in range(1, 9))


def test_two_runs_of_one_job_exactly_one_runs(project: Project) -> None:
    marker = project.root / "running"
    score = project.score(
        simple(
            1,
            prompt={
                "template": f"touch {marker}; sleep 3; echo ok > {{{{ workspace }}}}/out-1.txt; echo sheet >> {{{{ workspace }}}}/out-1.txt"
            },
        )
    )
    first = project.start("run", score)
    wait_for(marker.exists)
    second = project.mzt("run", score)
    assert second.returncode == 75, second.stderr
    assert f"pid {first.pid}" in second.stderr or str(first.pid) in second.stderr
    first.communicate(timeout=30)
    assert first.returncode == 0


def test_json_summary_and_quiet(project: Project) -> None:
    score = project.score(simple(2))
    result = project.mzt("run", "--json", score)
    doc = json.loads(result.stdout)
    assert {
        "schema",
        "job_id",
        "status",
        "exit_code",
        "progress",
        "sheets_failed",
        "duration_seconds",
        "workspace",
    } <= set(doc)
    assert (doc["schema"], doc["status"], doc["exit_code"]) == ("mzt.run/1", "completed", 0)
    assert doc["progress"] == {"completed": 2, "total": 2}
    quiet = project.mzt("run", "-q", "--fresh", score)
    assert quiet.returncode == 0 and quiet.stdout == "" and quiet.stderr == ""


def test_start_sheet_counts_earlier_sheets_as_done(project: Project) -> None:
    score = project.score(simple(3))
    result = project.mzt("run", "--start-sheet", "3", score)
    assert result.returncode == 0, result.stderr
    assert not (project.workspace / "out-1.txt").exists()
    assert (project.workspace / "out-3.txt").exists()


def test_files_are_private(project: Project) -> None:
    score = project.score(simple(1))
    assert project.mzt("run", score).returncode == 0
    for path in (project.workspace / ".marianne").rglob("*"):
        mode = path.stat().st_mode & 0o777
        assert mode == (0o700 if path.is_dir() else 0o600), (path, oct(mode))


def test_secret_in_output_never_reaches_disk(project: Project) -> None:
    key = "sk-ant-api03-" + "Zz9Yy8Xx7Ww6" * 6
    score = project.score(
        simple(
            1, prompt={"template": f"echo token={key}; echo sheet > {{{{ workspace }}}}/out-1.txt"}
        )
    )
    assert project.mzt("run", score).returncode == 0
    for path in (project.workspace / ".marianne").rglob("*"):
        if path.is_file():
            assert key.encode() not in path.read_bytes(), path


def test_instrument_override(project: Project) -> None:
    score = project.score(simple(1, instrument="claude-code"))
    result = project.mzt("run", "--instrument", "cli", score)
    assert result.returncode == 0, result.stderr
    assert project.sheets("job")[1]["instrument_name"] == "cli"


def test_missing_binary_moves_to_the_fallback_at_once_without_retries(project: Project) -> None:
    # A chain whose every program is missing is refused before the run; one with a
    # program present runs, and the missing one costs a single attempt.
    project.fake_profile("ghost", executable="/nonexistent/agent-binary")
    score = project.score(simple(1, instrument="ghost", instrument_fallbacks=["cli"]))
    result = project.mzt("run", score)
    assert result.returncode == 0, result.stderr
    sheet = project.sheets("job")[1]
    assert (sheet["status"], sheet["attempt_count"], sheet["instrument_name"]) == (
        "completed",
        2,
        "cli",
    )
    history = project.mzt("history", "job", "--json")
    attempts = json.loads(history.stdout)["attempts"]
    assert [a["error_code"] for a in attempts][:1] == ["E505"]


def test_a_flood_of_output_keeps_mzt_small(project: Project) -> None:
    megabytes = 200 if os.environ.get("MZT_FULL_TESTS") == "1" else 20
    score = project.score(
        simple(
            1,
            prompt={
                "template": f"head -c {megabytes}000000 /dev/zero | tr '\\\\0' a; "
                "echo sheet > {{ workspace }}/out-1.txt"
            },
        )
    )
    # Linux charges a child at least the peak RSS of the process it was forked from, and
    # pytest grows past 90 MB in a full run: a small fresh launcher spawns mzt instead.
    launcher = (
        "import os, sys\n"
        "pid = os.posix_spawn(sys.argv[1], sys.argv[1:], os.environ)\n"
        "_, status, usage = os.wait4(pid, 0)\n"
        "print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)\n"
    )
    done = subprocess.run(
        [sys.executable, "-S", "-c", launcher, sys.executable, "-m", "mzt", "run", str(score)],
        cwd=project.root,
        env=project.env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    code, max_rss_kb = map(int, done.stdout.splitlines()[-1].split())
    assert code == 0, done.stderr
    log = project.workspace / ".marianne" / "logs" / "job" / "sheet-1.attempt-1.stdout"
    cap = 50 * 1024 * 1024  # the default per-stream log cap
    if megabytes * 1_000_000 <= cap:
        assert log.stat().st_size == megabytes * 1_000_000
    else:
        assert cap <= log.stat().st_size < cap + 400
    # About 45 MB is the interpreter with mzt imported; the flood may add a few tens at most.
    assert max_rss_kb / 1024 < 90, f"mzt peaked at {max_rss_kb / 1024:.0f} MB"


def test_output_past_the_log_cap_keeps_head_tail_and_says_what_was_dropped(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MZT_LOG_MAX_BYTES", "64K")
    flood = "seq -f 'out line %g' 60000; seq -f 'err line %g' 60000 >&2"
    score = project.score(
        simple(1, prompt={"template": flood + "; echo sheet > {{ workspace }}/out-1.txt"})
    )
    result = project.mzt("run", score)
    assert result.returncode == 0, result.stderr
    logs = project.workspace / ".marianne" / "logs" / "job"
    for stream in ("stdout", "stderr"):
        data = (logs / f"sheet-1.attempt-1.{stream}").read_bytes()
        word = stream[3:]
        assert data.startswith(f"{word} line 1\n".encode())
        assert data.endswith(f"{word} line 60000\n".encode())
        assert len(data) < 65536 + 400
        assert re.search(rb"\n\[mzt: [0-9,]+ bytes of output dropped here", data)
    shown = project.mzt("logs", "job", "--lines", "3")
    assert shown.returncode == 0, shown.stderr
    assert "bytes of output dropped here" in shown.stdout
    assert "out line 60000" in shown.stdout and "err line 60000" in shown.stdout
    # A size mzt cannot use stops the run before it starts, with a sentence saying why.
    monkeypatch.setenv("MZT_LOG_MAX_BYTES", "lots")
    bad = project.mzt("run", "--fresh", score)
    assert bad.returncode == 2 and "MZT_LOG_MAX_BYTES" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_validations_can_check_the_result_file_and_failures_leave_the_old_one(
    project: Project,
) -> None:
    output = "{workspace}/.marianne/outputs/job/sheet-{sheet_num}.md"
    score = project.score(
        simple(
            1,
            prompt={
                "template": "echo answer-{{ sheet_num }}; cat {{ workspace }}/flag 2>/dev/null"
            },
            validations=[
                {"type": "content_contains", "path": output, "pattern": "answer-1"},
                {"type": "content_contains", "path": output, "pattern": "second", "retry_count": 0},
            ],
            retry={"max_retries": 1, "max_completion_attempts": 0},
        )
    )
    result = project.mzt("run", score)
    assert result.returncode == 1  # the result file was checkable, but lacks "second"
    published = project.workspace / ".marianne" / "outputs" / "job" / "sheet-1.md"
    assert not published.exists()  # a sheet that never completed has no result file
    (project.workspace / "flag").write_text("second\n")
    assert project.mzt("resume", "job", "-w", project.workspace).returncode == 0
    assert published.read_text() == "answer-1\nsecond\n"


def test_a_sheet_done_first_try_stores_only_what_carries_information(project: Project) -> None:
    score = project.score(simple(2, prompt={"template": "true"}, validations=[]))
    result = project.mzt("run", "-q", score)
    assert result.returncode == 0, result.stderr
    doc = json.loads((project.workspace / ".marianne" / "job.json").read_bytes())
    assert set(doc["sheets"]["2"]) == {
        "sheet_num",
        "status",
        "started_at",
        "completed_at",
        "attempt_count",
        "exit_code",
        "exit_reason",
        "execution_duration_seconds",
        "validation_passed",
        "instrument_name",
        "movement",
    }
    status = json.loads(project.mzt("status", "job", "--json").stdout)["sheets"]["2"]
    assert status["validation_passed"] is True and status["validation_pass_rate"] == 100.0
    assert status["duration_seconds"] is not None
    lines = (project.workspace / ".marianne" / "job.history.jsonl").read_text().splitlines()
    assert not any('"output":""' in line or "+00:00" in line for line in lines)
