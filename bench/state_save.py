"""Cost of saving job state: full snapshots vs journaled sheet transitions.

For jobs of 10, 1,000 and 10,000 sheets it prints:

* the time and size of a full snapshot save (``<job>.json``);
* the time and bytes of one sheet transition (``record_sheet``: one fsync'd journal line);
* the amortised transition cost once the periodic snapshot (every ``max(256, 2 × sheets)``
  lines by default) is spread over the transitions it absorbs;

and the ratio of the 10,000-sheet transition cost to the 10-sheet one (target: ≤ 2×).
Figures only; nothing is asserted. Run: ``python bench/state_save.py``.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mzt.state import CheckpointState, JsonStateBackend
from mzt.state.json_store import MIN_COMPACT_EVERY
from mzt.state.lock import RunLock

SIZES = (10, 1_000, 10_000)
TRANSITIONS = 400  # sheet transitions timed per size (start + finish of 200 sheets)
ROUNDS = 20
SNAPSHOTS = 5
OUTPUT = "Wrote src/module.py and tests; 12 tests passed.\n" * 4


def build_state(sheets: int) -> CheckpointState:
    """A running job with every sheet pre-created, a third of them already finished."""
    state = CheckpointState(job_id="bench", job_name="bench", total_sheets=sheets)
    state.config_snapshot = {"name": "bench", "sheet": {"size": 1, "total_items": sheets}}
    state.mark_job_running()
    for num in range(1, sheets + 1):
        sheet = state.sheet(num)
        sheet.instrument_name = "claude_cli"
    for num in range(1, sheets // 3 + 1):
        state.mark_sheet_started(num)
        state.sheets[num].capture_output(OUTPUT, "")
        state.mark_sheet_completed(num, execution_duration_seconds=12.5)
    return state


class Subject:
    """One job of a given size, its store and the timings collected for it."""

    def __init__(self, sheets: int, folder: Path) -> None:
        self.sheets = sheets
        # The window is opened wide so the journaled cost is measured on its own; the
        # default window's snapshots are added back analytically in :meth:`figures`.
        self.store = JsonStateBackend(folder, compact_every=10**9, compact_seconds=10**9)
        self.state = build_state(sheets)
        self.lock = RunLock(self.store.lock_path("bench"), job_id="bench").acquire()
        self.snapshot_times: list[float] = []
        self.record_times: list[float] = []
        self.full_times: list[float] = []
        self.next_sheet = sheets // 3 + 1
        self.journal_bytes = 0

    def snapshot(self) -> None:
        started = time.perf_counter()
        self.store.save(self.state)
        self.snapshot_times.append(time.perf_counter() - started)

    def transitions(self, count: int) -> None:
        journal = self.store.history_path("bench")
        before = journal.stat().st_size if journal.exists() else 0
        for _ in range(count // 2):
            num = self.next_sheet
            # The last sheet never finishes, so the job stays running (a completed job
            # would be a status change, which always rewrites the snapshot).
            self.next_sheet = num + 1 if num + 1 < self.sheets else self.sheets // 3 + 1
            for finish in (False, True):
                started = time.perf_counter()
                if finish:
                    self.state.sheets[num].capture_output(OUTPUT, "")
                    self.state.mark_sheet_completed(num, execution_duration_seconds=3.0)
                else:
                    self.state.mark_sheet_started(num)
                mid = time.perf_counter()
                self.store.record_sheet(self.state, num)
                done = time.perf_counter()
                self.record_times.append(done - mid)
                self.full_times.append(done - started)
        self.journal_bytes += journal.stat().st_size - before

    def figures(self) -> dict[str, float]:
        self.store.close()
        self.lock.release()
        window = max(MIN_COMPACT_EVERY, 2 * self.sheets)
        snapshot_time = statistics.median(self.snapshot_times)
        record_time = statistics.median(self.record_times)
        snapshot_bytes = self.store.state_path("bench").stat().st_size
        line_bytes = self.journal_bytes / len(self.record_times)
        return {
            "snapshot_ms": snapshot_time * 1000,
            "snapshot_bytes": snapshot_bytes,
            "record_ms": record_time * 1000,
            "full_ms": statistics.median(self.full_times) * 1000,
            "record_bytes": line_bytes,
            "window": window,
            "amortised_ms": (record_time + snapshot_time / window) * 1000,
            "amortised_bytes": line_bytes + snapshot_bytes / window,
        }


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        subjects = []
        for sheets in SIZES:
            folder = Path(tmp) / f"ws{sheets}"
            folder.mkdir()
            subjects.append(Subject(sheets, folder))
        # Sizes take turns, so a burst of disk latency from elsewhere hits all of them alike.
        for _ in range(SNAPSHOTS):
            for subject in subjects:
                subject.snapshot()
        for _ in range(ROUNDS):
            for subject in subjects:
                subject.transitions(TRANSITIONS // ROUNDS)
        results = {subject.sheets: subject.figures() for subject in subjects}
    print("Full snapshot save (<job>.json, atomic: temp + fsync + rename + folder fsync)")
    print(f"{'sheets':>8} {'median ms':>10} {'bytes':>12} {'bytes/sheet':>12}")
    for sheets, r in results.items():
        print(
            f"{sheets:>8} {r['snapshot_ms']:>10.2f} {r['snapshot_bytes']:>12,.0f}"
            f" {r['snapshot_bytes'] / sheets:>12,.0f}"
        )
    print()
    print(f"Sheet transition (record_sheet: one fsync'd journal line), {TRANSITIONS} timed")
    print(
        f"{'sheets':>8} {'store ms':>9} {'+model ms':>10} {'bytes':>7}"
        f" {'window':>7} {'amortised ms':>13} {'amortised B':>12}"
    )
    for sheets, r in results.items():
        print(
            f"{sheets:>8} {r['record_ms']:>9.3f} {r['full_ms']:>10.3f} {r['record_bytes']:>7,.0f}"
            f" {r['window']:>7,} {r['amortised_ms']:>13.3f} {r['amortised_bytes']:>12,.0f}"
        )
    small, large = results[SIZES[0]], results[SIZES[-1]]
    print()
    print(f"Ratio {SIZES[-1]:,}-sheet / {SIZES[0]}-sheet transition cost (target <= 2x):")
    print(f"  time  (store only)        {large['record_ms'] / small['record_ms']:.2f}x")
    print(f"  time  (with model update) {large['full_ms'] / small['full_ms']:.2f}x")
    print(f"  bytes per transition      {large['record_bytes'] / small['record_bytes']:.2f}x")
    print(f"  time  amortised           {large['amortised_ms'] / small['amortised_ms']:.2f}x")
    print(f"  bytes amortised           {large['amortised_bytes'] / small['amortised_bytes']:.2f}x")


if __name__ == "__main__":
    main()
