"""Wall time of the read commands (status, list), and how soon `mzt watch` reports a change.

Every read command runs as a whole process, alternated round by round with
``python -c pass`` on the interpreter the ``mzt`` script uses; printed per command:
both medians and the median of the per-round ratios with their min–max. The jobs read:

* a 10-sheet job run for real (``cli`` instrument, ``true``);
* a real, completed 10,000-sheet job (``--big-sheets``), built once by running a score of
  ``true`` sheets and cached under the temp folder, shared with ``bench/startup.py``
  (which times the text ``status`` of that job and ``--version``; they are not repeated
  here);
* 1,000 registered jobs in 1,000 workspaces (``--jobs``): copies of the 10-sheet job's
  checkpoint, registered through mzt's registry module (setup only, not timed).

Then the watch delay, from real runs: ``mzt run`` of a score whose sheets sleep 10–70 ms
(the first sleeps long enough for the watch to start), with ``mzt watch JOB --json``
beside it; a sheet's delay runs from the ``completed_at`` its run recorded to the JSON
line whose completed count first includes it arriving here (the same clock), so it
includes the run saving the transition. Rounds alternate file events and polling
(``MZT_WATCH_POLL=1``); printed: p50, p95 and max per mode, median with min–max over the
rounds. Target: p95 under 100 ms with file events.

Usage: python bench/observe.py [--rounds 7] [--jobs 1000] [--big-sheets 10000]
       [--watch-rounds 3] [--samples 60]
"""

from __future__ import annotations

import argparse
import json
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from _shared import (
    big_job,
    compare,
    environment,
    machine,
    mzt_command,
    mzt_python,
    python_pass,
    run,
    spread,
    true_score,
    write_score,
)


def run_score(root: Path, home: Path, name: str, sheets: int) -> Path:
    score = true_score(root / f"{name}.yaml", name, sheets)
    run([*mzt_command(), "run", "-q", str(score)], env=environment(home), cwd=root)
    return root / f"ws-{name}"


REGISTER = """
import sys
from pathlib import Path
from mzt.state import registry
for line in sys.stdin:
    job, _, workspace = line.rstrip("\\n").partition(" ")
    registry.register(job, Path(workspace))
"""


def many_jobs(root: Path, home: Path, template_ws: Path, count: int) -> None:
    """``count`` registered jobs, each a copy of the 10-sheet job in its own workspace.

    The copies are registered by mzt's registry module, run on mzt's own interpreter.
    """
    raw = (template_ws / ".marianne" / "ten.json").read_text()
    document = json.loads(raw)
    listing = root / "many.txt"
    with listing.open("w") as out:
        for i in range(count):
            job = f"job-{i:04d}"
            ws = root / "many" / f"ws-{i:04d}"
            (ws / ".marianne").mkdir(parents=True)
            doc = {**document, "job_id": job, "job_name": job, "journal_offset": 0}
            if i % 10 == 0:
                doc["status"] = "failed"  # something for the default listing to show
            # json.dumps keeps the key order, so "sheets" stays last as the store writes it.
            text = json.dumps(doc, separators=(",", ":"))
            (ws / ".marianne" / f"{job}.json").write_text(text)
            out.write(f"{job} {ws}\n")
    run([mzt_python(), "-c", REGISTER], env=environment(home), stdin=listing)


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def moment(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def watch_delays(root: Path, label: str, samples: int, *, poll: bool) -> list[float]:
    """Seconds from each sheet's recorded completion to `mzt watch --json` showing it."""
    job = f"watched-{label}"
    home, ws = root / f"home-{label}", root / f"ws-{label}"
    score = root / f"{job}.yaml"
    template = "{% if sheet_num == 1 %}sleep 2{% else %}sleep 0.0{{ sheet_num % 7 + 1 }}{% endif %}"
    write_score(
        score,
        {
            "name": job,
            "workspace": str(ws),
            "instrument": "cli",
            "pause_between_sheets_seconds": 0,
            "sheet": {"size": 1, "total_items": samples + 1},
            "prompt": {"template": template},
        },
    )
    env = environment(home)
    runner = subprocess.Popen(
        [*mzt_command(), "run", "-q", str(score)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while not any(ws.glob(".marianne/*.json")) and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.2)  # the run holds its lock and sheet 1 is sleeping
    extra = {"MZT_WATCH_POLL": "1"} if poll else {}
    watch = subprocess.Popen(
        [*mzt_command(), "watch", job, "-w", str(ws), "--json"],
        env={**env, **extra},
        stdout=subprocess.PIPE,
        text=True,
    )
    arrivals: queue.Queue[tuple[float, dict[str, Any]]] = queue.Queue()

    def reader() -> None:
        assert watch.stdout is not None
        for line in watch.stdout:
            arrivals.put((time.time(), json.loads(line)))

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    runner.wait(timeout=600)
    watch.wait(timeout=30)
    thread.join(timeout=5)
    # The sheets run one after another, so the k-th completion is sheet k.
    first_seen: dict[int, float] = {}
    seen = -1
    while not arrivals.empty():
        arrived, frame = arrivals.get()
        completed = int(frame.get("progress", {}).get("completed", 0))
        if seen < 0:  # what the first frame already shows finished before the watch began
            seen = completed
        for num in range(seen + 1, completed + 1):
            first_seen[num] = arrived
        seen = max(seen, completed)
    checkpoint = json.loads((ws / ".marianne" / f"{job}.json").read_text())
    delays = []
    for key, sheet in checkpoint["sheets"].items():
        num = int(key)
        if num in first_seen and sheet.get("completed_at"):
            delays.append(first_seen[num] - moment(sheet["completed_at"]))
    shutil.rmtree(ws, ignore_errors=True)
    return delays


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--jobs", type=int, default=1_000, help="registered jobs for `list`")
    parser.add_argument("--big-sheets", type=int, default=10_000)
    parser.add_argument("--rebuild", action="store_true", help="build the big job again")
    parser.add_argument("--watch-rounds", type=int, default=3)
    parser.add_argument("--samples", type=int, default=60, help="sheets per watch round")
    args = parser.parse_args()
    mzt = mzt_command()
    root = Path(tempfile.mkdtemp(prefix="mzt-bench-observe-"))
    try:
        homes = {name: root / f"home-{name}" for name in ("ten", "many")}
        for home in homes.values():
            home.mkdir()
        print("preparing jobs…", file=sys.stderr)
        ten = run_score(root, homes["ten"], "ten", 10)
        big, big_ws, big_home = big_job(args.big_sheets, rebuild=args.rebuild)
        many_jobs(root, homes["many"], ten, args.jobs)
        listed = run(
            [*mzt, "list", "--all", "-j"], env=environment(homes["many"]), keep_stdout=True
        )
        found = len(json.loads(listed.stdout).get("jobs", []))
        if found != args.jobs:
            print(f"note: `mzt list --all` shows {found} jobs, not {args.jobs}")
        many = f"{args.jobs:,} jobs"
        big_label = f"{args.big_sheets:,} sheets"
        cases = [
            ("status, 10 sheets", [*mzt, "status", "ten", "-w", str(ten)], homes["ten"]),
            (
                "status --json, 10 sheets",
                [*mzt, "status", "ten", "-w", str(ten), "-j"],
                homes["ten"],
            ),
            ("list --all, 1 job", [*mzt, "list", "--all"], homes["ten"]),
            (
                f"status --json, {big_label}",
                [*mzt, "status", big, "-w", str(big_ws), "-j"],
                big_home,
            ),
            (f"list --all, the {big_label} job", [*mzt, "list", "--all"], big_home),
            (f"list, {many}", [*mzt, "list"], homes["many"]),
            (f"list --all --json, {many}", [*mzt, "list", "--all", "-j"], homes["many"]),
            (f"status (overview), {many}", [*mzt, "status"], homes["many"]),
        ]
        print(f"machine: {machine()}")
        print(f"{args.rounds} rounds, each command alternating with python -c pass\n")
        floor = python_pass()
        for label, argv, home in cases:
            mine: list[float] = []
            bare: list[float] = []
            for _ in range(args.rounds):
                mine.append(run(argv, env=environment(home), cwd=root).seconds)
                bare.append(run(floor, cwd=root).seconds)
            compare(label, "mzt", mine, "python -c pass", bare)
            print()
        figures: dict[bool, dict[str, list[float]]] = {
            poll: {"p50": [], "p95": [], "max": [], "n": []} for poll in (False, True)
        }
        for number in range(args.watch_rounds):
            for poll in (False, True):
                delays = watch_delays(root, f"{number}-{int(poll)}", args.samples, poll=poll)
                if not delays:
                    continue
                figures[poll]["p50"].append(percentile(delays, 50) * 1000)
                figures[poll]["p95"].append(percentile(delays, 95) * 1000)
                figures[poll]["max"].append(max(delays) * 1000)
                figures[poll]["n"].append(len(delays))
        for poll in (False, True):
            mode = "polling (MZT_WATCH_POLL=1)" if poll else "file events"
            got = figures[poll]
            if not got["p50"]:
                print(f"watch delay, {mode}: no sheet seen")
                continue
            target = "   target p95 < 100 ms" if not poll else ""
            print(f"watch delay, {mode}: {sum(got['n']):.0f} sheets over {len(got['n'])} rounds")
            print(f"    p50  {spread(got['p50'], ' ms', 1)}")
            print(f"    p95  {spread(got['p95'], ' ms', 1)}{target}")
            print(f"    max  {spread(got['max'], ' ms', 1)}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
