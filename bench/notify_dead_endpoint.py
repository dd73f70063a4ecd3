"""What notifications cost a job: none, a live endpoint, and two dead ones.

One round runs the same score of N sheets (``--sheets``, default 20) that each run
``true`` on the ``cli`` instrument, as one whole ``mzt run -q`` process in a fresh
workspace, four ways in alternation:

* none: no ``notifications``;
* live: a webhook for every event (``job_start`` … ``job_complete``) to a local HTTP
  server that answers 200 at once;
* refused: the same webhook to a port nothing listens on;
* silent: the same webhook to a server that accepts connections and never answers
  (each send waits its full timeout, 10 s by default; the job's end waits at most 10 s).

Printed: each way's median wall time with min–max, and its median excess over "none".
The bound promised in the README: a dead endpoint adds at most 10 s (the end-of-job wait)
plus the time to start the thread, whatever the number of sheets.

Usage: python bench/notify_dead_endpoint.py [--sheets 20] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from _shared import environment, machine, mzt_command, run, spread, write_score

EVENTS = ["job_start", "sheet_start", "sheet_complete", "sheet_failed", "job_complete"]


class _Answer(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def score(path: Path, sheets: int, url: str | None) -> Path:
    data: dict[str, Any] = {
        "name": "bench",
        "workspace": "./ws",
        "instrument": "cli",
        "pause_between_sheets_seconds": 0,
        "sheet": {"size": 1, "total_items": sheets},
        "prompt": {"template": "true"},
    }
    if url:
        data["notifications"] = [{"type": "webhook", "on_events": EVENTS, "config": {"url": url}}]
    return write_score(path, data)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sheets", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    live = ThreadingHTTPServer(("127.0.0.1", 0), _Answer)
    threading.Thread(target=live.serve_forever, daemon=True).start()
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(64)  # the kernel accepts into the backlog; nobody ever reads
    refused = socket.socket()
    refused.bind(("127.0.0.1", 0))
    refused_port = refused.getsockname()[1]
    refused.close()
    ways = {
        "none": None,
        "live": f"http://127.0.0.1:{live.server_address[1]}/hook",
        "refused": f"http://127.0.0.1:{refused_port}/hook",
        "silent": f"http://127.0.0.1:{silent.getsockname()[1]}/hook",
    }
    times: dict[str, list[float]] = {name: [] for name in ways}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for number in range(args.rounds):
            for name, url in ways.items():
                folder = root / f"{name}-{number}"
                folder.mkdir()
                path = score(folder / "score.json", args.sheets, url)
                env = environment(folder / "home", NO_PROXY="127.0.0.1")
                done = run([*mzt_command(), "run", "-q", str(path)], env=env, cwd=folder)
                assert done.returncode == 0, done.stderr.decode()
                times[name].append(done.seconds)
    print(machine())
    print(f"{args.sheets} sheets, {args.rounds} rounds, a webhook on {len(EVENTS)} events")
    base = statistics.median(times["none"])
    for name, values in times.items():
        excess = statistics.median(values) - base
        print(f"  {name:<8} {spread(values, ' s')}   excess over none {excess:+.2f} s")
    print(json.dumps({k: [round(v, 3) for v in vs] for k, vs in times.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
