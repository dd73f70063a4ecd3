"""What durability costs a big run: file sizes, memory, stalls, and reading it back.

Runs a score of N `true` sheets (cli instrument, no validations) and reports the
snapshot's bytes per sheet, the journal's bytes per transition, the run's peak RSS, the
longest gap between two consecutive sheet transitions (a stall shows up there), and the
wall time of `mzt status JOB` and `mzt status JOB --json` on the finished job.

Usage: python bench/state_scale.py [--sheets 10000 50000]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import yaml


def run(n: int, folder: Path) -> dict[str, float]:
    name = f"scale-{n}"
    score = folder / f"{name}.yaml"
    score.write_text(
        yaml.safe_dump(
            {
                "name": name,
                "workspace": f"./ws-{n}",
                "instrument": "cli",
                "pause_between_sheets_seconds": 0,
                "sheet": {"size": 1, "total_items": n},
                "prompt": {"template": "true"},
            }
        )
    )
    env = {**os.environ, "MZT_HOME": str(folder / "home")}
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "mzt", "run", "-q", str(score)], env=env, check=True)
    elapsed = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    state_dir = folder / f"ws-{n}" / ".marianne"
    snapshot = (state_dir / f"{name}.json").stat().st_size
    journal = state_dir / f"{name}.history.jsonl"
    sizes, stamps = [], []
    with journal.open("rb") as lines:
        for raw in lines:
            record = json.loads(raw)
            if record.get("kind") == "sheet":
                sizes.append(len(raw))
                stamps.append(datetime.fromisoformat(record["ts"].replace("Z", "+00:00")))
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(stamps)]
    timings = {}
    for label, extra in (("status", []), ("status --json", ["--json"])):
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "mzt",
                    "status",
                    name,
                    "-w",
                    str(folder / f"ws-{n}"),
                    *extra,
                ],
                env=env,
                check=True,
                capture_output=True,
            )
            best = min(best, time.perf_counter() - t0)
        timings[label] = best
    return {
        "sheets": n,
        "journal_bytes_per_transition_all_lines": round(
            journal.stat().st_size / max(1, len(sizes)), 1
        ),
        "run_seconds": round(elapsed, 1),
        "snapshot_bytes_per_sheet": round(snapshot / n, 1),
        "journal_bytes_per_transition": round(sum(sizes) / max(1, len(sizes)), 1),
        "transitions": len(sizes),
        "peak_rss_mb": round(peak_kb / 1024, 1),
        "max_gap_ms": round(max(gaps, default=0.0) * 1000, 1),
        "status_ms": round(timings["status"] * 1000, 1),
        "status_json_ms": round(timings["status --json"] * 1000, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sheets", type=int, nargs="+", default=[10_000])
    args = parser.parse_args()
    for n in args.sheets:
        # A fresh folder (and process) per size: peak RSS is per child, the largest seen.
        with tempfile.TemporaryDirectory() as tmp:
            print(json.dumps(run(n, Path(tmp))), flush=True)


if __name__ == "__main__":
    main()
