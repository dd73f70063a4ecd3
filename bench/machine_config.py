"""What reading the machine configuration adds to a run's start, absent file or present.

Each round is a fresh process that first imports what `mzt run` has loaded by then (the
runner and the score models), then times importing :mod:`mzt.machine.config` and its
first :func:`load`, and a second :func:`load` (the cached parse), and whether the file reader
(:mod:`mzt.machine.configfile`, which holds the YAML path) was loaded. Printed: the medians
with their min–max over the rounds, for an absent file (target: under 1 ms in all) and
for a small valid file.

Usage: python bench/machine_config.py [--rounds 15]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from pathlib import Path

from _shared import environment, machine, mzt_python, spread

PROBE = """
import json, sys, time
import mzt.run.runner, mzt.score.models, mzt.support.strictcheck
t0 = time.perf_counter()
import mzt.machine.config as config
t1 = time.perf_counter()
config.load()
t2 = time.perf_counter()
config.load()
t3 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "first": t2 - t0, "again": t3 - t2,
                  "reader": "mzt.machine.configfile" in sys.modules}))
"""

SAMPLE = """max_concurrent_sheets: 8
max_concurrent_jobs: 4
instruments:
  claude-code: {max_concurrent: 3}
models:
  claude-opus-4: {max_concurrent: 2}
"""


def _rounds(home: Path, rounds: int) -> list[dict[str, float]]:
    found = []
    for _ in range(rounds):
        done = subprocess.run(
            [mzt_python(), "-c", PROBE],
            env=environment(home),
            capture_output=True,
            text=True,
            check=True,
        )
        found.append(json.loads(done.stdout))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="mzt-bench-config-") as tmp:
        absent, present = Path(tmp) / "absent", Path(tmp) / "present"
        absent.mkdir()
        present.mkdir()
        (present / "config.yaml").write_text(SAMPLE)
        for label, home in (("absent file", absent), ("small file", present)):
            rows = _rounds(home, args.rounds)
            ms = {k: [r[k] * 1000 for r in rows] for k in ("import", "first", "again")}
            reader = any(r["reader"] for r in rows)
            print(
                f"{label}: import {spread(ms['import'], ' ms', 3)}; import + first load "
                f"{spread(ms['first'], ' ms', 3)}; cached load {spread(ms['again'], ' ms', 4)}; "
                f"file reader loaded: {reader}"
            )


if __name__ == "__main__":
    main()
