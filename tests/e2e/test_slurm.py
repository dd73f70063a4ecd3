"""`--executor slurm` against a real one-node Slurm cluster (tests/slurm/cluster.sh).

Every attempt is one Slurm job that runs `mzt slurm-attempt` on the node; the conductor
journals each job id before it waits for it. `.ci/run` starts the cluster; elsewhere these
tests are skipped, saying how to start one. ``MZT_SLURM_KILLS`` sets how many times the
kill test kills the conductor (default 10).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import Project, wait_for

CLUSTER_DIR = Path(os.environ.get("MZT_SLURM_DIR", "/tmp/mzt-slurm"))
CONF = Path(os.environ.get("SLURM_CONF") or CLUSTER_DIR / "slurm.conf")
KILLS = int(os.environ.get("MZT_SLURM_KILLS", "10"))


def _why_not() -> str | None:
    if shutil.which("sbatch") is None:
        return "Slurm is not installed here (tests/slurm/cluster.sh install, as root)"
    if not CONF.exists():
        return f"no Slurm cluster at {CONF}: start one with tests/slurm/cluster.sh start"
    done = subprocess.run(
        ["sinfo", "-h", "-o", "%T"],
        env={**os.environ, "SLURM_CONF": str(CONF)},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if not re.search(r"^(idle|mixed|allocated)", done.stdout, re.M):
        return f"the Slurm cluster at {CONF} does not answer: tests/slurm/cluster.sh start"
    return None


needs_cluster = pytest.mark.skipif(_why_not() is not None, reason=str(_why_not()))


def _env(project: Project, **extra: str) -> dict[str, str]:
    return {"SLURM_CONF": str(CONF), "MZT_EXECUTOR": "slurm", **extra}


def _slurm(*args: str) -> str:
    done = subprocess.run(
        list(args),
        env={**os.environ, "SLURM_CONF": str(CONF)},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return done.stdout


def _jobs_alive(comment: str) -> list[str]:
    """Pending or running Slurm jobs carrying ``comment``."""
    lines = _slurm("squeue", "-h", "--me", "-o", "%i %T %k").splitlines()
    return [line.split()[0] for line in lines if line.split()[2:] == [comment]]


def _comment(project: Project, job: str) -> str:
    from mzt.execute.slurm_cli import comment_for

    return comment_for(job, project.workspace.resolve())


def _reports(project: Project) -> list[dict[str, object]]:
    found = sorted((project.workspace / ".marianne" / "slurm" / "job").glob("*/report.json"))
    return [json.loads(path.read_text()) for path in found]


def _fanned(project: Project, template: str, *, sheets: int = 20, **extra: object) -> Path:
    return project.score(
        {
            "name": "job",
            "instrument": "cli",
            # 1 → fan-out of sheets-2 → 1: a first sheet, the voices, a last one.
            "sheet": {"size": 1, "total_items": 3, "fan_out": {2: sheets - 2}},
            "parallel": {"enabled": True, "max_concurrent": 4},
            "prompt": {"template": template},
            **extra,
        }
    )


@needs_cluster
def test_a_fanned_out_score_completes_with_every_attempt_a_slurm_job(project: Project) -> None:
    score = _fanned(
        project,
        'echo "{{ sheet_num }} $SLURM_JOB_ID" > "{{ workspace }}/out-{{ sheet_num }}.txt"',
        validations=[{"type": "file_exists", "path": "{workspace}/out-{sheet_num}.txt"}],
    )
    done = project.mzt("run", "-q", score, env=_env(project))
    assert done.returncode == 0, done.stderr
    state = json.loads(project.mzt("status", "job", "-j", env=_env(project)).stdout)
    assert state["status"] == "completed" and state["progress"]["completed"] == 20
    reports = _reports(project)
    assert len(reports) == 20
    ids = [str(report["where"]["slurm_job_id"]) for report in reports]  # type: ignore[index]
    assert all(i.isdigit() for i in ids) and len(set(ids)) == 20
    written = {
        int(line.split()[0]): line.split()[1]
        for path in project.workspace.glob("out-*.txt")
        for line in [path.read_text()]
    }
    assert sorted(written) == list(range(1, 21)) and set(written.values()) == set(ids)
    assert not _jobs_alive(_comment(project, "job"))
    # `mzt clear` takes the attempts' folders with the rest of the job.
    attempts = project.workspace / ".marianne" / "slurm" / "job"
    assert attempts.is_dir()
    cleared = project.mzt("clear", "--job", "job", "-y", env=_env(project))
    assert cleared.returncode == 0, cleared.stderr
    assert not attempts.exists()


def test_slurm_missing_is_one_paragraph_and_exit_2(project: Project) -> None:
    score = project.score(
        {"name": "job", "instrument": "cli", "sheet": {"size": 1, "total_items": 1},
         "prompt": {"template": "true"}}
    )  # fmt: skip
    bare = project.root / "bin"
    bare.mkdir()
    (bare / "bash").symlink_to(shutil.which("bash") or "/bin/bash")
    done = project.mzt("run", "--executor", "slurm", score, env={"PATH": str(bare)})
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "sbatch" in done.stderr
    assert not project.workspace.exists(), "nothing is made before the refusal"


@contextlib.contextmanager
def _running(project: Project, score: Path) -> Iterator[subprocess.Popen[str]]:
    """A run of ``score`` once its first Slurm job is queued; killed if still there after."""
    run = project.start("run", "-q", score, env=_env(project))
    try:
        wait_for(lambda: bool(_jobs_alive(_comment(project, "job"))), timeout=60, step=0.1)
        yield run
    finally:
        if run.poll() is None:
            run.kill()
        run.communicate()


@needs_cluster
def test_cancel_leaves_no_slurm_job_behind(project: Project) -> None:
    comment = _comment(project, "job")
    with _running(project, _fanned(project, "sleep 120", sheets=3)) as run:
        cancelled = project.mzt("cancel", "job", "-w", project.workspace, env=_env(project))
        assert cancelled.returncode == 0, cancelled.stderr
        run.communicate(timeout=120)
        assert run.returncode == 4
    wait_for(lambda: not _jobs_alive(comment), timeout=30, step=0.2)


@needs_cluster
def test_sigterm_of_the_conductor_cancels_its_jobs_and_pauses(project: Project) -> None:
    comment = _comment(project, "job")
    with _running(project, _fanned(project, "sleep 120", sheets=3)) as run:
        run.send_signal(signal.SIGTERM)
        run.communicate(timeout=120)
    assert run.returncode == 128 + signal.SIGTERM
    assert not _jobs_alive(comment)
    state = json.loads(project.mzt("status", "job", "-j", env=_env(project)).stdout)
    assert state["status"] == "paused"


@needs_cluster
def test_pause_submits_nothing_new_and_lets_the_running_job_finish(project: Project) -> None:
    ws = project.workspace.resolve()
    score = _fanned(project, f"sleep 2; touch {ws}/ran-{{{{ sheet_num }}}}", sheets=3)
    with _running(project, score) as run:
        (project.workspace / ".marianne-pause-job").touch()
        run.communicate(timeout=120)
    assert run.returncode == 3
    assert (ws / "ran-1").exists() and not (ws / "ran-2").exists()
    sheets = project.sheets("job")
    assert sheets[1]["status"] == "completed" and sheets[2]["status"] == "pending"


@needs_cluster
def test_cancel_of_a_killed_conductor_cancels_its_slurm_jobs(project: Project) -> None:
    score = _fanned(project, "sleep 120", sheets=3)
    run = project.start("run", "-q", score, env=_env(project))
    comment = _comment(project, "job")
    try:
        wait_for(lambda: bool(_jobs_alive(comment)), timeout=60, step=0.2)
        wait_for(lambda: bool(_running_in_status(project)), timeout=60, step=0.2)
        [shown] = _running_in_status(project)  # the first sheet: the others wait for it
        assert shown["sheet_num"] == 1 and shown["node"] == "localhost"
        assert str(shown["job_id"]) in _jobs_alive(comment)
        diagnosis = project.mzt("diagnose", "job", "-w", project.workspace, env=_env(project))
        assert "slurm       sheet" in diagnosis.stdout, diagnosis.stdout
        _shown_by_top_and_watch(project, str(shown["job_id"]))
    finally:
        run.send_signal(signal.SIGKILL)
        run.communicate()
    assert _jobs_alive(comment), "kill -9 of the conductor alone leaves its jobs running"
    status = json.loads(project.mzt("status", "job", "-j", env=_env(project)).stdout)
    left = status["leftover_attempts"]
    assert left and all(str(item["job_id"]).isdigit() for item in left), status
    assert set(map(str, (item["job_id"] for item in left))) <= set(_jobs_alive(comment))
    cancelled = project.mzt("cancel", "job", "-w", project.workspace, env=_env(project))
    assert cancelled.returncode == 0, cancelled.stderr
    assert not _jobs_alive(comment)


@needs_cluster
def test_a_new_run_re_attaches_to_the_jobs_of_a_killed_conductor(project: Project) -> None:
    ws = project.workspace.resolve()
    score = project.score(
        {
            "name": "job",
            "instrument": "cli",
            "sheet": {"size": 1, "total_items": 1, "fan_out": {1: 3}},
            "parallel": {"enabled": True, "max_concurrent": 3},
            "prompt": {"template": f"sleep 6; echo $SLURM_JOB_ID > {ws}/out-{{{{ sheet_num }}}}"},
            "validations": [{"type": "file_exists", "path": "{workspace}/out-{sheet_num}"}],
        }
    )
    comment = _comment(project, "job")
    run = project.start("run", "-q", score, env=_env(project))
    try:
        wait_for(lambda: len(_jobs_alive(comment)) == 3, timeout=60, step=0.1)
        submitted = set(_jobs_alive(comment))
    finally:
        run.send_signal(signal.SIGKILL)
        run.communicate()
    from mzt.machine.slot_use import read_limit

    again_run = project.start("run", score, env=_env(project))
    try:
        # The re-attached attempts hold machine slots as launched ones do.
        wait_for(lambda: read_limit("sheets", 10, home=project.home).held == 3, timeout=30)
    finally:
        out, err = again_run.communicate(timeout=120)
    assert again_run.returncode == 0, err
    assert out.count("goes on as Slurm job") == 3, out
    assert "outside the limits" not in out, out
    assert read_limit("sheets", 10, home=project.home).held == 0
    # No sheet was submitted again: each ran as the job the killed conductor submitted.
    ran = {(ws / f"out-{n}").read_text().strip() for n in (1, 2, 3)}
    assert ran == submitted
    listed = _slurm("squeue", "-h", "--me", "--states=all", "-o", "%i %k").splitlines()
    assert {line.split()[0] for line in listed if line.split()[1:] == [comment]} == submitted


def _shown_by_top_and_watch(project: Project, job_id: str) -> None:
    """`mzt top` and `mzt watch` name the running sheet's Slurm job, its state and node."""
    top = project.mzt("top", "--once", "--json", env=_env(project))
    assert top.returncode == 0, top.stderr
    [row] = [job for job in json.loads(top.stdout)["jobs"] if job["job_id"] == "job"]
    [running] = row["running"]
    assert running["slurm"] == {"job_id": job_id, "state": "RUNNING", "node": "localhost"}
    text = project.mzt("top", "--once", env=_env(project))
    assert f"Slurm job {job_id} RUNNING on localhost" in text.stdout, text.stdout
    watch = project.start("watch", "job", "--json", env=_env(project))
    try:
        assert watch.stdout is not None
        first = json.loads(watch.stdout.readline())
    finally:
        watch.kill()
        watch.communicate()
    assert first["slurm_attempts"] == [
        {"sheet_num": 1, "attempt": 1, "job_id": job_id, "state": "RUNNING", "node": "localhost"}
    ]


def _running_in_status(project: Project) -> list[dict[str, object]]:
    """The live run's Slurm attempts as `mzt status -j` shows them, once they run."""
    done = project.mzt("status", "job", "-j", env=_env(project))
    if done.returncode != 0:
        return []
    attempts = json.loads(done.stdout).get("slurm_attempts") or []
    return [a for a in attempts if a.get("state") == "RUNNING" and a.get("node")]


def _overlap_script(ws: str) -> str:
    # A copy looks for a live earlier copy of its sheet before it does anything (all jobs
    # run on this one node, so a pid says it), and logs its start and end.
    n = "{{ sheet_num }}"
    return (
        f"P={ws}/pid-{n}; L={ws}/log\n"
        f'if [ -f "$P" ] && kill -0 "$(cat "$P")" 2>/dev/null; then\n'
        f'  S=$(cut -d" " -f3 "/proc/$(cat "$P")/stat" 2>/dev/null)\n'
        f'  [ -n "$S" ] && [ "$S" != Z ] && echo "OVERLAP {n}" >> "$L"\n'
        "fi\n"
        'echo $$ > "$P"\n'
        f'echo "start {n} $SLURM_JOB_ID" >> "$L"\n'
        "sleep {{ [0.3, 0.8, 1.2, 0.5][sheet_num % 4] }}\n"
        f'echo "done {n} $SLURM_JOB_ID" >> "$L"\n'
        f"echo ok > {ws}/out-{n}.txt\n"
    )


@needs_cluster
def test_kill_9_of_the_conductor_never_leaves_two_copies_of_a_sheet(project: Project) -> None:
    ws = str(project.workspace.resolve())
    score = _fanned(
        project,
        _overlap_script(ws),
        sheets=10,
        validations=[
            {"type": "content_contains", "path": "{workspace}/out-{sheet_num}.txt", "pattern": "ok"}
        ],
    )
    rng = random.Random(7)
    log = project.workspace / "log"
    for _ in range(KILLS):
        run = project.start("run", "-q", score, env=_env(project))
        time.sleep(rng.uniform(0.5, 3.0))
        run.send_signal(signal.SIGKILL)
        run.communicate()
    done = project.mzt("run", "-q", score, env=_env(project), timeout=300)
    assert done.returncode == 0, done.stderr
    lines = log.read_text().splitlines()
    assert not [line for line in lines if line.startswith("OVERLAP")], lines
    starts = [line.split() for line in lines if line.startswith("start")]
    submitted = _slurm("squeue", "-h", "--me", "--states=all", "-o", "%i %j %k").splitlines()
    ours = [line.split()[0] for line in submitted if line.split()[2:] == [_comment(project, "job")]]
    # Every copy that ran was a job of ours, and none of them is left running.
    assert {job for _, _, job in starts} <= set(ours)
    assert not _jobs_alive(_comment(project, "job"))


@needs_cluster
def test_a_slurm_time_limit_is_a_timeout_and_is_retried(project: Project) -> None:
    # Slurm counts time limits in minutes: sheet 1's first attempt runs past its own limit
    # of one (the score's, over the machine's five), the retry ends. Sheet 2 gets the
    # machine's limit and the score's extra sbatch argument.
    (project.home / "config.yaml").write_text("slurm:\n  time_limit: '5'\n")
    marker = project.workspace.resolve() / "tried"
    score = project.score(
        {
            "name": "job",
            "instrument": "cli",
            "sheet": {"size": 1, "total_items": 2},
            "retry": {"max_retries": 2, "base_delay_seconds": 0.1, "jitter": False},
            "slurm": {"extra_args": ["--nice=7"], "sheets": {1: {"time_limit": "1"}}},
            "prompt": {
                "template": "{% if sheet_num == 1 %}"
                f'mkdir -p "{marker.parent}"\n'
                f'if [ ! -f "{marker}" ]; then touch "{marker}"; sleep 600; fi\n'
                "{% else %}true{% endif %}"
            },
        }
    )
    done = project.mzt("run", "-q", score, env=_env(project), timeout=400)
    assert done.returncode == 0, done.stderr
    sheet = project.sheets("job")[1]
    assert sheet["attempt_count"] == 2
    errors = json.loads(project.mzt("errors", "job", "-j", env=_env(project)).stdout)
    codes = [entry["error_code"] for entry in errors["errors"]]
    assert codes[:1] == ["E001"], errors
    limits = {}
    for report in _reports(project):
        shown = _slurm("scontrol", "show", "job", str(report["where"]["slurm_job_id"]))  # type: ignore[index]
        name = re.search(r"JobName=(\S+)", shown)
        limit = re.search(r"TimeLimit=(\S+)", shown)
        nice = re.search(r"Nice=(-?\d+)", shown)
        assert name and limit and nice, shown
        limits[name.group(1)] = (limit.group(1), nice.group(1))
    assert limits == {"mzt-job-s1": ("00:01:00", "7"), "mzt-job-s2": ("00:05:00", "7")}
