"""What a run's state costs on disk and in memory, by sheet count.

For each sheet count (``--sheets``, default 1,000, 10,000 and 50,000; ``--big`` adds
100,000) a score of ``true`` sheets on the ``cli`` instrument (bash, no validations, no
pause) runs to completion as one whole ``mzt run -q`` process in a fresh workspace and a
fresh ``MZT_HOME``; serially (the default chain) unless ``--concurrent K`` makes the
sheets the independent voices of one fanned-out stage, K at a time. From each run:

* snapshot bytes per completed sheet: the job's ``.json`` checkpoint over the sheets it
  records as completed (target ≤ 300);
* journal bytes per transition: the job's ``.jsonl`` / journal file over its line count,
  every line counted as one transition (target ≤ 250);
* peak RSS of the process, from ``os.wait4`` in a small launcher process (a child of
  this one would be charged this one's own peak; targets ≤ 60 MB at 10,000 sheets,
  ≤ 200 MB at 100,000);
* the longest stall between two consecutive sheet transitions: every sheet's recorded
  ``started_at`` and ``completed_at`` from the checkpoint, sorted, largest gap; a gap holds
  either one sheet's own ``true`` or mzt's work between two sheets (target no stall over
  200 ms at 50,000).

The files are found by listing the workspace (the on-disk layout may change), and the
names used are printed. Then one more run per size, untimed, under
``strace -f --seccomp-bpf -y -e trace=write-family,fsync,fdatasync``: bytes handed to
write calls (by file, temp files of atomic rewrites lumped together) and the number of
fsync / fdatasync calls. ``--no-strace`` skips it (strace is installed with apt-get when
missing).

Last, an output flood (``--flood-mb``, default 20; 0 skips it): a one-sheet score whose
sheet writes that many megabytes to stdout, as a whole ``mzt run``, alternated round by
round with the same bash pipeline run on its own (output to /dev/null), at least three
rounds: mzt's peak RSS, and the time ratio mzt / bash.

Single-side figures: every figure is the median over ``--rounds`` runs with min–max.
Rounds go through all sizes in turn (1,000, 10,000, 50,000, 1,000, …).

Usage: python bench/state_cost.py [--sheets 1000 10000 50000] [--big] [--rounds 1]
       [--concurrent 1] [--no-strace] [--flood-mb 20]
The default takes about a quarter of an hour on two cores (the 50,000-sheet runs
dominate, about five minutes each); ``--sheets 1000 10000`` takes two or three.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import shutil
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from _shared import (
    ensure_tool,
    environment,
    machine,
    mzt_command,
    one_sheet_score,
    run,
    spread,
    true_score,
)

WRITES = ("write", "pwrite64", "writev", "pwritev", "pwritev2")
SYNCS = ("fsync", "fdatasync")
CALL = re.compile(r"^(?:\d+\s+)?(\w+)\((\d+)<([^>]*)>.*\)\s*=\s*(-?\d+)")
UNFINISHED = re.compile(r"^(?:\d+\s+)?(\w+)\((\d+)<([^>]*)>.*<unfinished \.\.\.>$")
RESUMED = re.compile(r"^(\d+\s+)?<\.\.\. (\w+) resumed>.*=\s*(-?\d+)")


@dataclass
class Figures:
    seconds: float
    snapshot_name: str
    snapshot_bytes: int
    completed: int
    journal_name: str
    journal_bytes: int
    journal_lines: int
    rss_mb: float
    stall_ms: float
    stall_where: str


def job_files(workspace: Path, job: str) -> tuple[Path, Path | None]:
    """The job's snapshot (``.json``) and journal (``.jsonl`` or named journal), by listing."""
    files = [p for p in workspace.rglob("*") if p.is_file() and not p.name.endswith(".tmp")]
    mine = [p for p in files if p.name.startswith(job)] or files
    snapshots = [p for p in mine if p.suffix == ".json"]
    journals = [p for p in mine if p.suffix == ".jsonl" or "journal" in p.name]
    if not snapshots:
        listing = ", ".join(str(p.relative_to(workspace)) for p in files)
        raise SystemExit(f"no .json checkpoint for {job} in {workspace}: {listing}")
    snapshot = max(snapshots, key=lambda p: p.stat().st_size)
    journal = max(journals, key=lambda p: p.stat().st_size) if journals else None
    return snapshot, journal


def moment(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def stall(sheets: dict[str, dict[str, object]]) -> tuple[float, str]:
    """The largest gap between consecutive recorded transitions, and where it was."""
    events: list[tuple[float, str]] = []
    for num, sheet in sheets.items():
        for field, verb in (("started_at", "start"), ("completed_at", "finish")):
            value = sheet.get(field)
            if isinstance(value, str):
                events.append((moment(value), f"{verb} of sheet {num}"))
    events.sort()
    if len(events) < 2:
        return 0.0, "fewer than two recorded transitions"
    gap, where = max(
        (later[0] - earlier[0], f"{earlier[1]} → {later[1]}")
        for earlier, later in itertools.pairwise(events)
    )
    return gap * 1000, where


def measure(score: Path, job: str, root: Path, label: str) -> Figures:
    workspace, home = root / f"ws-{label}", root / f"home-{label}"
    argv = [*mzt_command(), "run", "-q", "-w", str(workspace), str(score)]
    done = run(argv, env=environment(home), cwd=root, own_rss=True)
    snapshot, journal = job_files(workspace, job)
    document = json.loads(snapshot.read_text())
    sheets = document.get("sheets", {})
    if isinstance(sheets, list):
        sheets = {str(i + 1): s for i, s in enumerate(sheets)}
    completed = sum(1 for s in sheets.values() if s.get("status") == "completed")
    gap, where = stall(sheets)
    journal_bytes = journal.stat().st_size if journal else 0
    journal_lines = 0
    if journal:
        with journal.open("rb") as lines:
            journal_lines = sum(1 for _ in lines)
    figures = Figures(
        seconds=done.seconds,
        snapshot_name=str(snapshot.relative_to(workspace)),
        snapshot_bytes=snapshot.stat().st_size,
        completed=completed,
        journal_name=str(journal.relative_to(workspace)) if journal else "(none found)",
        journal_bytes=journal_bytes,
        journal_lines=journal_lines,
        rss_mb=done.max_rss_kb / 1024,
        stall_ms=gap,
        stall_where=where,
    )
    for folder in (workspace, home):  # a 100,000-sheet job leaves half a gigabyte
        shutil.rmtree(folder, ignore_errors=True)
    return figures


def kind_of(path: str, workspace: Path, home: Path) -> str:
    """A short name for a written file: temp files and pipes lumped, folders shortened."""
    if path.startswith(("pipe:", "socket:", "anon_inode:")):
        return path.split(":")[0]
    name = Path(path).name
    if name.endswith(".tmp"):
        return f"{Path(path).parent.name}/*.tmp (atomic rewrites)"
    for base, tag in ((workspace, "WS"), (home, "MZT_HOME")):
        if path.startswith(str(base)):
            return f"{tag}/{Path(path).relative_to(base)}"
    return path


def traced(score: Path, root: Path, label: str) -> tuple[Counter[str], Counter[str], float]:
    """Bytes written per file and calls per syscall name, from a run under strace."""
    workspace, home = root / f"ws-{label}", root / f"home-{label}"
    log = root / f"strace-{label}.txt"
    argv = [
        "strace",
        "-f",
        "--seccomp-bpf",
        "-y",
        "-s",
        "0",
        "-qq",
        "-e",
        "signal=none",
        "-e",
        f"trace={','.join(WRITES + SYNCS)}",
        "-o",
        str(log),
        *mzt_command(),
        "run",
        "-q",
        "-w",
        str(workspace),
        str(score),
    ]
    done = run(argv, env=environment(home), cwd=root, own_rss=True)
    written: Counter[str] = Counter()
    calls: Counter[str] = Counter()
    pending: dict[str, tuple[str, str]] = {}
    with log.open(errors="replace") as lines:
        for line in lines:
            line = line.rstrip("\n")
            if found := CALL.match(line):
                name, _fd, path, result = found.groups()
            elif found := UNFINISHED.match(line):
                pid = line.split()[0]
                pending[pid] = (found.group(1), found.group(3))
                continue
            elif found := RESUMED.match(line):
                pid = (found.group(1) or "").strip()
                name, path = pending.pop(pid, (found.group(2), "?"))
                result = found.group(3)
            else:
                continue
            calls[name] += 1
            if name in WRITES and int(result) > 0:
                written[kind_of(path, workspace, home)] += int(result)
    log.unlink()
    for folder in (workspace, home):
        shutil.rmtree(folder, ignore_errors=True)
    return written, calls, done.seconds


def row(label: str, values: list[float], digits: int = 1, target: str = "") -> None:
    figure = spread(values, "", digits)
    line = f"    {label:<36} {figure:<40} {('target ' + target) if target else ''}"
    print(line.rstrip())


def flood(root: Path, megabytes: int, rounds: int) -> tuple[list[float], list[float], list[float]]:
    """Peak RSS and time of a run whose one sheet floods stdout, next to bash alone."""
    pipeline = f"head -c {megabytes}000000 /dev/zero | tr '\\0' a"
    score = one_sheet_score(root / "flood.yaml", "flood", pipeline, workspace="./ws-flood")
    mine: list[float] = []
    rss: list[float] = []
    bare: list[float] = []
    for number in range(rounds):
        workspace, home = root / f"ws-flood-{number}", root / f"home-flood-{number}"
        argv = [*mzt_command(), "run", "-q", "-w", str(workspace), str(score)]
        done = run(argv, env=environment(home), cwd=root, own_rss=True)
        mine.append(done.seconds)
        rss.append(done.max_rss_kb / 1024)
        bare.append(run(["bash", "-c", pipeline], cwd=root, own_rss=True).seconds)
        shutil.rmtree(workspace, ignore_errors=True)
    return rss, mine, bare


def print_flood(megabytes: int, rss: list[float], mine: list[float], bare: list[float]) -> None:
    print(f"output flood: one sheet writing {megabytes:,} MB to stdout, {len(rss)} round(s)")
    row("mzt peak RSS (MB)", rss, 1)
    row("mzt run, whole process (s)", mine, 2)
    row("bash alone, output to /dev/null (s)", bare, 3)
    row("time ratio mzt / bash (per round)", [m / b for m, b in zip(mine, bare, strict=True)], 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sheets", type=int, nargs="+", default=[1_000, 10_000, 50_000])
    parser.add_argument("--big", action="store_true", help="add 100,000 sheets")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--concurrent", type=int, default=1, help="sheets at once (fan-out)")
    parser.add_argument("--no-strace", action="store_true", help="skip the strace run")
    parser.add_argument("--flood-mb", type=int, default=20, help="output flood size; 0 skips")
    args = parser.parse_args()
    sizes = sorted(set(args.sheets) | ({100_000} if args.big else set()))
    strace = not args.no_strace and ensure_tool("strace", "strace")
    if not args.no_strace and not strace:
        print("strace is not installed and could not be installed: no write figures")
    print(f"machine: {machine()}")
    mode = "serial" if args.concurrent <= 1 else f"{args.concurrent} at a time"
    print(f"{args.rounds} round(s), sheets {mode}; figures are median (min – max)\n")
    with tempfile.TemporaryDirectory(prefix="mzt-bench-state-") as tmp:
        root = Path(tmp)
        scores = {
            n: true_score(root / f"s{n}.yaml", f"state{n}", n, max_concurrent=args.concurrent)
            for n in sizes
        }
        results: dict[int, list[Figures]] = {n: [] for n in sizes}
        for number in range(args.rounds):
            for n in sizes:
                results[n].append(measure(scores[n], f"state{n}", root, f"{n}-{number}"))
                print(f"  round {number + 1}: {n:,} sheets done", file=sys.stderr)
        strace_figures = (
            {n: traced(scores[n], root, f"{n}-strace") for n in sizes} if strace else {}
        )
        flooded = flood(root, args.flood_mb, max(args.rounds, 3)) if args.flood_mb > 0 else None
    for n in sizes:
        runs = results[n]
        first = runs[0]
        print(f"{n:,} sheets  (files: {first.snapshot_name}, {first.journal_name})")
        row("run, whole process (s)", [r.seconds for r in runs], 2)
        row("completed sheets", [float(r.completed) for r in runs], 0)
        row("snapshot bytes", [float(r.snapshot_bytes) for r in runs], 0)
        row(
            "snapshot bytes / completed sheet",
            [r.snapshot_bytes / max(1, r.completed) for r in runs],
            1,
            "≤ 300",
        )
        row("journal bytes", [float(r.journal_bytes) for r in runs], 0)
        row("journal lines (transitions)", [float(r.journal_lines) for r in runs], 0)
        row(
            "journal bytes / transition",
            [r.journal_bytes / max(1, r.journal_lines) for r in runs],
            1,
            "≤ 250",
        )
        rss_target = {10_000: "≤ 60 MB", 100_000: "≤ 200 MB"}.get(n, "")
        row("peak RSS (MB)", [r.rss_mb for r in runs], 1, rss_target)
        stall_target = "≤ 200 ms" if n >= 50_000 else ""
        row("longest stall (ms)", [r.stall_ms for r in runs], 1, stall_target)
        worst = max(runs, key=lambda r: r.stall_ms)
        print(f"    {'':36} worst: {worst.stall_where}")
        if n in strace_figures:
            written, calls, seconds = strace_figures[n]
            total = sum(written.values())
            syncs = sum(calls[name] for name in SYNCS)
            print(f"    under strace (one run, {seconds:.1f} s, not timed):")
            print(f"      bytes written {total:,} ({total / n:,.0f} per sheet)")
            for kind, count in written.most_common(6):
                print(f"        {count:>14,}  {kind}")
            detail = ", ".join(f"{calls[name]:,} {name}" for name in SYNCS)
            print(f"      fsync + fdatasync calls {syncs:,} ({syncs / n:.2f} per sheet: {detail})")
        print()
    if flooded:
        print_flood(args.flood_mb, *flooded)


if __name__ == "__main__":
    main()
