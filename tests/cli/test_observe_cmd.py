"""`mzt status`, `mzt list` and `mzt watch` on checkpoints written by real runs.

One set of jobs in every state (completed, failed, paused, cancelled, running, dead,
corrupt) is made once for the module; each test reads it as a user would.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.cli.conftest import Result
from tests.e2e.conftest import Project, wait_for

FULL = os.environ.get("MZT_FULL_TESTS") == "1"
IN_FLIGHT = 6  # concurrent read commands at most
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
LIST_FIELDS = {"job_id", "status", "alive", "workspace", "progress", "updated_at"}
WATCH_FIELDS = {"schema", "ts", "job_id", "status", "progress", "running_sheets"}
# (status shown, alive, exit code of `watch` for it)
EXPECTED = {
    "done": ("completed", False, 0),
    "broken": ("failed", False, 1),
    "held": ("paused", False, 3),
    "stopped": ("cancelled", False, 4),
    "live": ("running", True, None),
    "dead": ("paused", False, 3),
}


def score(name: str, template: str, n: int = 3, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "workspace": f"./ws-{name}",
        "instrument": "cli",
        "sheet": {"size": 1, "total_items": n},
        "retry": {"max_retries": 1, "base_delay_seconds": 0.01, "jitter": False},
        "prompt": {"template": template},
        **extra,
    }


def kill_tree(proc: subprocess.Popen[str]) -> None:
    """SIGKILL the run and the instrument processes it started (in their own sessions)."""
    try:
        children = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        children = []
    proc.send_signal(signal.SIGKILL)
    for child in children:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()
    proc.communicate(timeout=20)


def in_progress(ws: Path, job: str, num: int | None = None) -> bool:
    """Whether sheet ``num`` (without it: any sheet) of ``job`` is running now."""
    path = ws / ".marianne" / f"{job}.json"
    if not path.exists():
        return False
    from mzt.state import reading

    sheets = reading.read_checkpoint(reading.JobRef(job, ws)).sheets
    found = [sheets.get(num)] if num is not None else list(sheets.values())
    return any(sheet is not None and sheet.status == "in_progress" for sheet in found)


@dataclass
class Zoo:
    project: Project
    live: subprocess.Popen[str]
    corrupt_bytes: bytes

    def ws(self, job: str) -> Path:
        return self.project.root / f"ws-{job}"


@pytest.fixture(scope="module")
def zoo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Zoo]:
    base = tmp_path_factory.mktemp("zoo")
    (base / "home").mkdir()
    (base / "proj").mkdir()
    project = Project(base / "proj", base / "home")

    def run(data: dict[str, Any]) -> int:
        return project.mzt("run", project.score(data, f"{data['name']}.yaml")).returncode

    def start(data: dict[str, Any]) -> subprocess.Popen[str]:
        return project.start("run", project.score(data, f"{data['name']}.yaml"), "-q")

    assert run(score("done", "echo fine")) == 0
    assert run(score("rotten", "echo fine")) == 0
    assert run(score("broken", "{% if sheet_num == 2 %}exit 3{% else %}echo ok{% endif %}")) == 1
    # Sheets long enough that a loaded machine still sees each job mid-run before its end.
    held, stopped = start(score("held", "sleep 1", 5)), start(score("stopped", "sleep 1", 5))
    dead = start(score("dead", "sleep 60", 2))
    live = start(score("live", "{% if sheet_num == 2 %}sleep 60{% else %}true{% endif %}"))
    ws = {job: project.root / f"ws-{job}" for job in ("held", "stopped", "dead", "live")}
    try:
        wait_for(lambda: in_progress(ws["held"], "held"))
        (ws["held"] / ".marianne-pause-held").touch()
        wait_for(lambda: in_progress(ws["stopped"], "stopped"))
        (ws["stopped"] / ".marianne-cancel-stopped").touch()
        wait_for(lambda: in_progress(ws["dead"], "dead", 1))
        kill_tree(dead)
        held.communicate(timeout=30)
        stopped.communicate(timeout=30)
        assert (held.returncode, stopped.returncode) == (3, 4)
        wait_for(lambda: in_progress(ws["live"], "live", 2))
    except BaseException:
        for proc in (held, stopped, dead, live):  # nothing of a failed setup outlives it
            if proc.returncode is None:
                kill_tree(proc)
        raise
    state = project.root / "ws-rotten" / ".marianne" / "rotten.json"
    state.write_bytes(state.read_bytes()[:-40])
    try:
        yield Zoo(project, live, state.read_bytes())
    finally:
        kill_tree(live)


@pytest.fixture
def home(zoo: Zoo, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The zoo's MZT_HOME for in-process commands."""
    monkeypatch.setenv("MZT_HOME", str(zoo.project.home))
    return zoo.project.home


Mzt = Callable[..., Result]


# --- status --------------------------------------------------------------------------------------


@pytest.mark.parametrize("job", sorted(EXPECTED))
def test_status_json_of_each_kind_of_job(zoo: Zoo, home: Path, mzt: Mzt, job: str) -> None:
    result = mzt("status", job, "-w", zoo.ws(job), "--json")
    assert result.code == 0, result.err
    doc = result.json()
    assert STATUS_FIELDS <= doc.keys()
    status, alive, _ = EXPECTED[job]
    assert (doc["schema"], doc["job_id"], doc["status"], doc["alive"]) == (
        "mzt.status/1",
        job,
        status,
        alive,
    )
    assert doc["workspace"] == str(zoo.ws(job).resolve())
    assert set(doc["progress"]) >= {"completed", "total", "percent"}
    assert doc["progress"]["total"] == (
        5 if job in ("held", "stopped") else 3 if job != "dead" else 2
    )
    for sheet in doc["sheets"].values():
        assert SHEET_FIELDS <= sheet.keys()
    assert (doc["pid"] == zoo.live.pid) if job == "live" else doc["pid"] is None
    if job == "dead":
        assert doc["liveness"]["verdict"] == "dead"
        assert (doc["running_sheets"], doc["interrupted_sheets"]) == ([], [1])
    if job == "live":
        assert doc["running_sheets"] == [2] and doc["next_step"].startswith("mzt watch live")
    elif job != "done":
        assert doc["next_step"].startswith(("mzt resume", "mzt diagnose"))


@pytest.mark.parametrize(
    ("job", "phrases"),
    [
        ("done", ["completed — not running", "3/3 sheets (100%)", "SHEET  STATUS"]),
        ("broken", ["failed — not running", "[E009", "mzt diagnose broken -w", "blocked"]),
        ("held", ["paused — not running", "mzt resume held -w"]),
        ("stopped", ["cancelled — not running", "cancelled"]),
        ("live", ["running — running now", "in_progress", "mzt watch live -w"]),
        ("dead", ["interrupted — its run died", "no longer running", "mzt resume dead -w"]),
    ],
)
def test_status_text_of_each_kind_of_job(
    zoo: Zoo, home: Path, mzt: Mzt, job: str, phrases: list[str]
) -> None:
    result = mzt("status", job, "-w", zoo.ws(job))
    assert result.code == 0, result.err
    for phrase in phrases:
        assert phrase in result.out, (phrase, result.out)
    assert "\x1b[" not in result.out  # no colour off a terminal


def test_status_finds_a_job_by_score_file_and_by_registry(zoo: Zoo, home: Path, mzt: Mzt) -> None:
    by_score = mzt("status", zoo.project.root / "done.yaml", "-j")
    assert by_score.code == 0 and by_score.json()["job_id"] == "done"
    by_registry = mzt("status", "broken", "-j")  # no -w, not in the current folder
    assert by_registry.code == 0 and by_registry.json()["status"] == "failed"


def test_corrupt_checkpoint_exits_5_names_the_path_and_stays_untouched(
    zoo: Zoo, home: Path, mzt: Mzt
) -> None:
    path = zoo.ws("rotten") / ".marianne" / "rotten.json"
    human = mzt("status", "rotten", "-w", zoo.ws("rotten"))
    assert human.code == 5 and str(path) in human.err
    as_json = mzt("status", "rotten", "-w", zoo.ws("rotten"), "--json")
    assert as_json.code == 5
    error = as_json.json()
    assert error["schema"] == "mzt.error/1" and str(path) in error["error"]["message"]
    assert path.read_bytes() == zoo.corrupt_bytes
    listing = mzt("list", "--all", "--json")
    assert listing.code == 0
    rows = {r["job_id"]: r for r in listing.json()["jobs"]}
    assert rows["rotten"]["status"] == "corrupt"
    assert {"done", "broken", "held", "stopped", "live", "dead"} <= rows.keys()
    assert path.read_bytes() == zoo.corrupt_bytes


def test_unknown_job_exits_2(zoo: Zoo, home: Path, mzt: Mzt, tmp_path: Path) -> None:
    result = mzt("status", "nope", "-w", tmp_path)
    assert result.code == 2 and "nope" in result.err
    as_json = mzt("status", "nope", "-w", tmp_path, "-j")
    assert as_json.code == 2 and as_json.json()["error"]["code"] == "JOB_NOT_FOUND"
    assert mzt("watch", "nope", "-w", tmp_path).code == 2


def test_overview_without_a_job(zoo: Zoo, home: Path, mzt: Mzt) -> None:
    text = mzt("status")
    assert text.code == 0
    assert "7 jobs" in text.out
    assert text.out.index("Running") < text.out.index("live") < text.out.index("Needs attention")
    doc = mzt("status", "--json").json()
    assert doc["schema"] == "mzt.overview/1" and doc["total"] == 7
    assert [r["job_id"] for r in doc["active"]] == ["live"]
    assert {r["job_id"] for r in doc["attention"]} == {
        "broken",
        "held",
        "stopped",
        "dead",
        "rotten",
    }


# --- list ------------------------------------------------------------------------------------------


def test_list_json_rows_and_filters(zoo: Zoo, home: Path, mzt: Mzt) -> None:
    everything = mzt("list", "--all", "-j").json()
    assert everything["schema"] == "mzt.list/1"
    rows = everything["jobs"]
    for row in rows:
        assert LIST_FIELDS <= row.keys() and set(row["progress"]) == {"completed", "total"}
    stamps = [r["updated_at"] for r in rows]
    assert stamps == sorted(stamps, reverse=True)  # newest first
    by_id = {r["job_id"]: r for r in rows}
    for job, (status, alive, _) in EXPECTED.items():
        assert (by_id[job]["status"], by_id[job]["alive"]) == (status, alive)
    running = {j: (r["running_sheets"], r["interrupted_sheets"]) for j, r in by_id.items()}
    assert running["live"] == ([2], []) and running["dead"] == ([], [1])
    default = {r["job_id"] for r in mzt("list", "-j").json()["jobs"]}
    assert default == {"broken", "held", "live", "dead", "rotten"}  # not completed/cancelled
    paused = mzt("list", "--status", "paused", "-j").json()["jobs"]
    assert {r["job_id"] for r in paused} == {"held", "dead"}
    text = mzt("list", "--status", "running")
    lines = text.out.splitlines()
    assert lines[0].split() == ["ID", "STATUS", "ALIVE", "PROGRESS", "WORKSPACE", "UPDATED"]
    assert lines[1].split()[:4] == ["live", "running", "live", "1/3"]
    assert mzt("list", "--status", "bogus").code == 2


# --- watch ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("job", ["done", "broken", "held", "stopped", "dead"])
def test_watch_of_a_job_that_is_not_running_exits_at_once(
    zoo: Zoo, home: Path, mzt: Mzt, job: str
) -> None:
    status, _, code = EXPECTED[job]
    as_json = mzt("watch", job, "-w", zoo.ws(job), "--json")
    assert as_json.code == code
    lines = [json.loads(line) for line in as_json.out.splitlines()]
    assert len(lines) == 1 and WATCH_FIELDS <= lines[0].keys()
    assert lines[0]["schema"] == "mzt.watch/1" and lines[0]["status"] == status
    assert lines[0]["final"] is True and lines[0]["exit_code"] == code
    text = mzt("watch", job, "-w", zoo.ws(job))
    assert text.code == code and f"finished (exit {code})" in text.out


def test_watch_json_beside_a_real_run_sees_every_count(tmp_path: Path) -> None:
    project = Project(tmp_path, tmp_path / "home")
    project.home.mkdir()
    data = score(
        "ten",
        "{% if sheet_num == 1 %}sleep 1{% else %}sleep 0.15{% endif %}",
        n=10,
    )
    run = project.start("run", project.score(data, "ten.yaml"), "-q")
    ws = tmp_path / "ws-ten"
    wait_for(lambda: (ws / ".marianne" / "ten.json").exists())
    watch = project.start("watch", "ten", "-w", ws, "--json")
    try:
        run.communicate(timeout=60)
        run_ended = time.monotonic()
        out, err = watch.communicate(timeout=30)
        watch_ended = time.monotonic()
    finally:
        for proc in (run, watch):
            if proc.poll() is None:
                kill_tree(proc)
    assert run.returncode == 0
    assert watch.returncode == run.returncode, err
    assert watch_ended - run_ended < 2.0  # right after the run, not on some slow timer
    lines = [json.loads(line) for line in out.splitlines()]
    for line in lines:
        assert WATCH_FIELDS <= line.keys() and line["schema"] == "mzt.watch/1"
    counts: list[int] = []
    for line in lines:
        if not counts or counts[-1] != line["progress"]["completed"]:
            counts.append(line["progress"]["completed"])
    assert counts == list(range(11))
    assert lines[-1]["final"] is True and lines[-1]["status"] == "completed"
    assert all(line["progress"]["total"] == 10 for line in lines)


def test_watch_of_a_failing_run_exits_1_after_it(tmp_path: Path) -> None:
    project = Project(tmp_path, tmp_path / "home")
    project.home.mkdir()
    template = "sleep 0.5; {% if sheet_num == 3 %}exit 7{% endif %}"
    run = project.start("run", project.score(score("bad", template, n=3), "bad.yaml"), "-q")
    ws = tmp_path / "ws-bad"
    wait_for(lambda: (ws / ".marianne" / "bad.json").exists())
    watch = project.start("watch", "bad", "-w", ws)
    run.communicate(timeout=60)
    out, err = watch.communicate(timeout=30)
    assert run.returncode == watch.returncode == 1, err
    lines = out.splitlines()
    assert "running" in lines[0] and "finished (exit 1)" in lines[-1]


# --- reading never disturbs writing ------------------------------------------------------------


@pytest.mark.timeout(600)
def test_status_and_list_many_times_a_second_during_a_run(tmp_path: Path) -> None:
    project = Project(tmp_path, tmp_path / "home")
    project.home.mkdir()
    sheets = 1000 if FULL else 200
    data = score("busy", "echo {{ sheet_num }} > {{ workspace }}/out-{{ sheet_num }}.txt", sheets)
    data["validations"] = [{"type": "file_exists", "path": "{workspace}/out-{sheet_num}.txt"}]
    # Quiet: nobody reads the run's output until it ends, and a full pipe would stall it.
    run = project.start("run", project.score(data, "busy.yaml"), "-q")
    ws = tmp_path / "ws-busy"
    wait_for(lambda: (ws / ".marianne" / "busy.json").exists())
    failures: list[str] = []
    calls = 0
    lock = threading.Lock()

    def read(args: list[object]) -> None:
        nonlocal calls
        result = project.mzt(*args, timeout=60)
        with lock:
            calls += 1
            if result.returncode != 0:
                failures.append(f"{args}: {result.returncode} {result.stderr}")
                return
            try:
                doc = json.loads(result.stdout)
            except ValueError as exc:
                failures.append(f"{args}: {exc}: {result.stdout[:200]}")
                return
            if args[0] == "status":
                assert doc["status"] in ("running", "completed"), doc["status"]
                assert doc["progress"]["total"] == sheets

    budget = None if FULL else 5.0  # seconds of reading (CI); the full variant reads throughout
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=IN_FLIGHT) as pool:
        futures: list[Future[None]] = []
        tick = 0
        while run.poll() is None and (budget is None or time.monotonic() - started < budget):
            # 20 calls a second, as long as the machine keeps up: each call is a whole
            # interpreter, and a small CI machine must not be buried under a backlog.
            if sum(not f.done() for f in futures) < IN_FLIGHT:
                args: list[object] = (
                    ["status", "busy", "-w", ws, "-j"] if tick % 2 == 0 else ["list", "--all", "-j"]
                )
                futures.append(pool.submit(read, args))
            tick += 1
            time.sleep(0.05)
        for future in futures:
            future.result()
    _, err = run.communicate(timeout=300)
    assert run.returncode == 0, err
    assert failures == []
    assert calls >= (10 if budget else 20), calls
    state = json.loads((ws / ".marianne" / "busy.json").read_text())
    assert state["status"] == "completed"
    assert all(
        s["status"] == "completed" and s["attempt_count"] == 1 for s in state["sheets"].values()
    )
    assert len(state["sheets"]) == sheets


def test_a_watch_frame_names_the_slurm_job_of_each_running_sheet(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from datetime import UTC, datetime

    from mzt.cli import observe_cmd
    from mzt.support import records
    from mzt.views.slurm_jobs import SlurmJob
    from mzt.views.watch import WatchFrame

    monkeypatch.setenv("NO_COLOR", "1")
    pending = SlurmJob(2, 1, "813")._replace(state="PENDING")
    frame = WatchFrame(
        ts=datetime.now(UTC),
        job_id="j",
        job_name="j",
        status="running",
        alive=True,
        pid=1,
        completed=1,
        total=3,
        failed=0,
        running_sheets=(2,),
        updated_at=None,
        error_message=None,
        event=None,
        seq=4,
        slurm_jobs=(pending,),
    )
    assert "sheet 2: Slurm job 813 PENDING" in observe_cmd._frame_line(frame)
    assert frame.to_json()["slurm_attempts"] == [
        {"sheet_num": 2, "attempt": 1, "job_id": "813", "state": "PENDING", "node": None}
    ]
    moved = records.replace(frame, slurm_jobs=(SlurmJob(2, 1, "813", "RUNNING", "node07"),))
    assert moved.key != frame.key  # the job starting to run is a frame worth printing
    assert "sheet 2: Slurm job 813 RUNNING on node07" in observe_cmd._frame_line(moved)
