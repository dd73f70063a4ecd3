"""How soon `mzt logs -f JOB` shows a line that one of several parallel sheets wrote.

Each round runs a score of ``--sheets`` parallel ``cli`` sheets; each writes a line with
the time it was written (``date +%s.%N``) every 0.2 s for ``--seconds``, and `mzt logs -f`
of the job runs beside it from the moment the first attempt started. Two delays per line,
on the same clock: from the time in it to its arrival here (which includes the run's own
hold-back: the redactor logs a line once the child has been quiet for 0.2 s), and from
when a thread reading the log files every 5 ms first saw it on disk to its arrival here
(the follower's own share). Rounds alternate file events and polling
(``MZT_WATCH_POLL=1``); printed per mode: p50, p95 and max over all lines, and the number
of lines shown against the number written.

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


def one_round(
    root: Path, sheets: int, seconds: float, polling: bool
) -> tuple[list[float], list[float], int]:
    """Both delays of every line `logs -f` printed, and how many lines the sheets wrote."""
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
    shown: dict[str, float] = {}
    on_disk: dict[str, float] = {}
    logs = root / "ws" / ".marianne" / "logs" / "fan"

    def collect() -> None:
        assert follower.stdout is not None
        for line in follower.stdout:
            arrived = time.time()
            if "at " in line:  # "[sheet N] at …", or "at …" under a header
                shown.setdefault(line.rsplit("at ", 1)[1].strip(), arrived)

    def watch_disk() -> None:
        while run.poll() is None:
            for path in logs.glob("*.stdout") if logs.is_dir() else []:
                seen = time.time()
                for line in path.read_text().splitlines():
                    if line.startswith("at "):
                        on_disk.setdefault(line[3:], seen)
            time.sleep(0.005)

    threads = [threading.Thread(target=collect), threading.Thread(target=watch_disk)]
    for thread in threads:
        thread.start()
    run.wait(timeout=120)
    follower.wait(timeout=60)
    for thread in threads:
        thread.join()
    written = [arrived - float(stamp) for stamp, arrived in shown.items()]
    follower_share = [shown[k] - on_disk[k] for k in shown if k in on_disk]
    return written, follower_share, sheets * ticks


def quantiles(seconds: list[float]) -> str:
    ms = sorted(d * 1000 for d in seconds)
    if not ms:
        return "no lines"
    p95 = ms[int(0.95 * (len(ms) - 1))]
    return f"p50 {statistics.median(ms):.0f} ms  p95 {p95:.0f} ms  max {ms[-1]:.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--sheets", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=4.0)
    args = parser.parse_args()
    print(machine())
    results: dict[str, tuple[list[float], list[float], int]] = {
        "file events": ([], [], 0),
        "polling": ([], [], 0),
    }
    for _ in range(args.rounds):
        for mode in results:
            with tempfile.TemporaryDirectory(prefix="mzt-bench-logs-") as folder:
                root = Path(folder)
                (root / "home").mkdir()
                got = one_round(root, args.sheets, args.seconds, mode == "polling")
            before = results[mode]
            results[mode] = (before[0] + got[0], before[1] + got[1], before[2] + got[2])
    for mode, (written, share, total) in results.items():
        print(f"{mode}: {len(written)}/{total} lines shown")
        print(f"    written -> shown  {quantiles(written)}")
        print(f"    on disk -> shown  {quantiles(share)}")


if __name__ == "__main__":
    main()
