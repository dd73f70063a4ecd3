"""What the rendering bounds cost a normal score: this tree against an older one.

Two whole-process cases, run in interleaved rounds (this tree, baseline, this tree,
baseline …) on the same interpreter, each side importing its own ``mzt`` package
through ``PYTHONPATH``:

* ``mzt validate examples/hello.yaml``;
* ``mzt run -q`` of a fresh 200-sheet score of ``true`` sheets through the ``cli``
  instrument, whose template loops over a few items, formats and joins (so the bounded
  paths are exercised), with one ``{sheet_num:03d}`` validation path per sheet.

Printed per case: both medians and the median of the per-round ratios with min–max.

Usage: python bench/bounds_overhead.py --baseline DIR [--rounds 5]
where DIR holds an older ``mzt`` package, e.g. ``git archive REV mzt | tar -x -C DIR``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from _shared import compare, environment, run, write_score

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = (
    "{% for i in range(3) %}{{ '%02d' % i }}-{{ '{:>4}'.format(sheet_num) ~ '.' }}"
    "{% endfor %} {{ ['a', 'b'] | join(',') }} true"
)


def _score(folder: Path, sheets: int) -> Path:
    return write_score(
        folder / "score.yaml",
        {
            "name": "bounds",
            "workspace": str(folder / "ws"),
            "instrument": "cli",
            "pause_between_sheets_seconds": 0,
            "sheet": {"size": 1, "total_items": sheets},
            "prompt": {"template": "true # " + TEMPLATE},
            "validations": [{"type": "file_exists", "path": "{workspace}/../score.yaml"}],
        },
    )


def _mzt(source: Path, *args: str, home: Path) -> float:
    env = environment(home, PYTHONPATH=str(source))
    return run([sys.executable, "-m", "mzt", *args], env=env, cwd=ROOT).seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sheets", type=int, default=200)
    options = parser.parse_args()
    sides = {"this tree": ROOT, "baseline": options.baseline.resolve()}
    times: dict[str, dict[str, list[float]]] = {"validate": {}, "run": {}}
    with tempfile.TemporaryDirectory(prefix="mzt-bounds-") as tmp:
        for number in range(options.rounds):
            for name, source in sides.items():
                folder = Path(tmp) / f"{name.replace(' ', '-')}-{number}"
                folder.mkdir()
                home = folder / "home"
                hello = str(ROOT / "examples" / "hello.yaml")
                times["validate"].setdefault(name, []).append(
                    _mzt(source, "validate", hello, home=home)
                )
                score = str(_score(folder, options.sheets))
                times["run"].setdefault(name, []).append(
                    _mzt(source, "run", "-q", score, home=home)
                )
    for case, label in (
        ("validate", "mzt validate examples/hello.yaml"),
        ("run", f"mzt run of {options.sheets} sheets"),
    ):
        a, b = times[case]["this tree"], times[case]["baseline"]
        compare(label, "this tree", a, "baseline", b, target="≈ 1.0×")


if __name__ == "__main__":
    main()
