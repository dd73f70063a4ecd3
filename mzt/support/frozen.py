"""Small immutable value classes without :mod:`dataclasses`.

Importing `dataclasses` imports `inspect` (with `ast`, `dis`, `tokenize`): about 15 ms,
a visible share of the answers cron repeats (`mzt run` of a completed job). The value
classes those answers build derive from `Frozen` instead: equality, hash and repr come
from their ``__slots__``, and attributes cannot be set once ``__init__`` has run.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not `typing`: its import is a share of the same answers

if TYPE_CHECKING:
    from typing import Any


class Frozen:
    """A value: its fields are its ``__slots__``, set once through :meth:`_set`."""

    __slots__: tuple[str, ...] = ()

    def _set(self, **values: Any) -> None:
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in type(self).__slots__)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable: cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable: cannot delete {name!r}")

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, Frozen)
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        fields = ", ".join(
            f"{name}={value!r}"
            for name, value in zip(type(self).__slots__, self._values(), strict=True)
        )
        return f"{type(self).__name__}({fields})"
