"""How long `mzt validate` takes on 10,000-sheet scores, next to Python's own start-up.

Generates two scores in a temporary folder — one whose 10,000 sheets come from a
fan-out (3 stages: 1 → 9,998 voices → 1, with validations keyed on stage and voice),
and a plain one of 10,000 solo sheets in the default chain — then prints the median
wall time of:

* ``python -c pass`` and ``python -c "import mzt.api"`` (the floor any command pays),
* ``mzt validate SCORE`` run as a separate process, end to end,
* ``mzt.api.validate_score(SCORE)`` called in-process (load, expand, check).

Nothing is asserted: the figures are for reading as ratios on the machine at hand.

    .venv/bin/python bench/validate_large.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

SHEETS = 10_000

FAN_OUT_SCORE = f"""\
name: bench-fan-out
workspace: ./workspace
instrument: claude-code
instrument_fallbacks: [gemini-cli]
sheet:
  size: 1
  total_items: 3
  fan_out:
    2: {SHEETS - 2}
  dependencies:
    2: [1]
    3: [2]
movements:
  1: {{name: plan}}
  2: {{name: work}}
  3: {{name: merge}}
parallel:
  enabled: true
  max_concurrent: 10
prompt:
  variables:
    topic: load testing
  template: |
    {{% if stage == 1 %}}Plan {{{{ fan_count }}}} pieces of work on {{{{ topic }}}}.
    {{% elif stage == 2 %}}Do piece {{{{ instance }}}} of {{{{ fan_count }}}}.
    {{% else %}}Merge the pieces into {{{{ workspace }}}}/result.md.{{% endif %}}
validations:
  - type: file_exists
    path: "{{workspace}}/piece-{{instance}}.md"
    condition: "stage == 2"
  - type: content_regex
    path: "{{workspace}}/piece-{{instance}}.md"
    pattern: "^## Done"
    condition: "stage == 2 and instance >= 1"
  - type: command_succeeds
    command: "test -s {{workspace}}/result.md"
    condition: "stage == 3"
"""

PLAIN_SCORE = f"""\
name: bench-plain
workspace: ./workspace
instrument: claude-code
sheet:
  size: 1
  total_items: {SHEETS}
prompt:
  template: "Process item {{{{ start_item }}}} of {{{{ total_sheets }}}}."
validations:
  - type: file_exists
    path: "{{workspace}}/item-{{sheet_num}}.md"
"""


def median_seconds(action: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def run_quietly(argv: list[str]) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({result.returncode}):\n{result.stderr}")


def mzt_command() -> list[str]:
    script = Path(sys.executable).with_name("mzt")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "mzt"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="runs per figure (median is shown)")
    args = parser.parse_args()
    runs = max(1, args.runs)

    from mzt import api  # imported here so the start-up figures above stay honest

    with tempfile.TemporaryDirectory(prefix="mzt-bench-") as folder:
        scores = {
            "fan-out": Path(folder, "fan-out.yaml"),
            "plain": Path(folder, "plain.yaml"),
        }
        scores["fan-out"].write_text(FAN_OUT_SCORE, encoding="utf-8")
        scores["plain"].write_text(PLAIN_SCORE, encoding="utf-8")
        for kind, path in scores.items():
            result = api.validate_score(path)
            if not result.valid or result.plan is None:
                raise SystemExit(f"the {kind} score does not validate: {result.errors}")
            if result.plan.total_sheets != SHEETS:
                raise SystemExit(f"the {kind} score has {result.plan.total_sheets} sheets")

        rows: list[tuple[str, float]] = [
            (
                "python -c pass",
                median_seconds(lambda: run_quietly([sys.executable, "-c", "pass"]), runs),
            ),
            (
                'python -c "import mzt.api"',
                median_seconds(lambda: run_quietly([sys.executable, "-c", "import mzt.api"]), runs),
            ),
        ]
        for kind, path in scores.items():
            rows.append(
                (
                    f"mzt validate {kind} ({SHEETS:,} sheets), process",
                    median_seconds(
                        lambda p=path: run_quietly([*mzt_command(), "validate", "-q", str(p)]), runs
                    ),
                )
            )
        for kind, path in scores.items():
            rows.append(
                (
                    f"api.validate_score {kind} ({SHEETS:,} sheets), in-process",
                    median_seconds(lambda p=path: api.validate_score(p), runs),
                )
            )

    floor, imports = rows[0][1], rows[1][1]
    width = max(len(label) for label, _ in rows)
    print(f"median of {runs} runs, Python {sys.version.split()[0]} ({sys.executable})")
    for label, seconds in rows:
        line = (
            f"  {label:<{width}}  {seconds * 1000:8.1f} ms  {seconds / floor:6.1f}× python -c pass"
        )
        if label.startswith("mzt validate"):
            line += f"  ({(seconds - imports) * 1000:+.0f} ms over importing mzt.api)"
        print(line)


if __name__ == "__main__":
    main()
