"""How soon `mzt logs -f JOB` shows a line that one of several parallel sheets wrote.

Each round runs a score of ``--sheets`` parallel ``cli`` sheets; each writes a line with
the time it was written (``date +%s.%N``) every 0.2 s for ``--seconds``, and `mzt logs -f`
of the job runs beside it from the moment the first attempt started. A line's delay runs
from the time in it to its arrival here (the same clock). Rounds alternate file events
and polling (``MZT_WATCH_POLL=1``); printed per mode: p50, p95 and max over all lines,
and the number of lines against the number written. Target: p95 under 100 ms with file
events.

Usage: python bench/logs_follow.py [--rounds 2] [--sheets 4] [--seconds 4]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from _shared import environment, machine, mzt_command


def one_round(root: Path, sheets: int, seconds: float, polling: bool) -> tuple[list[float], int]:
    """Delays of every line `logs -f` printed, and how many lines the sheets wrote."""
    ticks = int(seconds / 0.2)
    template = f'for i in $(seq 1 {ticks}); do echo "at $(date +%s.%N)"; sleep 0.2; done'
    score = root / "score.yaml"
    # Written as YAML: a fan-out's stage numbers are integer keys, which JSON cannot have.
    score.write_text(
        "name: fan\nworkspace: ./ws\ninstrument: cli\npause_between_sheets_seconds: 0\n"
        f"sheet: {{size: 1, total_items: 1, fan_out: {{1: {sheets}}}}}\n"
        f"parallel: {{enabled: true, max_concurrent: {sheets}}}\n"
        f"prompt: {{template: {json.dumps(template)}}}\n"
    )
    env = environment(root / "home", **({"MZT_WATCH_POLL": "1"} if polling else {}))
    run = subprocess.Popen(
        [*mzt_command(), "run", "-q", str(score)], cwd=root, env=env, stdout=subprocess.DEVNULL
    )
    history = root / "ws" / ".marianne" / "fan.history.jsonl"
    while not (history.exists() and b"attempt_started" in history.read_bytes()):
        if run.poll() is not None:
            raise SystemExit("the run ended before its first attempt started")
        time.sleep(0.01)
    follower = subprocess.Popen(
        [*mzt_command(), "logs", "fan", "-w", str(root / "ws"), "-f", "-n", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    delays: list[float] = []

    def collect() -> None:
        assert follower.stdout is not None
        for line in follower.stdout:
            arrived = time.time()
            if " at " in line:
                delays.append(arrived - float(line.rsplit(" at ", 1)[1]))

    reader = threading.Thread(target=collect)
    reader.start()
    run.wait(timeout=120)
    follower.wait(timeout=60)
    reader.join()
    return delays, sheets * ticks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--sheets", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=4.0)
    args = parser.parse_args()
    print(machine())
    results: dict[str, tuple[list[float], int]] = {"file events": ([], 0), "polling": ([], 0)}
    for _ in range(args.rounds):
        for mode in results:
            with tempfile.TemporaryDirectory(prefix="mzt-bench-logs-") as folder:
                root = Path(folder)
                (root / "home").mkdir()
                delays, written = one_round(root, args.sheets, args.seconds, mode == "polling")
            seen, total = results[mode]
            results[mode] = (seen + delays, total + written)
    for mode, (delays, written) in results.items():
        ms = sorted(d * 1000 for d in delays)
        p95 = ms[int(0.95 * (len(ms) - 1))] if ms else float("nan")
        median = statistics.median(ms) if ms else float("nan")
        print(
            f"{mode:<12} lines {len(ms)}/{written}  p50 {median:.0f} ms  p95 {p95:.0f} ms"
            f"  max {max(ms, default=float('nan')):.0f} ms"
        )


if __name__ == "__main__":
    main()
