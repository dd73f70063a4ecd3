"""How long `mzt validate` takes on large scores, next to Python's own start-up.

Generates two scores of ``--sheets`` sheets (default 10,000) in a temporary folder — one
whose sheets come from a fan-out (3 stages: 1 → N−2 voices → 1, with validations keyed
on stage and voice), and a plain one of N solo sheets in the default chain — then times,
as whole processes, in the same order every round:

* ``python -c pass`` on the interpreter the ``mzt`` script uses (the floor);
* ``python -c "import mzt.api"`` (the floor any command pays for importing mzt);
* ``mzt validate -q SCORE`` for each score, end to end.

Printed for each ``mzt validate``: its median, the median of the per-round ratios to
``python -c pass`` and to the import with their min–max. Nothing is asserted.

Usage: python bench/validate_large.py [--rounds 7] [--sheets 10000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

from _shared import machine, mzt_command, mzt_python, run, spread


def fan_out_score(sheets: int) -> str:
    return f"""\
name: bench-fan-out
workspace: ./workspace
instrument: claude-code
instrument_fallbacks: [gemini-cli]
sheet:
  size: 1
  total_items: 3
  fan_out:
    2: {sheets - 2}
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


def plain_score(sheets: int) -> str:
    return f"""\
name: bench-plain
workspace: ./workspace
instrument: claude-code
sheet:
  size: 1
  total_items: {sheets}
prompt:
  template: "Process item {{{{ start_item }}}} of {{{{ total_sheets }}}}."
validations:
  - type: file_exists
    path: "{{workspace}}/item-{{sheet_num}}.md"
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--sheets", type=int, default=10_000, help="sheets of each score")
    args = parser.parse_args()
    python = mzt_python()
    with tempfile.TemporaryDirectory(prefix="mzt-bench-validate-") as folder:
        scores = {
            "fan-out": Path(folder, "fan-out.yaml"),
            "plain": Path(folder, "plain.yaml"),
        }
        scores["fan-out"].write_text(fan_out_score(args.sheets), encoding="utf-8")
        scores["plain"].write_text(plain_score(args.sheets), encoding="utf-8")
        sides = {
            "python -c pass": [python, "-c", "pass"],
            'python -c "import mzt.api"': [python, "-c", "import mzt.api"],
            **{
                f"mzt validate -q {kind}": [*mzt_command(), "validate", "-q", str(path)]
                for kind, path in scores.items()
            },
        }
        for kind, path in scores.items():  # the score must be valid, or the figure means little
            checked = run([*mzt_command(), "validate", "--json", str(path)], keep_stdout=True)
            report = json.loads(checked.stdout)
            if not report.get("valid") or report.get("total_sheets") != args.sheets:
                raise SystemExit(f"the {kind} score: {report}")
        times: dict[str, list[float]] = {label: [] for label in sides}
        for _ in range(args.rounds):
            for label, argv in sides.items():
                times[label].append(run(argv, cwd=Path(folder)).seconds)
    floor, imports = times["python -c pass"], times['python -c "import mzt.api"']
    print(f"machine: {machine()}")
    print(f"{args.rounds} rounds, {args.sheets:,} sheets per score; medians, ratios per round\n")
    for label, values in times.items():
        print(f"{label:<30} median {statistics.median(values) * 1000:8.1f} ms")
        if label != "python -c pass":
            to_floor = [v / f for v, f in zip(values, floor, strict=True)]
            print(f"    × python -c pass           {spread(to_floor, '×')}")
        if label.startswith("mzt validate"):
            to_imports = [v / i for v, i in zip(values, imports, strict=True)]
            print(f"    × import mzt.api           {spread(to_imports, '×')}")


if __name__ == "__main__":
    main()
