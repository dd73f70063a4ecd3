"""The package layout is the data flow: imports run one way and never in a circle.

Each package may import only the packages below it in `LAYERS` (packages on one line are
siblings and may not import each other); the command line imports nothing but `mzt.api`
and itself. Module-level import cycles are refused everywhere, and modules stay small.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "mzt"

# Highest first. A package may import any package on a later line.
LAYERS: list[set[str]] = [
    {"__main__"},
    {"entry"},
    {"cli"},
    {"api"},
    {"views", "run"},
    {"execute"},
    {"validation"},
    {"score"},
    {"instruments", "machine"},
    {"state"},
    {"support"},
]
MAX_LINES = 420


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


MODULES = _modules()


def _imports(path: Path, *, top_level_only: bool) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    names: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.If) and top_level_only:
            continue  # `if TYPE_CHECKING:` blocks never run
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] != "mzt":
                continue
            names.add(node.module)
            names.update(
                f"{node.module}.{alias.name}"
                for alias in node.names
                if f"{node.module}.{alias.name}" in MODULES
            )
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names if a.name.split(".")[0] == "mzt")
    return {name for name in names if name in MODULES}


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "mzt"


def _layer(package: str) -> int:
    for index, layer in enumerate(LAYERS):
        if package in layer:
            return index
    raise AssertionError(f"package mzt.{package} is in no layer of tests/test_layout.py")


def test_packages_import_only_the_layers_below_them() -> None:
    wrong = []
    for module, path in MODULES.items():
        source = _package(module)
        if source == "mzt":
            continue
        for target in _imports(path, top_level_only=False):
            dest = _package(target)
            if dest in (source, "mzt"):
                continue
            if _layer(dest) <= _layer(source):
                wrong.append(f"{module} imports {target}")
    assert not wrong, "imports against the flow:\n" + "\n".join(sorted(wrong))


def test_the_command_line_goes_through_the_api() -> None:
    wrong = [
        f"{module} imports {target}"
        for module, path in MODULES.items()
        if _package(module) == "cli"
        for target in _imports(path, top_level_only=False)
        if _package(target) not in ("cli", "api", "mzt")
    ]
    assert not wrong, "\n".join(wrong)


def test_no_module_level_import_cycle() -> None:
    # A package is always imported before its modules, so a module naming its own package
    # (`from mzt.cli import console` inside mzt.cli) is no cycle.
    graph = {
        m: {t for t in _imports(p, top_level_only=True) if not m.startswith(t + ".") and t != m}
        for m, p in MODULES.items()
    }
    visiting: set[str] = set()
    done: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str, trail: list[str]) -> None:
        if node in done:
            return
        if node in visiting:
            cycles.append([*trail[trail.index(node) :], node])
            return
        visiting.add(node)
        for nxt in sorted(graph.get(node, ())):
            visit(nxt, [*trail, nxt])
        visiting.discard(node)
        done.add(node)

    for module in sorted(graph):
        visit(module, [module])
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_modules_stay_small(module: str) -> None:
    lines = MODULES[module].read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"{module} has {lines} lines; split it by what it owns"


def test_every_package_says_what_it_owns() -> None:
    for module, path in MODULES.items():
        if path.name == "__init__.py":
            tree = ast.parse(path.read_text(encoding="utf-8"))
            assert ast.get_docstring(tree), f"{module} has no docstring"
