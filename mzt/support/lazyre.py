"""Regular expressions compiled at their first use rather than at import.

Compiling costs 0.1–1 ms a pattern. A module's patterns for rare paths (a failure's
classification, a rate-limit notice, a secret's second look) were compiled by every
process that imported it, an attempt on a Slurm node included, which never meets most of
them. A `LazyPattern` offers the methods mzt calls on a pattern and compiles on the first.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any, AnyStr, Generic


class LazyPattern(Generic[AnyStr]):
    """``re.compile(source, flags)``, done when first needed (two threads may both do it)."""

    __slots__ = ("_compiled", "_flags", "_source")

    def __init__(self, source: AnyStr, flags: int = 0) -> None:
        self._source: AnyStr = source
        self._flags = flags
        self._compiled: re.Pattern[AnyStr] | None = None

    @property
    def compiled(self) -> re.Pattern[AnyStr]:
        found = self._compiled
        if found is None:
            found = self._compiled = re.compile(self._source, self._flags)
        return found

    def search(self, string: AnyStr, pos: int = 0) -> re.Match[AnyStr] | None:
        return self.compiled.search(string, pos)

    def match(self, string: AnyStr, pos: int = 0) -> re.Match[AnyStr] | None:
        return self.compiled.match(string, pos)

    def fullmatch(self, string: AnyStr) -> re.Match[AnyStr] | None:
        return self.compiled.fullmatch(string)

    def finditer(self, string: AnyStr) -> Iterator[re.Match[AnyStr]]:
        return self.compiled.finditer(string)

    def findall(self, string: AnyStr) -> list[Any]:
        return self.compiled.findall(string)

    def sub(
        self, repl: AnyStr | Callable[[re.Match[AnyStr]], AnyStr], string: AnyStr, count: int = 0
    ) -> AnyStr:
        return self.compiled.sub(repl, string, count)
