"""Wall time of the read commands, and how soon `mzt watch` reports a change.

Times `mzt --version`, `mzt status` and `mzt list` against `python -c pass` on this
machine (ratios of medians), for:

* a 10-sheet job run for real (`cli` instrument, `true`);
* a 10,000-sheet job: a real 10-sheet run's sheet state copied into 10,000 sheets in 100
  movements and saved through the state store (``--real-10k`` runs a real 10,000-sheet
  score of `true` instead: minutes);
* 1,000 registered jobs in 1,000 workspaces (copies of the 10-sheet job).

Then the watch delay: this process holds a job's run lock and writes sheet transitions
through the store the way a run does, while `mzt watch JOB --json` runs beside it; the
delay is from the write returning to the matching JSON line arriving (p50, p95), with
file events and with polling (MZT_WATCH_POLL=1).

Targets: `--version` within 3x the bare interpreter; `status` of the 10,000-sheet job
under 0.3 s; watch delay p95 under 100 ms (file events).

Usage: python bench/observe.py [--repeat 11] [--samples 200] [--real-10k]
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import yaml


def mzt_command() -> list[str]:
    script = Path(sys.executable).with_name("mzt")
    return [str(script)] if script.exists() else [sys.executable, "-m", "mzt"]


def environment(home: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "MZT_HOME": str(home), "NO_COLOR": "1", **extra}


def timed(argv: list[str], env: dict[str, str], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = subprocess.run(argv, env=env, capture_output=True, check=False)
        times.append(time.perf_counter() - started)
        if result.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed: {result.stderr.decode()}")
    return times


def run_score(root: Path, home: Path, name: str, sheets: int) -> Path:
    score = {
        "name": name,
        "workspace": f"./ws-{name}",
        "instrument": "cli",
        "pause_between_sheets_seconds": 0,
        "sheet": {"size": 1, "total_items": sheets},
        "prompt": {"template": "true"},
    }
    path = root / f"{name}.yaml"
    path.write_text(yaml.safe_dump(score, sort_keys=False))
    subprocess.run([*mzt_command(), "run", str(path), "-q"], env=environment(home), check=True)
    return root / f"ws-{name}"


def copied_big_job(root: Path, home: Path, template_ws: Path, sheets: int) -> Path:
    """A ``sheets``-sheet completed job whose sheets copy a real run's sheet 1."""
    os.environ["MZT_HOME"] = str(home)
    from mzt.state import CheckpointState, JobStatus, JsonStateBackend, SheetState, registry

    template = JsonStateBackend(template_ws).load("ten")
    assert template is not None
    model = template.sheets[1].model_dump(mode="json")
    state = CheckpointState(job_id="big", job_name="big", total_sheets=sheets)
    state.mark_job_running(pid=os.getpid())
    for num in range(1, sheets + 1):
        state.sheets[num] = SheetState.model_validate(
            {**model, "sheet_num": num, "movement": (num - 1) // (sheets // 100 or 1) + 1}
        )
    state.total_movements = 100
    state.instruments_used = ["cli"]
    state.status = JobStatus.COMPLETED
    ws = root / "ws-big"
    JsonStateBackend(ws).save(state)
    registry.register("big", ws)
    return ws


def many_jobs(root: Path, home: Path, template_ws: Path, count: int) -> None:
    """``count`` registered jobs, each a copy of the 10-sheet job in its own workspace."""
    os.environ["MZT_HOME"] = str(home)
    from mzt.state import registry

    raw = (template_ws / ".marianne" / "ten.json").read_text()
    document = json.loads(raw)
    for i in range(count):
        job = f"job-{i:04d}"
        ws = root / "many" / f"ws-{i:04d}"
        (ws / ".marianne").mkdir(parents=True)
        doc = {**document, "job_id": job, "job_name": job, "journal_offset": 0}
        if i % 10 == 0:
            doc["status"] = "failed"  # something for the default listing to show
        # json.dumps keeps the key order, so "sheets" stays last as the store writes it.
        (ws / ".marianne" / f"{job}.json").write_text(json.dumps(doc, separators=(",", ":")))
        registry.register(job, ws)


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def watch_delays(root: Path, home: Path, samples: int, *, poll: bool) -> dict[str, Any]:
    """Delay from a transition being written to `mzt watch --json` printing it."""
    os.environ["MZT_HOME"] = str(home)
    from mzt.state import CheckpointState, JsonStateBackend, registry

    job = "watched-poll" if poll else "watched"
    ws = root / f"ws-{job}"
    store = JsonStateBackend(ws)
    lock = store.run_lock(job).acquire()  # the watch must see a live run
    state = CheckpointState(job_id=job, job_name=job, total_sheets=samples)
    state.mark_job_running()
    store.save(state)
    registry.register(job, ws)
    extra = {"MZT_WATCH_POLL": "1"} if poll else {}
    watch = subprocess.Popen(
        [*mzt_command(), "watch", job, "-w", str(ws), "--json"],
        env=environment(home, **extra),
        stdout=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[tuple[float, dict[str, Any]]] = queue.Queue()

    def reader() -> None:
        assert watch.stdout is not None
        for line in watch.stdout:
            lines.put((time.monotonic(), json.loads(line)))

    threading.Thread(target=reader, daemon=True).start()
    lines.get(timeout=10)  # the first frame: the watch is up
    delays = []
    for num in range(1, samples + 1):
        state.mark_sheet_started(num)
        store.record_sheet(state, num)
        state.mark_sheet_completed(num)
        if num < samples:
            store.record_sheet(state, num)
        else:
            state.mark_job_completed()
            store.save(state)
        written = time.monotonic()
        while True:
            arrived, frame = lines.get(timeout=10)
            if frame["progress"]["completed"] >= num:
                delays.append(arrived - written)
                break
        time.sleep(0.01 + (num % 7) * 0.003)  # irregular spacing, like real sheets
    lock.release()
    code = watch.wait(timeout=10)
    return {
        "mode": "polling" if poll else "file events",
        "samples": len(delays),
        "p50_ms": percentile(delays, 50) * 1000,
        "p95_ms": percentile(delays, 95) * 1000,
        "max_ms": max(delays) * 1000,
        "exit_code": code,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=11)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--real-10k", action="store_true", help="run a real 10,000-sheet score")
    args = parser.parse_args()
    mzt = mzt_command()
    root = Path(tempfile.mkdtemp(prefix="mzt-bench-observe-"))
    try:
        homes = {name: root / f"home-{name}" for name in ("ten", "big", "many", "watch")}
        for home in homes.values():
            home.mkdir()
        print("preparing jobs…", file=sys.stderr)
        ten = run_score(root, homes["ten"], "ten", 10)
        if args.real_10k:
            big = run_score(root, homes["big"], "big", 10_000)
        else:
            big = copied_big_job(root, homes["big"], ten, 10_000)
        many_jobs(root, homes["many"], ten, 1_000)
        size = (big / ".marianne" / "big.json").stat().st_size

        cases = [
            ("python -c pass", [sys.executable, "-c", "pass"], "ten"),
            ("mzt --version", [*mzt, "--version"], "ten"),
            ("status, 10 sheets", [*mzt, "status", "ten", "-w", str(ten)], "ten"),
            ("status --json, 10 sheets", [*mzt, "status", "ten", "-w", str(ten), "-j"], "ten"),
            ("list --all, 1 job", [*mzt, "list", "--all"], "ten"),
            ("status, 10,000 sheets", [*mzt, "status", "big", "-w", str(big)], "big"),
            ("status --json, 10,000 sheets", [*mzt, "status", "big", "-w", str(big), "-j"], "big"),
            ("list --all, the 10,000-sheet job", [*mzt, "list", "--all"], "big"),
            ("list, 1,000 jobs", [*mzt, "list"], "many"),
            ("list --all --json, 1,000 jobs", [*mzt, "list", "--all", "-j"], "many"),
            ("status (overview), 1,000 jobs", [*mzt, "status"], "many"),
        ]
        results = []
        for label, argv, home in cases:
            times = timed(argv, environment(homes[home]), args.repeat)
            results.append((label, statistics.median(times), min(times)))
        base = results[0][1]
        print(f"\nmachine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
        print(f"10,000-sheet checkpoint: {size / 1e6:.1f} MB; median of {args.repeat} runs\n")
        print(f"{'command':36} {'median':>9} {'min':>9} {'x python':>9}")
        for label, median, fastest in results:
            print(
                f"{label:36} {median * 1000:7.1f}ms {fastest * 1000:7.1f}ms {median / base:8.1f}x"
            )
        print()
        for poll in (False, True):
            report = watch_delays(root, homes["watch"], args.samples, poll=poll)
            print(
                f"watch delay ({report['mode']}): p50 {report['p50_ms']:.1f} ms, "
                f"p95 {report['p95_ms']:.1f} ms, max {report['max_ms']:.1f} ms "
                f"over {report['samples']} changes; watch exit {report['exit_code']}"
            )
        version = next(r for r in results if r[0] == "mzt --version")[1]
        status_big = next(r for r in results if r[0] == "status, 10,000 sheets")[1]
        print(
            f"\ntargets: --version {version / base:.1f}x python (want <= 3x); "
            f"status of 10,000 sheets {status_big:.3f} s (want < 0.3 s)"
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
