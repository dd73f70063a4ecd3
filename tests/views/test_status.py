"""The status, list and overview documents, read from checkpoints written by real runs."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
import pytest

from mzt.instruments import ratelimits
from mzt.state import CheckpointState, JobStatus, JsonStateBackend, SheetState, SheetStatus, reading
from mzt.state.loader import read_state
from mzt.support.errors import JobNotFoundError, StateCorruptionError
from mzt.views import status as status_view
from mzt.views.liveness import Liveness
from mzt.views.status_document import status_document
from tests.e2e.conftest import Project, wait_for
from tests.e2e.other_host import OLD_HOST, leave_running
from tests.machine.slot_child import holding

STATUS_FIELDS = {
    "schema",
    "job_id",
    "job_name",
    "status",
    "alive",
    "pid",
    "workspace",
    "progress",
    "sheets",
    "error_message",
    "total_cost_usd",
    "updated_at",
}
SHEET_FIELDS = {
    "status",
    "attempt_count",
    "validation_passed",
    "instrument_name",
    "error_code",
    "error_message",
}
LIST_ROW_FIELDS = {"job_id", "status", "alive", "workspace", "progress", "updated_at"}


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    home = tmp_path / "home"
    home.mkdir()
    root = tmp_path / "proj"
    root.mkdir()
    # The library reads the registry of the same MZT_HOME the runs write to.
    monkeypatch.setenv("MZT_HOME", str(home))
    return Project(root, home)


def score(name: str, template: str, n: int = 3, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "workspace": f"./ws-{name}",
        "instrument": "cli",
        "sheet": {"size": 1, "total_items": n},
        "retry": {"max_retries": 2, "base_delay_seconds": 0.01, "jitter": False},
        "prompt": {"template": template},
        **extra,
    }


def run(project: Project, data: dict[str, Any]) -> tuple[int, Path]:
    path = project.score(data, f"{data['name']}.yaml")
    result = project.mzt("run", path)
    return result.returncode, project.root / data["workspace"]


def start(project: Project, data: dict[str, Any]) -> tuple[subprocess.Popen[str], Path]:
    path = project.score(data, f"{data['name']}.yaml")
    return project.start("run", path, "-q"), project.root / data["workspace"]


def kill_tree(proc: subprocess.Popen[str], sig: int = signal.SIGKILL) -> None:
    """Kill the run and the instrument processes it started (they live in their own sessions)."""
    children = psutil.Process(proc.pid).children(recursive=True)
    proc.send_signal(sig)
    for child in children:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()
    proc.communicate(timeout=20)


def doc_of(job: str, ws: Path) -> dict[str, Any]:
    return status_view.job_status(job, workspace=ws)


def sheet_running(ws: Path, job: str, num: int) -> bool:
    ref = reading.JobRef(job, ws)
    try:
        checkpoint = reading.read_checkpoint(ref)
    except JobNotFoundError:
        return False
    sheet = checkpoint.sheets.get(num)
    return sheet is not None and sheet.status == "in_progress"


def attempt_placed(ws: Path, job: str, num: int) -> bool:
    """The sheet's attempt handle is recorded (the last line its start writes)."""
    state = JsonStateBackend(ws).load(job)
    return state is not None and state.sheet(num).attempt_handle is not None


def assert_same_as_loader(job: str, ws: Path) -> reading.Checkpoint:
    """What the views read must be what the store's loader reads, field by field."""
    ref = reading.JobRef(job, ws)
    seen = reading.read_checkpoint(ref)
    loaded = read_state(job, ref.state_path, ref.history_path)
    assert loaded is not None
    assert seen.sheets == loaded.sheets
    assert seen.head == reading.head_of(loaded)
    return seen


# --- finished jobs ------------------------------------------------------------------------------


def test_completed_job_document_has_the_contract_fields(project: Project) -> None:
    code, ws = run(
        project,
        score(
            "done",
            "echo ok > {{ workspace }}/out-{{ sheet_num }}.txt",
            validations=[{"type": "file_exists", "path": "{workspace}/out-{sheet_num}.txt"}],
        ),
    )
    assert code == 0
    doc = doc_of("done", ws)
    assert STATUS_FIELDS <= doc.keys()
    assert doc["schema"] == "mzt.status/1"
    assert (doc["job_id"], doc["job_name"], doc["status"]) == ("done", "done", "completed")
    assert doc["alive"] is False and doc["pid"] is None
    assert doc["workspace"] == str(ws.resolve())
    assert doc["progress"] == {
        "completed": 3,
        "total": 3,
        "percent": 100.0,
        "counts": {"completed": 3},
    }
    assert set(doc["sheets"]) == {"1", "2", "3"}
    for sheet in doc["sheets"].values():
        assert SHEET_FIELDS <= sheet.keys()
        assert sheet["status"] == "completed" and sheet["attempt_count"] == 1
        assert sheet["validation_passed"] is True and sheet["validation_pass_rate"] == 100.0
        assert sheet["instrument_name"] == "cli" and sheet["error_code"] is None
        assert sheet["duration_seconds"] is not None
    assert isinstance(doc["total_cost_usd"], float)
    assert doc["updated_at"].endswith("Z") and doc["elapsed_seconds"] >= 0
    assert doc["next_step"] is None and doc["recent_errors"] == []
    assert [m["movement"] for m in doc["movements"]] == [1, 2, 3]
    json.dumps(doc)  # one JSON value
    assert_same_as_loader("done", ws)


def test_failed_job_shows_error_codes_and_the_exact_next_commands(project: Project) -> None:
    template = "{% if sheet_num == 2 %}echo boom >&2; exit 3{% else %}echo fine{% endif %}"
    code, ws = run(project, score("broken", template))
    assert code == 1
    doc = doc_of("broken", ws)
    assert doc["status"] == "failed" and doc["alive"] is False
    assert doc["progress"]["completed"] == 1
    assert doc["sheets"]["2"]["status"] == "failed"
    assert doc["sheets"]["2"]["error_code"] == "E009"
    assert doc["sheets"]["2"]["attempt_count"] == 2
    assert doc["sheets"]["3"]["status"] == "skipped" and doc["sheets"]["3"]["error_code"] == "E999"
    errors = doc["recent_errors"]
    assert [(e["sheet_num"], e["attempt"], e["error_code"]) for e in errors] == [
        (2, 2, "E009"),
        (2, 1, "E009"),
    ]
    assert all(e["message"] == "exited with status 3: boom" and e["timestamp"] for e in errors)
    target = f"broken -w {ws.resolve()}"
    assert doc["next_step"] == f"mzt diagnose {target}"
    assert [s["command"] for s in doc["next_steps"]] == [
        f"mzt diagnose {target}",
        f"mzt resume {target}",
    ]
    assert "sheets failed: 2" in doc["error_message"]
    assert_same_as_loader("broken", ws)


def test_paused_and_cancelled_jobs(project: Project) -> None:
    slow = "sleep 0.3"
    proc, ws = start(project, score("held", slow, n=6))
    wait_for(lambda: sheet_running(ws, "held", 1))
    (ws / ".marianne-pause-held").touch()
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 3, err
    doc = doc_of("held", ws)
    assert doc["status"] == "paused" and doc["alive"] is False
    assert 0 < doc["progress"]["completed"] < 6
    assert doc["next_step"] == f"mzt resume held -w {ws.resolve()}"

    proc, ws = start(project, score("stopped", slow, n=6))
    wait_for(lambda: sheet_running(ws, "stopped", 1))
    (ws / ".marianne-cancel-stopped").touch()
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 4, err
    doc = doc_of("stopped", ws)
    assert doc["status"] == "cancelled" and doc["alive"] is False
    assert doc["progress"]["counts"].get("cancelled", 0) >= 1
    assert doc["next_step"] == f"mzt resume stopped -w {ws.resolve()}"


# --- live and dead runs ----------------------------------------------------------------------


def test_running_then_killed_job(project: Project) -> None:
    template = "{% if sheet_num == 2 %}sleep 60{% else %}echo quick{% endif %}"
    proc, ws = start(project, score("live", template, n=3))
    try:
        wait_for(lambda: sheet_running(ws, "live", 2) and attempt_placed(ws, "live", 2))
        doc = doc_of("live", ws)
        assert doc["status"] == "running" and doc["alive"] is True
        assert doc["pid"] == proc.pid
        assert doc["liveness"]["verdict"] == "alive"
        assert doc["liveness"]["holder"]["pid"] == proc.pid
        assert doc["running_sheets"] == [2]
        assert doc["sheets"]["2"]["status"] == "in_progress"
        assert doc["progress"]["completed"] == 1
        assert doc["next_step"] == f"mzt watch live -w {ws.resolve()}"
        # Sheet transitions of a live run sit in the journal: both readers fold them in.
        assert_same_as_loader("live", ws)
        rows = status_view.list_rows()
        assert [(r["job_id"], r["status"], r["alive"]) for r in rows] == [("live", "running", True)]
        assert rows[0]["running_sheets"] == [2]
    finally:
        kill_tree(proc)
    doc = doc_of("live", ws)
    assert doc["status"] == "paused" and doc["alive"] is False
    assert doc["liveness"]["verdict"] == "dead"
    assert "no longer running" in doc["error_message"]
    assert doc["pid"] is None
    assert doc["next_step"] == f"mzt resume live -w {ws.resolve()}"
    row = status_view.list_rows()[0]
    assert (row["status"], row["alive"], row["liveness"]) == ("paused", False, "dead")


def slot_wait_seen(ws: Path, job: str, field: Callable[[dict[str, Any]], Any]) -> bool:
    try:
        return field(doc_of(job, ws)) is not None
    except JobNotFoundError:
        return False  # the run has not written its checkpoint yet


def test_a_sheet_waiting_for_a_machine_slot_says_so_in_the_runs_words(project: Project) -> None:
    (project.home / "config.yaml").write_text("max_concurrent_sheets: 1\n")
    wait = {"limit": "sheets", "text": "waiting for a sheet slot: 1/1 held by job holder"}
    with holding(project.home, "holder", "sheets:1"):
        proc, ws = start(project, score("slotted", "true", n=2))
        try:
            wait_for(lambda: slot_wait_seen(ws, "slotted", lambda d: d["slot_waits"].get("1")))
            doc = doc_of("slotted", ws)
            assert (doc["status"], doc["alive"]) == ("running", True)
            assert doc["sheets"]["1"]["status"] == "pending"  # the checkpoint knows no wait
            assert doc["sheets"]["1"]["waiting_for_slot"] == wait
            assert doc["sheets"]["2"]["waiting_for_slot"] is None  # it waits behind sheet 1
            assert doc["slot_waits"] == {"1": wait}
            assert doc["waiting_for_slot"] is None
        except BaseException:
            kill_tree(proc)
            raise
    _, err = proc.communicate(timeout=60)  # the slot let go, the run goes on and ends
    assert proc.returncode == 0, err
    doc = doc_of("slotted", ws)
    assert doc["status"] == "completed" and doc["slot_waits"] == {}
    assert [sheet["waiting_for_slot"] for sheet in doc["sheets"].values()] == [None, None]


def test_a_run_waiting_for_a_job_slot_says_so_at_the_job_level(project: Project) -> None:
    (project.home / "config.yaml").write_text("max_concurrent_jobs: 1\n")
    with holding(project.home, "holder", "jobs:1"):
        proc, ws = start(project, score("queued", "true", n=2))
        try:
            wait_for(lambda: slot_wait_seen(ws, "queued", lambda d: d["waiting_for_slot"]))
            doc = doc_of("queued", ws)
            assert doc["waiting_for_slot"] == {
                "limit": "jobs",
                "text": "waiting for a job slot: 1/1 held by job holder",
            }
            assert doc["slot_waits"] == {} and doc["running_sheets"] == []
        except BaseException:
            kill_tree(proc)
            raise
    proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert doc_of("queued", ws)["waiting_for_slot"] is None


def test_another_hosts_run_points_at_the_take_over_and_then_shows_it(project: Project) -> None:
    ws = project.root / "ws-far"
    ws.mkdir()
    pidfile = ws / "child.pid"
    path = project.score(score("far", f"echo $$ > {pidfile}; exec sleep 300"), "far.yaml")
    leave_running(project, path, pidfile)
    try:
        doc = doc_of("far", ws)
        assert (doc["status"], doc["alive"], doc["liveness"]["verdict"]) == (
            "running",
            None,
            "foreign",
        )
        assert doc["taken_over"] is None and doc["next_step"] is None  # check that host first
        commands = [s["command"] for s in doc["next_steps"]]
        assert commands[1] == f"mzt resume far -w {ws.resolve()} --take-over"
        assert OLD_HOST in doc["next_steps"][1]["reason"]
        assert project.mzt("cancel", "far", "-w", ws, "--take-over").returncode == 0
        record = doc_of("far", ws)["taken_over"]
        assert set(record) == {
            "from_host",
            "from_pid",
            "from_started_at",
            "last_written_at",
            "at",
            "by_host",
            "by_pid",
            "command",
        }
        assert (record["from_host"], record["command"]) == (OLD_HOST, "cancel")
    finally:
        os.kill(int(pidfile.read_text()), signal.SIGKILL)


# --- corrupt checkpoints ---------------------------------------------------------------------


def test_corrupt_checkpoint_is_reported_and_left_untouched(project: Project) -> None:
    assert run(project, score("good", "echo fine"))[0] == 0
    assert run(project, score("bad", "echo fine"))[0] == 0
    ws = project.root / "ws-bad"
    path = ws / ".marianne" / "bad.json"
    original = path.read_bytes()
    path.write_bytes(original[: len(original) // 2])
    damaged = path.read_bytes()
    before = path.stat().st_mtime_ns
    with pytest.raises(StateCorruptionError) as caught:
        doc_of("bad", ws)
    assert str(path) in caught.value.message
    rows = {r["job_id"]: r for r in status_view.list_rows(include_all=True)}
    assert rows["good"]["status"] == "completed"
    assert rows["bad"]["status"] == "corrupt" and str(path) in rows["bad"]["error"]
    assert rows["bad"]["progress"] == {"completed": None, "total": None}
    assert path.read_bytes() == damaged and path.stat().st_mtime_ns == before
    overview = status_view.overview_document()
    assert [r["job_id"] for r in overview["attention"]] == ["bad"]


def test_missing_job_is_not_found(project: Project) -> None:
    with pytest.raises(JobNotFoundError):
        status_view.job_status("nothing-here", workspace=project.root)
    with pytest.raises(JobNotFoundError):
        status_view.job_status("nothing-here", cwd=project.root)


# --- list --------------------------------------------------------------------------------------


def test_list_rows_newest_first_filtered_and_complete(project: Project) -> None:
    assert run(project, score("first", "echo one"))[0] == 0
    assert run(project, score("second", "exit 1", n=1))[0] == 1
    assert run(project, score("third", "echo three"))[0] == 0
    everything = status_view.list_document(include_all=True)
    assert everything["schema"] == "mzt.list/1"
    assert [r["job_id"] for r in everything["jobs"]] == ["third", "second", "first"]
    for row in everything["jobs"]:
        assert LIST_ROW_FIELDS <= row.keys()
        assert set(row["progress"]) == {"completed", "total"}
        assert row["alive"] is False
    assert [r["job_id"] for r in status_view.list_rows()] == ["second"]  # not completed
    assert [r["job_id"] for r in status_view.list_rows(statuses=["completed"])] == [
        "third",
        "first",
    ]
    assert status_view.list_rows(statuses=["running"]) == []


def test_list_reads_a_ten_thousand_sheet_checkpoint_cheaply(
    project: Project, tmp_path: Path
) -> None:
    ws = tmp_path / "huge"
    total = 10_000
    state = CheckpointState(job_id="huge", job_name="huge", total_sheets=total)
    state.mark_job_running(pid=os.getpid())
    for num in range(1, total + 1):
        sheet = state.sheet(num)
        sheet.instrument_name = "cli"
        sheet.movement = (num - 1) // 1000 + 1
        sheet.stdout_tail = "x" * 500
        if num <= 9_000:
            sheet.status = SheetStatus.COMPLETED
    state.status = JobStatus.COMPLETED
    store = JsonStateBackend(ws)
    store.save(state)
    from mzt.state import registry

    registry.register("huge", ws)
    started = time.perf_counter()
    rows = status_view.list_rows(include_all=True)
    elapsed = time.perf_counter() - started
    assert rows[0]["progress"] == {"completed": 9_000, "total": total}
    checkpoint = reading.read_checkpoint(reading.JobRef("huge", ws))
    assert checkpoint.completed == 9_000
    assert checkpoint.sheets[10_000].movement == 10
    assert elapsed < 10.0, elapsed  # catches quadratic reading; the bench measures speed


# --- irregular documents ------------------------------------------------------------------------


def test_a_sheets_key_inside_the_score_snapshot_does_not_confuse_the_head(tmp_path: Path) -> None:
    state = CheckpointState(job_id="odd", job_name="odd", total_sheets=2)
    state.config_snapshot = {"prompt": {"variables": {"sheets": {"1": {"sheet_num": 1}}}}}
    state.sheets[1] = SheetState(sheet_num=1, status="completed", instrument_name="cli")
    state.sheets[2] = SheetState(sheet_num=2, agent_feedback={"sheets": {"3": {"x": 1}}})
    JsonStateBackend(tmp_path).save(state)
    ref = reading.JobRef("odd", tmp_path)
    seen = reading.read_checkpoint(ref)
    assert seen.sheets == state.sheets
    assert seen.state.config_snapshot == state.config_snapshot


def test_legacy_document_is_read_through_the_loader(tmp_path: Path) -> None:
    folder = tmp_path / ".marianne"
    folder.mkdir()
    legacy = {
        "job_id": "old",
        "job_name": "old",
        "status": "paused_at_chain",
        "total_sheets": 2,
        "sheets": {"1": {"sheet_num": 1, "status": "completed"}},
    }
    (folder / "old.json").write_text(json.dumps(legacy))
    checkpoint = reading.read_checkpoint(reading.JobRef("old", tmp_path))
    assert checkpoint.status == "paused" and checkpoint.completed == 1


# --- rate limits and overview ------------------------------------------------------------------


def test_rate_limits_of_the_jobs_instruments_are_shown(project: Project) -> None:
    assert run(project, score("limited", "echo fine", n=1))[0] == 0
    until = datetime.now(UTC) + timedelta(minutes=10)
    ratelimits.record("cli", until, "usage limit reached", "other-job")
    ratelimits.record("unrelated", until, "not ours", "other-job")
    doc = doc_of("limited", project.root / "ws-limited")
    assert [(r["instrument"], r["active"], r["set_by_job"]) for r in doc["rate_limits"]] == [
        ("cli", True, "other-job")
    ]
    assert 500 < doc["rate_limits"][0]["seconds_left"] <= 600


def test_overview_groups_jobs(project: Project) -> None:
    assert run(project, score("ok", "echo fine", n=1))[0] == 0
    assert run(project, score("ko", "exit 2", n=1))[0] == 1
    overview = status_view.overview_document()
    assert overview["schema"] == "mzt.overview/1"
    assert overview["counts"] == {"completed": 1, "failed": 1}
    assert [r["job_id"] for r in overview["attention"]] == ["ko"]
    assert [r["job_id"] for r in overview["recent"]] == ["ok"]
    assert overview["active"] == []


def test_a_status_reads_the_job_once(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    from mzt.state import loader

    code, ws = run(project, score("once", "true"))
    assert code == 0
    reads: list[str] = []
    real = loader.read_snapshot

    def counted(job_id: str, path: Path) -> CheckpointState | None:
        reads.append(job_id)
        return real(job_id, path)

    monkeypatch.setattr(loader, "read_snapshot", counted)
    doc = doc_of("once", ws)
    assert doc["leftover_attempts"] == [] and doc["alive"] is False
    assert reads == ["once"]  # leftovers are looked for in the same reading


# --- a dead run's sheets -------------------------------------------------------------------------


def _killed_mid_sheet(tmp_path: Path, last_write: datetime) -> reading.Checkpoint:
    """A job whose files say sheets 2 and 3 run (since 10:00), last written at ``last_write``."""
    started = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)
    state = CheckpointState(job_id="j", job_name="j", total_sheets=3, status=JobStatus.RUNNING)
    state.sheets[1] = SheetState(sheet_num=1, status=SheetStatus.COMPLETED, started_at=started)
    for num in (2, 3):
        state.sheets[num] = SheetState(
            sheet_num=num,
            status=SheetStatus.IN_PROGRESS,
            started_at=started,
            attempt_count=2,
            total_duration_seconds=1.5,  # the first attempt's
        )
    checkpoint = reading.Checkpoint(reading.JobRef("j", tmp_path), state)
    checkpoint.head["updated_at"] = last_write.isoformat()
    return checkpoint


@pytest.mark.parametrize(
    ("verdict", "interrupted", "duration"), [("dead", True, 6.5), ("alive", False, 301.5)]
)
def test_a_dead_runs_running_sheets_are_interrupted_and_their_time_stops(
    tmp_path: Path, verdict: str, interrupted: bool, duration: float
) -> None:
    last_write = datetime(2026, 5, 1, 10, 0, 5, tzinfo=UTC)
    checkpoint = _killed_mid_sheet(tmp_path, last_write)
    liveness = Liveness(verdict == "alive", verdict, "probed", None)
    doc, _ = status_document(
        checkpoint, liveness, was_running=True, now=last_write + timedelta(seconds=295)
    )
    assert doc["interrupted_sheets"] == ([2, 3] if interrupted else [])
    assert doc["sheets"]["1"]["interrupted"] is False
    for num in ("2", "3"):
        sheet = doc["sheets"][num]
        assert (sheet["status"], sheet["interrupted"]) == ("in_progress", interrupted)
        assert sheet["duration_seconds"] == duration
    assert doc["running_sheets"] == ([] if interrupted else [2, 3])  # a dead run runs nothing
