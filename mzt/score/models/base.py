"""Shared building blocks of the score models.

Every model is strict (``"3"`` is not an integer, ``yes`` is a boolean only where a
boolean is expected), forbids unknown keys so that typos are errors, and is frozen:
the runner only ever sees a score that cannot change under it (see
:mod:`mzt.support.strictmodel`).
"""

from __future__ import annotations

from typing import Annotated, Any

from mzt.support.strictmodel import Field, StrictModel

SheetNum = Annotated[int, Field(ge=1, description="A sheet (or, under fan-out, stage) number.")]
"""Keys of the integer-keyed maps: positive sheet or stage numbers."""

PositiveFloat = Annotated[float, Field(gt=0)]
NonNegativeFloat = Annotated[float, Field(ge=0)]
NonEmptyStr = Annotated[str, Field(min_length=1)]
Timeout = Annotated[float, Field(gt=0, le=7 * 24 * 3600)]
"""Seconds; finite, positive, at most a week."""

JsonMap = dict[str, Any]


def empty_list() -> list[Any]:
    """A new empty list (``default_factory``)."""
    return []


def empty_dict() -> dict[Any, Any]:
    """A new empty dict (``default_factory``)."""
    return {}


__all__ = [
    "JsonMap",
    "NonEmptyStr",
    "NonNegativeFloat",
    "PositiveFloat",
    "SheetNum",
    "StrictModel",
    "Timeout",
    "empty_dict",
    "empty_list",
]
