"""The data behind `mzt errors`, `diagnose`, `history` and `logs`, read from real runs.

One module fixture runs four real `mzt run` processes side by side in one workspace: a job
that fails after retries (its last sheet blocked), one that waits out a rate limit, one
that completes, and one killed with SIGKILL in the middle of a sheet. Their children print
an Anthropic-shaped key and terminal escape sequences, which must never come back out.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from mzt.support.errors import JobNotFoundError, StateCorruptionError
from mzt.support.exitcodes import ExitCode
from mzt.views.diagnose import continue_command, diagnose
from mzt.views.history import (
    InspectTargetError,
    errors_report,
    history_report,
    job_errors,
    open_view,
)
from mzt.views.log_tail import read_tail
from mzt.views.logs import follow, log_files, select_attempt

# Built from two halves in the script, so only the child's output holds the whole key.
SECRET = "sk-ant-api03-" + "Q7xvB2mN9pLk4RtY8wZc1HdF6gJs3aE0uIo5"
NOISE = r"RED:\033[31mred\033[0m OSC:\033]0;pwned\007 CLEAR:\033[2J end"
LIMIT = "You've hit your limit · resets in 1 seconds"


def _script(body: str) -> str:
    """A bash prompt that prints the secret and escape noise on both streams, then ``body``."""
    half = SECRET[len("sk-ant-api03-") :]
    return (
        f'K1=sk-ant-api03-; K2={half}; echo "token ${{K1}}${{K2}} on stdout"\n'
        f'echo "token ${{K1}}${{K2}} on stderr" >&2\n'
        f"printf '{NOISE}\\n'; printf '{NOISE}\\n' >&2\n{body}\n"
    )


@dataclass
class Jobs:
    """The real runs, their workspace and MZT_HOME."""

    root: Path
    home: Path
    workspace: Path
    scores: dict[str, Path]
    exit_codes: dict[str, int]
    corrupt: Path  # a workspace whose `done.json` was cut in half

    def env(self) -> dict[str, str]:
        return {**os.environ, "MZT_HOME": str(self.home), "NO_COLOR": "1"}


def write_score(root: Path, name: str, data: dict[str, object]) -> Path:
    path = root / f"{name}.yaml"
    document = {"name": name, "workspace": "./ws", "pause_between_sheets_seconds": 0, **data}
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def build_jobs(root: Path) -> Jobs:
    """Run the four jobs for real (about two seconds, side by side)."""
    home, ws = root / "home", root / "ws"
    (home / "instruments").mkdir(parents=True)
    # A shell instrument of its own, so the rate limit it records holds up no sibling.
    (home / "instruments" / "limited.yaml").write_text(
        yaml.safe_dump(
            {
                "name": "limited",
                "display_name": "Shell with a rate limit",
                "kind": "cli",
                "raw_prompt": True,
                "default_timeout_seconds": 60,
                "cli": {
                    "command": {"executable": "bash", "prompt_flag": "-c"},
                    "output": {"format": "text"},
                },
            }
        )
    )
    w = "{{ workspace }}"
    scores = {
        "failing": write_score(
            root,
            "failing",
            {
                "instrument": "cli",
                "sheet": {"size": 1, "total_items": 3},
                "retry": {"max_retries": 2, "base_delay_seconds": 0.05, "jitter": False},
                "prompt": {
                    "template": _script(
                        f"{{% if sheet_num == 1 %}}touch {w}/made-1{{% else %}}exit 3{{% endif %}}"
                    )
                },
                "validations": [{"type": "file_exists", "path": "{workspace}/made-{sheet_num}"}],
            },
        ),
        "limited": write_score(
            root,
            "limited",
            {
                "instrument": "limited",
                "sheet": {"size": 1, "total_items": 1},
                "rate_limit": {"min_wait_seconds": 1, "max_waits": 5},
                "prompt": {
                    "template": (
                        f"n=$(cat {w}/limited-count 2>/dev/null || echo 0)\n"
                        f"echo $((n+1)) > {w}/limited-count\n"
                        f'if [ "$n" -lt 1 ]; then echo "{LIMIT}"; exit 1; fi\necho fine'
                    )
                },
            },
        ),
        "done": write_score(
            root,
            "done",
            {
                "instrument": "cli",
                "sheet": {"size": 1, "total_items": 2},
                "prompt": {"template": _script("echo finished {{ sheet_num }}")},
            },
        ),
        "dead": write_score(
            root,
            "dead",
            {
                "instrument": "cli",
                "sheet": {"size": 1, "total_items": 2},
                "prompt": {"template": _script(f"echo $$ > {w}/dead.pid\nsleep 30")},
            },
        ),
    }
    jobs = Jobs(root, home, ws, scores, {}, root / "corrupt")
    procs = {
        name: subprocess.Popen(
            [sys.executable, "-m", "mzt", "run", str(path)],
            cwd=root,
            env=jobs.env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for name, path in scores.items()
    }
    pid_file = ws / "dead.pid"
    deadline = time.monotonic() + 30
    while not (pid_file.exists() and pid_file.read_text().strip()):
        assert time.monotonic() < deadline, "the dead job's sheet never started"
        time.sleep(0.02)
    procs["dead"].kill()  # SIGKILL mid-sheet: no chance to save anything
    procs["dead"].communicate(timeout=10)
    # The sheet's shell leads its own process group; it outlives the run that started it.
    os.killpg(int(pid_file.read_text()), signal.SIGKILL)
    for name, proc in procs.items():
        _, err = proc.communicate(timeout=60)
        jobs.exit_codes[name] = proc.returncode
        assert name == "dead" or b"Traceback" not in err, err.decode()
    (jobs.corrupt / ".marianne").mkdir(parents=True)
    whole = (ws / ".marianne" / "done.json").read_bytes()
    (jobs.corrupt / ".marianne" / "done.json").write_bytes(whole[: len(whole) // 2])
    return jobs


@pytest.fixture(scope="module")
def jobs(tmp_path_factory: pytest.TempPathFactory) -> Jobs:
    return build_jobs(tmp_path_factory.mktemp("inspect"))


@pytest.fixture(autouse=True)
def _home(jobs: Jobs, monkeypatch: pytest.MonkeyPatch) -> None:
    """Readers see the runs' MZT_HOME (registry, rate-limit records)."""
    monkeypatch.setenv("MZT_HOME", str(jobs.home))


def snapshot(folder: Path) -> dict[str, tuple[int, int, bytes]]:
    """Every file under ``folder`` with its size, mtime and bytes."""
    return {
        str(p): (p.stat().st_size, p.stat().st_mtime_ns, p.read_bytes())
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_the_runs_ended_as_intended(jobs: Jobs) -> None:
    assert jobs.exit_codes == {"failing": 1, "limited": 0, "done": 0, "dead": -signal.SIGKILL}


# --- errors -------------------------------------------------------------------------------------


def test_errors_of_a_failed_job_come_by_sheet_and_attempt(jobs: Jobs) -> None:
    view = open_view("failing", workspace=jobs.workspace)
    entries = job_errors(view.state)
    assert [(e.sheet_num, e.attempt, e.error_code) for e in entries] == [
        (2, 1, "E009"),
        (2, 2, "E009"),
        (3, 0, "E999"),  # never ran: blocked by the failed sheet 2
    ]
    first = entries[0]
    # A script's own exit: permanent for its attempt, retried at once within the budget.
    assert first.error_type == "permanent" and first.category == "fatal"
    assert first.exit_code == 3 and first.instrument == "cli"
    assert first.timestamp is not None and "status 3" in first.message
    assert "[REDACTED_ANTHROPIC_KEY]" in (first.stdout_tail or "")
    assert SECRET not in (first.stdout_tail or "") + (first.stderr_tail or "")
    assert entries[2].error_type == "permanent" and "Blocked" in entries[2].message


def test_error_filters(jobs: Jobs) -> None:
    view = open_view("failing", workspace=jobs.workspace)
    assert len(errors_report(view, sheet=2).errors) == 2
    assert errors_report(view, sheet=1).errors == []
    assert [e.sheet_num for e in errors_report(view, code="e999").errors] == [3]
    assert len(errors_report(view, code="E009", error_type="permanent").errors) == 2
    assert errors_report(view, error_type="transient").errors == []
    report = errors_report(view, code="E001")
    assert report.errors == [] and report.total == 3
    with pytest.raises(InspectTargetError) as caught:
        errors_report(view, sheet=4)
    assert caught.value.exit_code == ExitCode.USAGE and "1 to 3" in (caught.value.hint or "")


def test_a_rate_limit_is_an_error_of_its_own_type(jobs: Jobs) -> None:
    view = open_view("limited", workspace=jobs.workspace)
    [entry] = errors_report(view, error_type="rate_limit").errors
    assert entry.error_code in ("E101", "E102", "E103", "E104") and entry.attempt == 1
    assert errors_report(view, error_type="permanent").errors == []


def test_a_completed_job_has_no_errors(jobs: Jobs) -> None:
    report = errors_report(open_view("done", workspace=jobs.workspace))
    assert report.errors == [] and report.total == 0 and report.status == "completed"
    assert report.to_json()["errors"] == []


def test_errors_json_carries_the_contract_fields(jobs: Jobs) -> None:
    doc = errors_report(open_view("failing", workspace=jobs.workspace)).to_json()
    assert doc["schema"] == "mzt.errors/1" and doc["job_id"] == "failing"
    for item in doc["errors"]:
        assert {"sheet_num", "attempt", "error_code", "category", "message", "timestamp"} <= set(
            item
        )
        assert "stdout_tail" not in item
    with_tails = errors_report(open_view("failing", workspace=jobs.workspace)).to_json(tails=True)
    assert "[REDACTED_ANTHROPIC_KEY]" in with_tails["errors"][0]["stderr_tail"]
    assert SECRET not in json.dumps(with_tails)


# --- history ------------------------------------------------------------------------------------


def test_history_joins_start_finish_and_decision(jobs: Jobs) -> None:
    report = history_report(open_view("failing", workspace=jobs.workspace))
    rows = [(a.sheet_num, a.attempt, a.exit_code, a.outcome, a.error_code) for a in report.attempts]
    assert rows == [
        (1, 1, 0, "completed", None),
        (2, 1, 3, "retry", "E009"),
        (2, 2, 3, "failed", "E009"),
    ]
    assert all(a.started_at and a.finished_at and a.instrument == "cli" for a in report.attempts)
    assert all(a.duration_seconds is not None for a in report.attempts)


def test_history_filters_and_limits_newest_last(jobs: Jobs) -> None:
    view = open_view("failing", workspace=jobs.workspace)
    only_two = history_report(view, sheet=2)
    assert [a.attempt for a in only_two.attempts] == [1, 2] and only_two.total == 2
    newest = history_report(view, limit=1)
    assert [(a.sheet_num, a.attempt) for a in newest.attempts] == [(2, 2)] and newest.total == 3
    assert len(history_report(view, limit=0).attempts) == 3
    with pytest.raises(InspectTargetError):
        history_report(view, sheet=0)


def test_history_of_a_rate_limited_job(jobs: Jobs) -> None:
    report = history_report(open_view("limited", workspace=jobs.workspace))
    assert [a.outcome for a in report.attempts] == ["rate_limited", "completed"]


def test_an_attempt_cut_by_sigkill_reads_as_interrupted(jobs: Jobs) -> None:
    report = history_report(open_view("dead", workspace=jobs.workspace))
    [attempt] = report.attempts
    assert (attempt.sheet_num, attempt.attempt, attempt.outcome) == (1, 1, "interrupted")
    assert attempt.finished_at is None and attempt.exit_code is None


# --- diagnose -----------------------------------------------------------------------------------


def test_diagnose_a_failed_job(jobs: Jobs) -> None:
    report = diagnose(open_view("failing", workspace=jobs.workspace))
    doc = report.to_json()
    assert doc["schema"] == "mzt.diagnose/1" and doc["status"] == "failed"
    assert doc["alive"] is False and doc["liveness"]["verdict"] == "idle"
    assert doc["liveness"]["holder"]["pid"] and doc["liveness"]["holder"]["host"]
    assert doc["sheets_by_status"] == {"completed": 1, "failed": 1, "skipped": 1}
    assert any("Sheet 2 failed after 2 attempt(s): [E009]" in f for f in doc["findings"])
    assert any("blocked" in f for f in doc["findings"])
    events = [(t["event"], t["sheet_num"]) for t in doc["timeline"]]
    assert events[0] == ("run_started", None)
    assert ("retry_scheduled", 2) in events and ("attempt_fail", 2) in events
    assert ("sheet_blocked", 3) in events
    assert [e["error_code"] for e in doc["errors"]] == ["E009", "E009", "E999"]
    [failure] = doc["validation_failures"]
    assert failure["sheet_num"] == 2 and failure["details"][0]["rule_type"] == "file_exists"
    names = {Path(f["path"]).name for f in doc["logs"]}
    assert "sheet-2.attempt-2.stdout" in names and "sheet-1.attempt-1.stderr" in names
    assert all(f["size"] > 0 and f["modified"] for f in doc["logs"])
    assert doc["next_command"] == f"mzt run {jobs.scores['failing']}"
    assert SECRET not in json.dumps(doc)


def test_diagnose_a_dead_job(jobs: Jobs) -> None:
    report = diagnose(open_view("dead", workspace=jobs.workspace))
    doc = report.to_json()
    assert doc["status"] == "paused"  # a running state without a live run reads as paused
    assert doc["alive"] is False and doc["liveness"]["verdict"] == "dead"
    assert doc["liveness"]["holder"]["pid"] > 0
    assert any("died" in f for f in doc["findings"])
    assert any("sheet 1 (attempt 1)" in f for f in doc["findings"])
    # The attempt's start with its handle: the run died while it ran.
    assert doc["timeline"][-1]["event"] == "attempt_started"
    assert doc["next_command"] == f"mzt run {jobs.scores['dead']}"


def test_diagnose_a_rate_limited_job_lists_the_shared_record(jobs: Jobs) -> None:
    doc = diagnose(open_view("limited", workspace=jobs.workspace)).to_json()
    [record] = [r for r in doc["rate_limits"] if r["instrument"] == "limited"]
    assert record["set_by_job"] == "limited" and record["affects_job"] is True
    assert record["active"] is False  # a one-second limit, long over
    assert any(t["event"] == "rate_limit_wait" for t in doc["timeline"])
    assert doc["next_command"] is None and doc["status"] == "completed"


def test_diagnose_a_completed_job_has_nothing_to_continue(jobs: Jobs) -> None:
    report = diagnose(open_view("done", workspace=jobs.workspace))
    assert report.next_command is None and report.errors == []
    assert any("completed" in f for f in report.findings)


def test_continue_command_names_the_workspace_when_it_is_not_the_scores(
    jobs: Jobs, tmp_path: Path
) -> None:
    moved = tmp_path / "elsewhere"
    shutil.copytree(jobs.workspace, moved)
    view = open_view("failing", workspace=moved)
    # The stored score path is absolute, so it is still found; it would run in ./ws.
    assert continue_command(view, diagnose(view).score_path) == (
        f"mzt run {jobs.scores['failing']} -w {moved}"
    )
    assert continue_command(view, None) == f"mzt resume failing -w {moved}"


# --- finding jobs, corrupt state, and not writing -----------------------------------------------


def test_an_unknown_job_names_the_known_ones(jobs: Jobs) -> None:
    with pytest.raises(JobNotFoundError) as caught:
        open_view("nope", workspace=jobs.workspace)
    assert caught.value.exit_code == ExitCode.USAGE
    for name in ("dead", "done", "failing", "limited"):
        assert name in (caught.value.hint or "")


def test_a_corrupt_checkpoint_is_exit_5_and_left_alone(jobs: Jobs) -> None:
    path = jobs.corrupt / ".marianne" / "done.json"
    before = path.read_bytes()
    with pytest.raises(StateCorruptionError) as caught:
        open_view("done", workspace=jobs.corrupt)
    assert caught.value.exit_code == ExitCode.STATE and str(path) in caught.value.message
    assert path.read_bytes() == before


def test_inspecting_writes_nothing(jobs: Jobs) -> None:
    before = snapshot(jobs.root)
    for name in ("failing", "limited", "done", "dead"):
        view = open_view(name, workspace=jobs.workspace)
        diagnose(view)
        errors_report(view)
        history_report(view, limit=0)
        if name != "limited":
            list(follow(view, select_attempt(view), lines=0))
    assert snapshot(jobs.root) == before


# --- logs ---------------------------------------------------------------------------------------


def test_log_inventory(jobs: Jobs) -> None:
    files = log_files(jobs.workspace, "failing")
    keys = [(f.sheet_num, f.attempt, f.stream) for f in files]
    assert keys == sorted(keys, key=lambda k: (k[0], k[1], k[2] == "stderr"))
    assert {(1, 1), (2, 1), (2, 2)} == {(f.sheet_num, f.attempt) for f in files}
    assert all(f.size == f.path.stat().st_size for f in files)


def test_logs_default_to_the_latest_attempt_of_the_last_sheet_with_output(jobs: Jobs) -> None:
    view = open_view("failing", workspace=jobs.workspace)
    target = select_attempt(view)
    assert (target.sheet_num, target.attempt, target.running) == (2, 2, False)
    assert {f.stream for f in target.files} == {"stdout", "stderr"}
    assert select_attempt(view, sheet=1).attempt == 1
    assert select_attempt(view, sheet=2, attempt=1).attempt == 1


def test_logs_name_what_exists_when_asked_for_what_does_not(jobs: Jobs) -> None:
    view = open_view("failing", workspace=jobs.workspace)
    with pytest.raises(InspectTargetError) as caught:
        select_attempt(view, sheet=2, attempt=7)
    assert "Its attempts: 1, 2" in (caught.value.hint or "")
    with pytest.raises(InspectTargetError) as caught:
        select_attempt(view, sheet=3)  # blocked, never ran
    assert "has not run" in caught.value.message and "1, 2" in (caught.value.hint or "")
    with pytest.raises(InspectTargetError):
        select_attempt(view, sheet=9)


def test_read_tail_of_a_real_log(jobs: Jobs) -> None:
    view = open_view("done", workspace=jobs.workspace)
    target = select_attempt(view, sheet=2)
    whole = read_tail(target.stdout, 0)
    assert whole.splitlines()[0] == "token [REDACTED_ANTHROPIC_KEY] on stdout"
    assert whole.splitlines()[-1] == "finished 2"
    assert read_tail(target.stdout, 1) == "finished 2\n"
    assert read_tail(target.stdout, 2).count("\n") == 2
    assert read_tail(target.stdout, 1000) == whole
    assert SECRET not in whole + read_tail(target.stderr, 0)


def test_read_tail_counts_lines_across_blocks(tmp_path: Path) -> None:
    path = tmp_path / "big"
    path.write_text("".join(f"line {i:06d} " + "x" * 90 + "\n" for i in range(3000)))
    tail = read_tail(path, 1500)
    assert tail.count("\n") == 1500 and tail.startswith("line 001500 ")
    (tmp_path / "partial").write_text("a\nb\nno newline")
    assert read_tail(tmp_path / "partial", 2) == "b\nno newline"
    assert read_tail(tmp_path / "missing", 5) == ""


def test_a_symlink_among_the_logs_is_never_read(jobs: Jobs, tmp_path: Path) -> None:
    moved = tmp_path / "ws"
    shutil.copytree(jobs.workspace, moved, symlinks=True)
    secret_file = tmp_path / "private.txt"
    secret_file.write_text("not for mzt\n")
    planted = moved / ".marianne" / "logs" / "done" / "sheet-2.attempt-9.stdout"
    planted.symlink_to(secret_file)
    assert all(f.attempt != 9 for f in log_files(moved, "done"))
    assert read_tail(planted, 0) == ""


def test_following_a_finished_attempt_prints_it_and_ends(jobs: Jobs) -> None:
    view = open_view("done", workspace=jobs.workspace)
    started = time.monotonic()
    chunks = list(follow(view, select_attempt(view, sheet=1), lines=2))
    assert time.monotonic() - started < 10  # following a live attempt never ends
    text = {c.stream: c.text for c in chunks}
    assert text["stdout"].endswith("finished 1\n") and text["stdout"].count("\n") == 2
    assert "on stderr" in text["stderr"]
