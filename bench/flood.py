"""One sheet printing a flood of output: `mzt run` next to GNU parallel running the same command.

Each round runs, in alternation (mzt, parallel, mzt, parallel …), one whole process:

* a: ``mzt run -q`` of a one-sheet score on the ``cli`` instrument whose command prints
  ``--mb`` megabytes of log-like lines to stdout (redacted, written to the attempt log,
  capped at ``MZT_LOG_MAX_BYTES``);
* b: ``parallel`` running the same command once, its output to a file (``--group``, the
  default, spools it to a temporary file first, as a job runner must).

Figures: each side's wall time and peak RSS (``os.wait4`` in a small launcher), and the
per-round time ratio a / b as a median with min–max (target ≤ 2×). ``--kind line`` uses
one long line of ``a`` without whitespace (the old flood of `bench/state_cost.py`).

Usage: python bench/flood.py [--mb 200] [--rounds 5] [--kind lines|line]
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import statistics
import tempfile
from pathlib import Path

from _shared import ensure_tool, environment, machine, mzt_command, one_sheet_score, run, spread


def command(kind: str, megabytes: int) -> str:
    size = megabytes * 1_000_000
    if kind == "line":
        return f"head -c {size} /dev/zero | tr '\\0' a"
    line = "2024-03-03T10:12:44Z INFO worker-3 step 4/9 processed item 12345 in 0.42s ok"
    return f"yes {shlex.quote(line)} | head -c {size}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--kind", choices=("lines", "line"), default="lines")
    args = parser.parse_args()
    parallel = ensure_tool("parallel", "parallel")
    if parallel is None:
        raise SystemExit("GNU parallel is not installed and could not be installed")
    pipeline = command(args.kind, args.mb)
    print(f"machine: {machine()}")
    print(f"command: {pipeline}")
    root = Path(tempfile.mkdtemp(prefix="mzt-bench-flood-"))
    try:
        score = one_sheet_score(root / "flood.yaml", "flood", pipeline)
        mine: list[float] = []
        mine_rss: list[float] = []
        theirs: list[float] = []
        their_rss: list[float] = []
        log_sizes: list[int] = []
        for number in range(args.rounds):
            workspace, home = root / f"ws-{number}", root / f"home-{number}"
            argv = [*mzt_command(), "run", "-q", "-w", str(workspace), str(score)]
            done = run(argv, env=environment(home), cwd=root, own_rss=True)
            mine.append(done.seconds)
            mine_rss.append(done.max_rss_kb / 1024)
            log_sizes.append(sum(p.stat().st_size for p in workspace.rglob("*.stdout")))
            shutil.rmtree(workspace, ignore_errors=True)
            out = root / f"parallel-{number}.out"
            shell = f"{shlex.quote(parallel)} --will-cite ::: {shlex.quote(pipeline)} > {out}"
            done = run(["bash", "-c", shell], cwd=root, own_rss=True)
            theirs.append(done.seconds)
            their_rss.append(done.max_rss_kb / 1024)
            out.unlink(missing_ok=True)
        print(f"{args.mb} MB to stdout, {args.rounds} interleaved rounds")
        print(f"    a: mzt run, whole process (s)            {spread(mine, '', 2)}")
        print(f"    b: GNU parallel, whole process (s)       {spread(theirs, '', 2)}")
        ratios = [a / b for a, b in zip(mine, theirs, strict=True)]
        print(f"    time ratio a / b per round               {spread(ratios, '×', 2)}  (≤ 2×)")
        print(f"    a: peak RSS (MB)                         {spread(mine_rss, '', 1)}")
        print(f"    b: peak RSS (MB)                         {spread(their_rss, '', 1)}")
        print(f"    mzt's stdout log (bytes, median)         {statistics.median(log_sizes):,.0f}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
