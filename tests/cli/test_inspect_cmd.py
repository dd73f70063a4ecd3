"""`mzt errors`, `diagnose`, `history` and `logs` on real checkpoints: text, JSON, exit codes.

The jobs come from real `mzt run` processes (see ``tests/test_inspecting.py``): a failed job
with retries, a rate-limited one, a completed one, one killed with SIGKILL mid-sheet and a
checkpoint cut in half. Their children print an Anthropic-shaped key and escape sequences;
neither may reach any output. `logs --follow` is checked against a run that is still
writing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli.conftest import Result
from tests.helpers import run_mzt
from tests.views.test_history import NOISE, SECRET, Jobs, build_jobs, write_score

Mzt = Callable[..., Result]
ERROR_FIELDS = {"sheet_num", "attempt", "error_code", "category", "message", "timestamp"}


@pytest.fixture(scope="module")
def jobs(tmp_path_factory: pytest.TempPathFactory) -> Jobs:
    return build_jobs(tmp_path_factory.mktemp("inspect-cli"))


@pytest.fixture(autouse=True)
def _home(jobs: Jobs, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MZT_HOME", str(jobs.home))


def clean(result: Result) -> None:
    """Nothing a child printed may leak or drive the terminal."""
    for text in (result.out, result.err):
        assert SECRET not in text
        assert "\x1b" not in text and "\x07" not in text


# --- errors -------------------------------------------------------------------------------------


def test_errors_by_sheet(mzt: Mzt, jobs: Jobs) -> None:
    result = mzt("errors", "failing", "-w", jobs.workspace)
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0] == "failing (failed): 3 errors in 2 sheets"
    assert lines[1] == "sheet 2" and lines[4] == "sheet 3"
    assert "attempt 1" in lines[2] and "E009" in lines[2] and "exited with status 3" in lines[2]
    assert "E999" in lines[5] and "Blocked by failed dependency" in lines[5]
    assert "stdout" not in result.out  # tails only with -v
    clean(result)


def test_errors_of_a_clean_job_say_so(mzt: Mzt, jobs: Jobs) -> None:
    result = mzt("errors", "done", "-w", jobs.workspace)
    assert (result.code, result.out) == (0, "done: no errors\n")
    filtered = mzt("errors", "failing", "-w", jobs.workspace, "--code", "E001")
    assert (filtered.code, filtered.out) == (0, "failing: no errors match (3 in all)\n")


def test_errors_json(mzt: Mzt, jobs: Jobs) -> None:
    result = mzt("errors", "failing", "-w", jobs.workspace, "--json")
    assert result.code == 0
    doc = result.json()
    assert doc["schema"] == "mzt.errors/1" and doc["job_id"] == "failing"
    assert [(e["sheet_num"], e["attempt"], e["error_code"]) for e in doc["errors"]] == [
        (2, 1, "E009"),
        (2, 2, "E009"),
        (3, 0, "E999"),
    ]
    for entry in doc["errors"]:
        assert ERROR_FIELDS <= set(entry) and entry["timestamp"].endswith("Z")
    assert doc["errors"][0]["category"] == "fatal"


def test_errors_filters(mzt: Mzt, jobs: Jobs) -> None:
    def codes(*flags: object) -> list[tuple[int, str]]:
        result = mzt("errors", "failing", "-w", jobs.workspace, "-j", *flags)
        assert result.code == 0, result.err
        return [(e["sheet_num"], e["error_code"]) for e in result.json()["errors"]]

    assert codes("--sheet", 2) == [(2, "E009"), (2, "E009")]
    assert codes("--sheet", 1) == []
    assert codes("--code", "e999") == [(3, "E999")]
    assert codes("--type", "permanent", "--sheet", 3) == [(3, "E999")]
    assert codes("--type", "permanent", "--code", "E009") == [(2, "E009"), (2, "E009")]
    assert codes("--type", "transient") == []
    limited = mzt("errors", "limited", "-w", jobs.workspace, "--type", "rate_limit", "-j")
    [entry] = limited.json()["errors"]
    assert entry["error_type"] == "rate_limit" and entry["error_code"].startswith("E10")
    bad = mzt("errors", "failing", "-w", jobs.workspace, "--type", "sometimes")
    assert bad.code == 2 and "sometimes" in bad.err


def test_errors_verbose_shows_safe_tails(mzt: Mzt, jobs: Jobs) -> None:
    result = mzt("errors", "failing", "-w", jobs.workspace, "-v")
    assert result.code == 0
    assert "    stdout:" in result.out and "    stderr:" in result.out
    assert "token [REDACTED_ANTHROPIC_KEY] on stdout" in result.out
    assert "token [REDACTED_ANTHROPIC_KEY] on stderr" in result.out
    assert "RED:red OSC: CLEAR: end" in result.out  # the text stays, the sequences go
    clean(result)
    assert mzt("-v", "errors", "failing", "-w", jobs.workspace).out == result.out
    doc = mzt("errors", "failing", "-w", jobs.workspace, "-v", "-j").json()
    assert "[REDACTED_ANTHROPIC_KEY]" in doc["errors"][0]["stdout_tail"]
    assert SECRET not in str(doc)


@pytest.mark.parametrize(
    "command", ["status", "errors", "diagnose", "history", "logs", "watch", "resume", "cancel"]
)
def test_a_misspelt_job_gets_a_did_you_mean(mzt: Mzt, jobs: Jobs, command: str) -> None:
    result = mzt(command, "faling", "-w", jobs.workspace)
    assert result.code == 2 and "No job 'faling'" in result.err
    assert "Did you mean 'failing'?" in result.err
    assert "Known jobs: dead, done, failing, limited" in result.err


def test_a_misspelt_job_through_the_installed_command(jobs: Jobs) -> None:
    for args in (["status", "donne"], ["status", "donne", "--json"], ["resume", "donne"]):
        result = run_mzt(*args, "-w", jobs.workspace)
        assert result.returncode == 2, (args, result.stderr)
        said = json.loads(result.stdout)["error"]["hint"] if "--json" in args else result.stderr
        assert "Did you mean 'done'?" in said and "Traceback" not in result.stderr


def test_errors_not_found(mzt: Mzt, jobs: Jobs) -> None:
    sheet = mzt("errors", "failing", "-w", jobs.workspace, "--sheet", 7)
    assert sheet.code == 2 and sheet.out == ""
    assert "no sheet 7" in sheet.err and "1 to 3" in sheet.err
    job = mzt("errors", "nope", "-w", jobs.workspace)
    assert job.code == 2 and "No job 'nope'" in job.err
    assert "Known jobs: dead, done, failing, limited" in job.err
    as_json = mzt("errors", "failing", "-w", jobs.workspace, "--sheet", 7, "-j")
    assert as_json.code == 2
    error = as_json.json()
    assert error["schema"] == "mzt.error/1" and error["error"]["code"] == "NOT_FOUND"


def test_errors_of_a_job_named_by_its_score(mzt: Mzt, jobs: Jobs) -> None:
    result = mzt("errors", jobs.scores["failing"], "-j")
    assert result.code == 0 and result.json()["job_id"] == "failing"


# --- diagnose -----------------------------------------------------------------------------------


def test_diagnose_a_failed_job(mzt: Mzt, jobs: Jobs) -> None:
    result = mzt("diagnose", "failing", "-w", jobs.workspace)
    assert result.code == 0, result.err
    out = result.out
    assert out.startswith("Job failing: failed\n")
    assert f"checkpoint  {jobs.workspace / '.marianne' / 'failing.json'}" in out
    assert "not running (last writer pid " in out
    assert "1/3 sheets completed" in out
    for title in ("Findings", "Timeline", "Errors (3)", "Validation failures of sheet 2"):
        assert f"\n{title}" in out
    assert "Sheet 2 failed after 2 attempt(s): [E009]" in out
    assert "sheet-2.attempt-2.stdout" in out and "Rate-limit records" in out
    assert "token [REDACTED_ANTHROPIC_KEY] on stderr" in out
    assert out.rstrip().endswith(f"To continue: mzt run {jobs.scores['failing']}")
    clean(result)


def test_diagnose_a_dead_job(mzt: Mzt, jobs: Jobs) -> None:
    result = mzt("diagnose", "dead", "-w", jobs.workspace)
    assert result.code == 0
    assert "Job dead: paused" in result.out
    assert "run         dead: the run lock is free" in result.out
    assert "It was working on sheet 1 (attempt 1) when it stopped." in result.out
    assert f"To continue: mzt run {jobs.scores['dead']}" in result.out
    doc = mzt("diagnose", "dead", "-w", jobs.workspace, "-j").json()
    assert doc["alive"] is False and doc["liveness"]["verdict"] == "dead"
    holder = doc["liveness"]["holder"]
    assert holder["pid"] > 0 and holder["host"] and holder["started_at"]
    clean(result)


def test_diagnose_json(mzt: Mzt, jobs: Jobs) -> None:
    result = mzt("diagnose", "limited", "-w", jobs.workspace, "--json")
    assert result.code == 0
    doc = result.json()
    assert doc["schema"] == "mzt.diagnose/1"
    assert {
        "job_id",
        "status",
        "alive",
        "liveness",
        "workspace",
        "progress",
        "findings",
        "timeline",
        "errors",
        "logs",
        "rate_limits",
        "validation_failures",
        "next_command",
    } <= set(doc)
    assert doc["status"] == "completed" and doc["next_command"] is None
    assert any(
        r["instrument"] == "limited" and r["set_by_job"] == "limited" for r in doc["rate_limits"]
    )
    assert ERROR_FIELDS <= set(doc["errors"][0])
    assert {"path", "size", "modified", "sheet_num", "attempt", "stream"} <= set(doc["logs"][0])


def test_diagnose_a_completed_job(mzt: Mzt, jobs: Jobs) -> None:
    result = mzt("diagnose", "done", "-w", jobs.workspace)
    assert result.code == 0
    assert "The job completed; there is nothing to continue." in result.out
    assert result.out.rstrip().endswith("Nothing to continue.")
    clean(result)


# --- history ------------------------------------------------------------------------------------


def test_history_table(mzt: Mzt, jobs: Jobs) -> None:
    result = mzt("history", "failing", "-w", jobs.workspace)
    assert result.code == 0
    header, *rows = result.out.splitlines()
    assert header.split() == [
        "SHEET",
        "ATTEMPT",
        "STARTED",
        "(UTC)",
        "DURATION",
        "EXIT",
        "INSTRUMENT",
        "OUTCOME",
        "ERROR",
    ]
    assert [r.split()[:2] + r.split()[-2:] for r in rows] == [
        ["1", "1", "cli", "completed"],
        ["2", "1", "retry", "E009"],
        ["2", "2", "failed", "E009"],
    ]
    limited = mzt("history", "failing", "-w", jobs.workspace, "-n", 1)
    assert limited.out.splitlines()[1].split()[:2] == ["2", "2"]
    assert "(1 newest of 3; -n 0 shows all)" in limited.out


def test_history_json(mzt: Mzt, jobs: Jobs) -> None:
    doc = mzt("history", "failing", "-w", jobs.workspace, "--sheet", 2, "-j").json()
    assert doc["schema"] == "mzt.history/1" and doc["total"] == 2
    assert [(a["attempt"], a["exit_code"], a["outcome"]) for a in doc["attempts"]] == [
        (1, 3, "retry"),
        (2, 3, "failed"),
    ]
    dead = mzt("history", "dead", "-w", jobs.workspace, "-j").json()
    assert [a["outcome"] for a in dead["attempts"]] == ["interrupted"]
    assert mzt("history", "failing", "-w", jobs.workspace, "--sheet", 5).code == 2


# --- logs ---------------------------------------------------------------------------------------


def test_logs_of_the_latest_attempt(mzt: Mzt, jobs: Jobs) -> None:
    result = mzt("logs", "failing", "-w", jobs.workspace)
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    log = jobs.workspace / ".marianne" / "logs" / "failing"
    assert lines[0].startswith(
        f"==> sheet 2, attempt 2: stdout ({log / 'sheet-2.attempt-2.stdout'}, "
    )
    assert lines[1] == "token [REDACTED_ANTHROPIC_KEY] on stdout"
    assert lines[2] == "RED:red OSC: CLEAR: end"
    assert lines[3].startswith("==> sheet 2, attempt 2: stderr")
    assert lines[4] == "token [REDACTED_ANTHROPIC_KEY] on stderr"
    clean(result)


def test_logs_of_a_chosen_attempt_and_tail(mzt: Mzt, jobs: Jobs) -> None:
    result = mzt("logs", "done", "-w", jobs.workspace, "--sheet", 1, "--attempt", 1, "-n", 1)
    assert result.code == 0
    lines = result.out.splitlines()
    assert lines[0].startswith("==> sheet 1, attempt 1: stdout") and lines[1] == "finished 1"
    assert (
        lines[2].startswith("==> sheet 1, attempt 1: stderr")
        and lines[3] == "RED:red OSC: CLEAR: end"
    )
    everything = mzt("logs", "done", "-w", jobs.workspace, "--sheet", 1, "-n", 0)
    assert everything.out.count("\n") == 2 + 3 + 2
    clean(everything)


def test_logs_not_found(mzt: Mzt, jobs: Jobs) -> None:
    attempt = mzt("logs", "failing", "-w", jobs.workspace, "--sheet", 2, "--attempt", 9)
    assert attempt.code == 2 and "no attempt 9" in attempt.err
    assert "Its attempts: 1, 2" in attempt.err
    never = mzt("logs", "failing", "-w", jobs.workspace, "--sheet", 3)
    assert (
        never.code == 2
        and "has not run yet" in never.err
        and "Sheets with output: 1, 2" in never.err
    )
    assert mzt("logs", "failing", "-w", jobs.workspace, "--sheet", 4).code == 2
    assert mzt("logs", "nope", "-w", jobs.workspace).code == 2


def test_logs_follow_of_a_finished_job_prints_and_returns(mzt: Mzt, jobs: Jobs) -> None:
    started = time.monotonic()
    result = mzt("logs", "done", "-w", jobs.workspace, "-f", "-n", 1)
    assert result.code == 0 and time.monotonic() - started < 15  # a live job is followed
    assert result.out.splitlines() == [
        "==> sheet 2, attempt 1: stdout <==",
        "finished 2",
        "==> sheet 2, attempt 1: stderr <==",
        "RED:red OSC: CLEAR: end",
    ]
    clean(result)


# --- corrupt state ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [["errors"], ["diagnose"], ["history"], ["logs"], ["errors", "-j"], ["diagnose", "-j"]],
)
def test_a_corrupt_checkpoint_exits_5_and_stays_as_it_was(
    mzt: Mzt, jobs: Jobs, command: list[str]
) -> None:
    path = jobs.corrupt / ".marianne" / "done.json"
    before = path.read_bytes()
    result = mzt(command[0], "done", "-w", jobs.corrupt, *command[1:])
    assert result.code == 5
    if "-j" in command:
        error = result.json()["error"]
        assert error["code"] == "STATE_CORRUPT" and str(path) in error["message"]
    else:
        assert str(path) in result.err and "untouched" in result.err
    assert path.read_bytes() == before


# --- a running job ------------------------------------------------------------------------------


def _reader(proc: subprocess.Popen[bytes], arrivals: list[tuple[float, bytes]]) -> threading.Thread:
    """Collect ``proc``'s stdout lines with the moment each one arrived."""
    stdout = proc.stdout
    assert stdout is not None
    thread = threading.Thread(
        target=lambda: arrivals.extend((time.monotonic(), line) for line in stdout)
    )
    thread.start()
    return thread


def test_logs_follow_shows_lines_as_they_come_and_ends_with_the_job(
    mzt: Mzt, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    half = SECRET[len("sk-ant-api03-") :]
    ticks = 'for i in $(seq 1 12); do echo "tick $i ${K1}${K2}"; sleep 0.2; done'
    gate = tmp_path / "sheet-1-may-end"
    score = write_score(
        tmp_path,
        "ticker",
        {
            "instrument": "cli",
            "sheet": {"size": 1, "total_items": 2},
            "prompt": {
                "template": (
                    f"K1=sk-ant-api03-; K2={half}; printf '{NOISE}\\n'\n"
                    # Sheet 1 lasts until the job's follower has shown its output, however
                    # slowly that follower starts on a loaded machine.
                    "{% if sheet_num == 1 %}echo warming up; "
                    f"for i in $(seq 1 600); do [ -e {gate} ] && break; sleep 0.05; done"
                    f"{{% else %}}{ticks}{{% endif %}}"
                )
            },
        },
    )
    ws = tmp_path / "ws"
    env = {**os.environ, "MZT_HOME": str(home), "NO_COLOR": "1"}
    command = [sys.executable, "-m", "mzt"]
    run = subprocess.Popen(
        [*command, "run", score], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL
    )
    followers: dict[str, subprocess.Popen[bytes]] = {}
    arrivals: dict[str, list[tuple[float, bytes]]] = {"job": [], "sheet 2": []}
    try:
        history = ws / ".marianne" / "ticker.history.jsonl"
        deadline = time.monotonic() + 20
        while not (history.exists() and b"attempt_started" in history.read_bytes()):
            assert time.monotonic() < deadline and run.poll() is None, "the sheet never started"
            time.sleep(0.02)
        # One follows the job from its first sheet on; one waits for sheet 2 to start.
        for name, extra in (("job", []), ("sheet 2", ["--sheet", "2"])):
            followers[name] = subprocess.Popen(
                [*command, "logs", "ticker", "-w", ws, "-f", *extra],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        readers = [_reader(followers[name], arrivals[name]) for name in followers]
        while b"warming up" not in b"".join(line for _, line in arrivals["job"]):
            assert time.monotonic() < deadline, "sheet 1's output never reached the follower"
            time.sleep(0.02)
        gate.touch()
        while b"tick 3" not in b"".join(line for _, line in arrivals["job"]):
            assert time.monotonic() < deadline, "no tick arrived in time"
            time.sleep(0.02)
        # While it runs, the other read commands see a live job.
        live = mzt("diagnose", "ticker", "-w", ws, "-j").json()
        # (tick 3 is followed by 1.8 s of ticks: the run must still be going)
        assert live["alive"] is True, "output reached `logs -f` only when the run ended"
        assert live["liveness"]["verdict"] == "alive"
        assert live["liveness"]["holder"]["pid"] == run.pid and live["next_command"] is None
        assert live["sheets_in_progress"] == [2]
        running = mzt("history", "ticker", "-w", ws, "-j").json()["attempts"]
        assert [a["outcome"] for a in running] == ["completed", "running"]
        assert run.wait(timeout=30) == 0
        run_ended = time.monotonic()
        for proc in followers.values():
            assert proc.wait(timeout=10) == 0
        followed_until = time.monotonic()
        for reader in readers:
            reader.join(timeout=5)
        notes = {
            name: proc.stderr.read().decode() for name, proc in followers.items() if proc.stderr
        }
    finally:
        for proc in (run, *followers.values()):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            for pipe in (proc.stdout, proc.stderr):
                if pipe is not None:
                    pipe.close()
    assert "following sheet 1, attempt 1" in notes["job"]
    assert "following sheet 2, attempt 1" in notes["job"] and "sheet 1" not in notes["sheet 2"]
    for name, lines in arrivals.items():
        output = b"".join(line for _, line in lines).decode()
        seen = [(t, line.decode().strip()) for t, line in lines if line.startswith(b"tick ")]
        assert [text for _, text in seen] == [
            f"tick {i} [REDACTED_ANTHROPIC_KEY]" for i in range(1, 13)
        ], name
        # Lines came while the sheet was writing them, not in one piece at the end ...
        assert seen[-1][0] - seen[0][0] > 1.0, [round(t - seen[0][0], 2) for t, _ in seen]
        assert run_ended - seen[0][0] > 1.0, name
        assert "==> sheet 2, attempt 1: stdout <==" in output
        assert "RED:red OSC: CLEAR: end" in output
        assert SECRET not in output and "\x1b" not in output and "\x07" not in output
    assert "warming up" in b"".join(line for _, line in arrivals["job"]).decode()
    # ... and following stopped once the job did.
    assert followed_until - run_ended < 3
