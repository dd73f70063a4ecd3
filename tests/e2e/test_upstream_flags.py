"""End to end: the flags taken over from upstream, each doing what the README says."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.conftest import Project, wait_for

# Sheet 1 completes and says so; sheet 2 fails with E009 (exit 1) and prints a line.
SCORE = {
    "name": "job",
    "instrument": "cli",
    "sheet": {"size": 1, "total_items": 2, "dependencies": {2: []}},
    "retry": {"max_retries": 0, "max_completion_attempts": 0},
    "prompt": {
        "template": "echo said-{{ sheet_num }}; [ {{ sheet_num }} = 1 ] || exit 1; touch {{ workspace }}/out-{{ sheet_num }}"
    },
    "validations": [{"type": "file_exists", "path": "{workspace}/out-{sheet_num}"}],
}


def failed_job(project: Project) -> None:
    assert project.mzt("run", project.score(SCORE), "-q").returncode == 1


def test_list_limit_and_workspace(project: Project) -> None:
    failed_job(project)
    other = {**SCORE, "name": "other", "workspace": "./ws2"}
    project.mzt("run", project.score(other, name="other.yaml"), "-q")
    both = json.loads(project.mzt("list", "-j").stdout)["jobs"]
    assert {j["job_id"] for j in both} == {"job", "other"}
    newest = json.loads(project.mzt("list", "-l", "1", "-j").stdout)["jobs"]
    assert [j["job_id"] for j in newest] == [both[0]["job_id"]]
    here = json.loads(project.mzt("list", "-w", "ws2", "-j").stdout)["jobs"]
    assert [j["job_id"] for j in here] == ["other"]
    assert project.mzt("list", "--workspace", "nowhere", "-j").stdout.count("job_id") == 0


def test_errors_short_flags(project: Project) -> None:
    failed_job(project)
    found = json.loads(project.mzt("errors", "job", "-b", "2", "-c", "E009", "-j").stdout)
    assert [e["sheet_num"] for e in found["errors"]] == [2]
    none = json.loads(project.mzt("errors", "job", "-b", "1", "-j").stdout)
    assert none["errors"] == []
    permanent = json.loads(project.mzt("errors", "job", "-t", "permanent", "-j").stdout)
    transient = json.loads(project.mzt("errors", "job", "-t", "transient", "-j").stdout)
    assert len(permanent["errors"]) + len(transient["errors"]) == 1
    verbose = project.mzt("errors", "job", "-V")
    assert "said-2" in verbose.stdout
    assert "said-2" not in project.mzt("errors", "job").stdout


def test_history_sheet_short_flag(project: Project) -> None:
    failed_job(project)
    doc = json.loads(project.mzt("history", "job", "-b", "2", "-j").stdout)
    assert [a["sheet_num"] for a in doc["attempts"]] == [2]


def test_diagnose_include_logs_and_resources(project: Project) -> None:
    failed_job(project)
    plain = json.loads(project.mzt("diagnose", "job", "-j").stdout)
    assert "log_tails" not in plain and "resources" not in plain
    doc = json.loads(project.mzt("diagnose", "job", "--include-logs", "--resources", "-j").stdout)
    tails = {(t["sheet_num"], t["stream"]): t["tail"] for t in doc["log_tails"]}
    assert tails[(2, "stdout")].strip() == "said-2"
    found = doc["resources"]
    assert found["process"] is None  # nothing runs the job
    assert found["workspace_disk"]["free_bytes"] > 0
    assert found["job_files_bytes"] > 0 and found["logs_bytes"] > 0
    text = project.mzt("diagnose", "job", "--include-logs", "--resources").stdout
    assert "Log sheet-2.attempt-1.stdout" in text and "| said-2" in text
    assert "no live run on this host" in text


def test_diagnose_resources_of_a_live_run(project: Project) -> None:
    marker = project.root / "started"
    score = project.score({**SCORE, "prompt": {"template": f"touch {marker}; sleep 60"}})
    proc = project.start("run", score)
    try:
        wait_for(marker.exists, timeout=60)
        doc = json.loads(project.mzt("diagnose", "job", "--resources", "-j").stdout)
        found = doc["resources"]["process"]
        assert found["pid"] == proc.pid
        assert found["rss_bytes"] > 0 and found["children"] >= 1
    finally:
        (project.workspace / ".marianne-cancel-job").touch()
        proc.communicate(timeout=60)


def test_pause_force_stops_the_attempt_now(project: Project) -> None:
    marker = project.root / "started"
    score = project.score({**SCORE, "prompt": {"template": f"touch {marker}; sleep 300"}})
    proc = project.start("run", score)
    wait_for(marker.exists, timeout=60)
    result = project.mzt("pause", "job", "--force", "--wait", "-t", "60")
    _, err = proc.communicate(timeout=60)
    assert result.returncode == 0, result.stderr
    assert proc.returncode == 143, err  # stopped by the signal, not after the 300 s sleep
    assert project.state("job")["status"] == "paused"
    sheets = project.sheets("job")
    assert sheets[1]["status"] == "pending"


def test_pause_force_of_a_job_not_running_is_refused(project: Project) -> None:
    failed_job(project)
    result = project.mzt("pause", "job", "--force")
    assert result.returncode == 2
    assert "not running" in result.stderr


def test_init_name_and_clear_rate_limits_instrument(project: Project) -> None:
    result = project.mzt("init", "-n", "named", "-j")
    assert result.returncode == 0, result.stderr
    assert Path(json.loads(result.stdout)["path"]).name == "named.yaml"
    assert project.mzt("init", "one", "--name", "two").returncode == 2
    folder = project.home / "ratelimits"
    folder.mkdir(parents=True)
    for name in ("cli", "gemini-cli"):
        record = {
            "instrument": name,
            "limited_until": "2999-01-01T00:00:00Z",
            "reason": "test",
            "set_by_job": "x",
            "set_at": "2026-01-01T00:00:00Z",
        }
        (folder / f"{name}.json").write_text(json.dumps(record))
    doc = json.loads(project.mzt("clear-rate-limits", "-i", "cli", "-j").stdout)
    assert doc["cleared"] == ["cli"]
    assert (folder / "gemini-cli.json").exists()


def test_logs_follow_upper_case(project: Project) -> None:
    failed_job(project)
    result = project.mzt("logs", "job", "-b", "2", "-F", timeout=60)
    assert result.returncode == 0, result.stderr
    assert "said-2" in result.stdout


def test_log_level_file_and_format(project: Project) -> None:
    failed_job(project)
    (project.home / "registry" / "broken--00000000.json").write_text("{not json")
    quiet = project.mzt("list")
    assert "registry record" not in quiet.stderr  # nothing is logged unless asked
    shown = project.mzt("-L", "warning", "list")
    assert "warning mzt.state.registry: skipping unreadable registry record" in shown.stderr
    log = project.root / "mzt.log"
    project.mzt("--log-file", log, "--log-format", "json", "list")
    record = json.loads(log.read_text().splitlines()[0])
    assert record["level"] == "warning" and record["logger"] == "mzt.state.registry"
    assert log.stat().st_mode & 0o777 == 0o600
    env = project.env() | {"MZT_LOG_LEVEL": "error"}
    import subprocess
    import sys

    hushed = subprocess.run(
        [sys.executable, "-m", "mzt", "list"], env=env, capture_output=True, text=True, check=False
    )
    assert "registry record" not in hushed.stderr
    env["MZT_LOG_LEVEL"] = "info"
    loud = subprocess.run(
        [sys.executable, "-m", "mzt", "list"], env=env, capture_output=True, text=True, check=False
    )
    assert "skipping unreadable registry record" in loud.stderr
