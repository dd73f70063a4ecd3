"""A scripted stand-in for an agent CLI, driven by the prompt it reads on stdin.

Each line of the prompt that starts with ``FAKE:`` is an instruction, run in order:

    FAKE: write PATH TEXT...      write TEXT (rest of the line) to PATH
    FAKE: append PATH TEXT...     append TEXT and a newline to PATH
    FAKE: count PATH              add 1 to the number in PATH (missing: 0)
    FAKE: fail-until PATH N       exit 1 unless the number in PATH is at least N
    FAKE: sleep SECONDS
    FAKE: say TEXT...             print TEXT on stdout
    FAKE: limit TEXT...           print TEXT on stdout and exit 1 (a usage-limit message)
    FAKE: limit-until PATH N TEXT...  the same, unless the number in PATH is at least N
    FAKE: stamp PATH              append the current time (epoch seconds) to PATH
    FAKE: exit CODE
    FAKE: grandchild PIDFILE      start a long sleep in the background, record its pid
    FAKE: json TEXT...            print {"result": TEXT, "usage": {...}} and stop
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path


def main() -> int:
    prompt = sys.stdin.read()
    for line in prompt.splitlines():
        if not line.startswith("FAKE: "):
            continue
        verb, _, rest = line[len("FAKE: ") :].partition(" ")
        args = rest.split(" ")
        if verb == "write":
            Path(args[0]).write_text(" ".join(args[1:]) + "\n")
        elif verb == "append":
            with Path(args[0]).open("a") as fh:
                fh.write(" ".join(args[1:]) + "\n")
        elif verb == "count":
            path = Path(args[0])
            value = int(path.read_text()) if path.exists() else 0
            path.write_text(str(value + 1))
        elif verb == "fail-until":
            path = Path(args[0])
            value = int(path.read_text()) if path.exists() else 0
            if value < int(args[1]):
                print(f"not yet: {value} < {args[1]}", file=sys.stderr)
                return 1
        elif verb == "sleep":
            time.sleep(float(args[0]))
        elif verb == "say":
            print(rest, flush=True)
        elif verb == "limit":
            print(rest, flush=True)
            return 1
        elif verb == "limit-until":
            path = Path(args[0])
            value = int(path.read_text()) if path.exists() else 0
            if value < int(args[1]):
                print(" ".join(args[2:]), flush=True)
                return 1
        elif verb == "stamp":
            with Path(args[0]).open("a") as fh:
                fh.write(f"{time.time()}\n")
        elif verb == "exit":
            return int(args[0])
        elif verb == "grandchild":
            child = subprocess.Popen(["sleep", "300"])
            Path(args[0]).write_text(str(child.pid))
        elif verb == "json":
            print(json.dumps({"result": rest, "usage": {"input_tokens": 12, "output_tokens": 34}}))
            return 0
    print("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
