"""Checks of single values for :mod:`mzt.support.strictcheck`: numbers, strings, literals.

Each check takes ``(value, loc, errors, lax)`` and returns the value (an integer made a
float where a float is expected) or :data:`FAIL`, after appending the problem to ``errors``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from mzt.support.strictmodel import ErrorDetails

Loc = tuple[int | str, ...]
Errors = list[ErrorDetails]
Check = Callable[[Any, Loc, Errors, bool], Any]

FAIL: Any = type("_Fail", (), {"__repr__": lambda self: "<invalid>"})()
"""What a check returns for a value it refused (the problems are in ``errors``)."""


def add(errors: Errors, kind: str, loc: Loc, msg: str, value: Any) -> Any:
    """Record one problem; returns :data:`FAIL` for the caller to pass on."""
    errors.append({"type": kind, "loc": loc, "msg": msg, "input": value})
    return FAIL


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def numeric_bounds(bounds: dict[str, Any]) -> Callable[[Any, Loc, Errors, Any], Any] | None:
    gt, ge, lt, le = (bounds.get(k) for k in ("gt", "ge", "lt", "le"))
    if gt is None and ge is None and lt is None and le is None:
        return None

    def bounded(value: Any, loc: Loc, errors: Errors, given: Any) -> Any:
        # `given` is the value as written (an integer for a float field), for the message.
        if gt is not None and not value > gt:
            return add(errors, "greater_than", loc, f"Input should be greater than {gt}", given)
        if ge is not None and not value >= ge:
            return add(
                errors,
                "greater_than_equal",
                loc,
                f"Input should be greater than or equal to {ge}",
                given,
            )
        if lt is not None and not value < lt:
            return add(errors, "less_than", loc, f"Input should be less than {lt}", given)
        if le is not None and not value <= le:
            return add(
                errors, "less_than_equal", loc, f"Input should be less than or equal to {le}", given
            )
        return value

    return bounded


def int_check(bounds: dict[str, Any]) -> Check:
    bounded = numeric_bounds(bounds)

    def check(value: Any, loc: Loc, errors: Errors, lax: bool) -> Any:
        if type(value) is not int:
            if lax and isinstance(value, str) and re.fullmatch(r"[+-]?\d+", value.strip()):
                value = int(value)
            else:
                return add(errors, "int_type", loc, "Input should be a valid integer", value)
        return bounded(value, loc, errors, value) if bounded else value

    return check


def float_check(bounds: dict[str, Any]) -> Check:
    bounded = numeric_bounds(bounds)

    def check(given: Any, loc: Loc, errors: Errors, lax: bool) -> Any:
        kind = type(given)
        if kind is int:
            try:
                value = float(given)
            except OverflowError:
                return add(errors, "float_type", loc, "Input should be a valid number", given)
        elif kind is float:
            value = given
        else:
            return add(errors, "float_type", loc, "Input should be a valid number", given)
        if not math.isfinite(value):
            return add(errors, "finite_number", loc, "Input should be a finite number", given)
        return bounded(value, loc, errors, given) if bounded else value

    return check


def str_check(bounds: dict[str, Any]) -> Check:
    shortest, longest = bounds.get("min_length"), bounds.get("max_length")
    pattern = bounds.get("pattern")
    compiled = re.compile(pattern) if pattern is not None else None

    def check(value: Any, loc: Loc, errors: Errors, lax: bool) -> Any:
        if type(value) is not str:
            return add(errors, "string_type", loc, "Input should be a valid string", value)
        if shortest is not None and len(value) < shortest:
            what = f"String should have at least {plural(shortest, 'character')}"
            return add(errors, "string_too_short", loc, what, value)
        if longest is not None and len(value) > longest:
            what = f"String should have at most {plural(longest, 'character')}"
            return add(errors, "string_too_long", loc, what, value)
        if compiled is not None and not compiled.search(value):
            what = f"String should match pattern '{pattern}'"
            return add(errors, "string_pattern_mismatch", loc, what, value)
        return value

    return check


def bool_check(value: Any, loc: Loc, errors: Errors, lax: bool) -> Any:
    if type(value) is not bool:
        return add(errors, "bool_type", loc, "Input should be a valid boolean", value)
    return value


def none_check(value: Any, loc: Loc, errors: Errors, lax: bool) -> Any:
    if value is not None:
        return add(errors, "none_required", loc, "Input should be None", value)
    return value


def anything_check(value: Any, loc: Loc, errors: Errors, lax: bool) -> Any:
    return value


def literal_check(choices: tuple[Any, ...]) -> Check:
    shown = [repr(c) for c in choices]
    expected = shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " or " + shown[-1]
    allowed = {(type(c), c) for c in choices}

    def check(value: Any, loc: Loc, errors: Errors, lax: bool) -> Any:
        try:
            if (type(value), value) in allowed:
                return value
        except TypeError:  # an unhashable value is no literal
            pass
        return add(errors, "literal_error", loc, f"Input should be {expected}", value)

    return check
