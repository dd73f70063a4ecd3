"""Instrument names mzt knows before anything runs: built-ins plus user profile files.

Only names and default timeouts are needed to check and plan a score; loading and
running profiles belongs to the instruments themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mzt.paths import local_instruments_dir, user_instruments_dir
from mzt.yamlsafe import YamlProblem, decode, parse

# name → default attempt timeout in seconds
BUILTIN_INSTRUMENTS: dict[str, float] = {
    "claude-code": 1800.0,
    "claude_cli": 1800.0,
    "gemini-cli": 1800.0,
    "codex-cli": 1800.0,
    "aider": 1800.0,
    "goose": 1800.0,
    "cline-cli": 1800.0,
    "crush": 1800.0,
    "opencode": 1800.0,
    "llm": 1800.0,
    "cli": 300.0,
    "anthropic_api": 1800.0,
    "ollama": 1800.0,
    "recursive_light": 1800.0,
}
_MAX_PROFILE_BYTES = 256 * 1024


@dataclass(frozen=True, slots=True)
class Catalog:
    """Known instrument names and their default timeouts."""

    timeouts: dict[str, float]

    def __contains__(self, name: object) -> bool:
        return name in self.timeouts

    def default_timeout(self, name: str) -> float | None:
        return self.timeouts.get(name)

    def names(self) -> list[str]:
        return sorted(self.timeouts)


def load_catalog(home: Path | None = None, cwd: Path | None = None) -> Catalog:
    """Built-ins, then profiles in MZT_HOME/instruments, then ./.marianne/instruments."""
    timeouts = dict(BUILTIN_INSTRUMENTS)
    for folder in (user_instruments_dir(home), local_instruments_dir(cwd)):
        for name, timeout in _profile_names(folder):
            timeouts[name] = timeout
    return Catalog(timeouts)


def _profile_names(folder: Path) -> list[tuple[str, float]]:
    found: list[tuple[str, float]] = []
    try:
        files = sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml"))
    except OSError:
        return found
    for path in files:
        try:
            with path.open("rb") as fh:
                data = parse(decode(fh.read(_MAX_PROFILE_BYTES))).data
        except (OSError, YamlProblem):
            continue  # a broken profile never stops unrelated scores
        if isinstance(data, dict) and isinstance(data.get("name"), str):
            timeout = data.get("default_timeout_seconds", 1800.0)
            ok = isinstance(timeout, int | float) and not isinstance(timeout, bool) and timeout > 0
            found.append((data["name"], float(timeout) if ok else 1800.0))
    return found
