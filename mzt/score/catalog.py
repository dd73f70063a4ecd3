"""Instrument names mzt knows before anything runs, for checking and planning a score.

A thin view of the instrument registry (`mzt.instruments`), which is the one place
that reads profiles. It adds one thing: a profile file that is broken but declares a
``name`` still makes that name known, so a score using it is not told the instrument
does not exist; `Catalog.problem` says what is wrong with the file instead.
"""

from __future__ import annotations

from pathlib import Path

from mzt.instruments import ProfileProblem, Registry, load_instruments
from mzt.instruments.loader import DEFAULT_TIMEOUT_SECONDS
from mzt.support import records


@records.record(frozen=True, slots=True)
class Catalog:
    """Known instrument names and their default timeouts."""

    registry: Registry
    broken: dict[str, ProfileProblem] = records.field(default_factory=dict)

    def __contains__(self, name: object) -> bool:
        return name in self.registry or name in self.broken

    def default_timeout(self, name: str) -> float | None:
        """The profile's attempt timeout; None for a name nobody defines."""
        timeout = self.registry.default_timeout(name)
        if timeout is None and name in self.broken:
            return self.broken[name].default_timeout_seconds or DEFAULT_TIMEOUT_SECONDS
        return timeout

    def names(self) -> list[str]:
        """Every instrument name a score may use, sorted."""
        return sorted({*self.registry.names(), *self.broken})

    def problem(self, name: str) -> ProfileProblem | None:
        """Why the profile file defining ``name`` was skipped, when it was broken."""
        return self.broken.get(name)

    @property
    def problems(self) -> tuple[ProfileProblem, ...]:
        """Every profile file that was skipped."""
        return self.registry.problems


def load_catalog(home: Path | None = None, cwd: Path | None = None) -> Catalog:
    """Built-ins, then profiles in MZT_HOME/instruments, then ./.marianne/instruments."""
    registry = load_instruments(home, cwd)
    # Built-in names are known without reading their files, so only the user's files can
    # add broken names; reading every built-in here would undo the registry's laziness.
    problems = registry.file_problems
    broken = {p.name: p for p in problems if p.name is not None and p.name not in registry}
    return Catalog(registry, broken)
