"""The checks behind :mod:`mzt.support.strictmodel`: types compiled to small functions.

Each field's type is turned, once per model, into a function ``check(value, loc, errors,
lax)`` that returns the checked value or :data:`FAIL` after appending what is wrong to
``errors``. Checking goes on after a problem, so every problem of a document is found in
one pass. The wording of the problems is the one people know from other strict models
("Input should be a valid integer"), and each has the kind and place the score loader
needs to point at a line.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from typing import Any, TypeVar

from mzt.support.strictmodel import FieldInfo, StrictModel, ValidationError, resolve_annotation
from mzt.support.strictscalars import (
    FAIL,
    Check,
    Errors,
    Loc,
    add,
    anything_check,
    bool_check,
    float_check,
    int_check,
    literal_check,
    none_check,
    plural,
    str_check,
)

_NONE = type(None)
M = TypeVar("M", bound=StrictModel)


# --- containers -------------------------------------------------------------------


def _list(item: Check, bounds: dict[str, Any]) -> Check:
    shortest, longest = bounds.get("min_length"), bounds.get("max_length")

    def check(value: Any, loc: Loc, errors: Errors, lax: bool) -> Any:
        if type(value) is not list:
            return add(errors, "list_type", loc, "Input should be a valid list", value)
        before = len(errors)
        out = [item(v, (*loc, i), errors, lax) for i, v in enumerate(value)]
        if len(errors) > before:
            return FAIL
        if shortest is not None and len(out) < shortest:
            what = f"List should have at least {plural(shortest, 'item')} after validation"
            return add(errors, "too_short", loc, f"{what}, not {len(out)}", value)
        if longest is not None and len(out) > longest:
            what = f"List should have at most {plural(longest, 'item')} after validation"
            return add(errors, "too_long", loc, f"{what}, not {len(out)}", value)
        return out

    return check


def _frozenset(item: Check) -> Check:
    def check(value: Any, loc: Loc, errors: Errors, lax: bool) -> Any:
        if type(value) is not frozenset:
            return add(errors, "frozen_set_type", loc, "Input should be a valid frozenset", value)
        before = len(errors)
        out = frozenset(item(v, (*loc, i), errors, lax) for i, v in enumerate(value))
        return FAIL if len(errors) > before else out

    return check


def _dict(key: Check, item: Check) -> Check:
    def check(value: Any, loc: Loc, errors: Errors, lax: bool) -> Any:
        if type(value) is not dict:
            return add(errors, "dict_type", loc, "Input should be a valid dictionary", value)
        before = len(errors)
        out = {}
        for k, v in value.items():
            checked_key = key(k, (*loc, k, "[key]"), errors, lax)
            checked = item(v, (*loc, k), errors, lax)
            if checked_key is not FAIL and checked is not FAIL:
                out[checked_key] = checked
        return FAIL if len(errors) > before else out

    return check


def _nullable(inner: Check) -> Check:
    def check(value: Any, loc: Loc, errors: Errors, lax: bool) -> Any:
        return None if value is None else inner(value, loc, errors, lax)

    return check


def _union(members: list[tuple[str, Check]]) -> Check:
    def check(value: Any, loc: Loc, errors: Errors, lax: bool) -> Any:
        found: Errors = []
        for tag, member in members:
            attempt: Errors = []
            checked = member(value, (*loc, tag), attempt, lax)
            if checked is not FAIL:
                return checked
            found.extend(attempt)
        errors.extend(found)
        return FAIL

    return check


def _tag(tp: Any) -> str:
    """How a union member is named in a problem's place (never a key of the data)."""
    if isinstance(tp, type):
        return tp.__name__
    return repr(tp).replace("typing.", "")


def compile_type(tp: Any, bounds: dict[str, Any] | None = None) -> Check:
    """The check for values of type ``tp`` with the field's ``bounds`` (ge, min_length…)."""
    bounds = bounds or {}
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        base, *extras = typing.get_args(tp)
        merged: dict[str, Any] = {}
        for extra in extras:
            if isinstance(extra, FieldInfo):
                merged.update(extra.bounds())
        return compile_type(base, {**merged, **bounds})
    if origin in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(tp) if a is not _NONE]
        if len(members) == 1:
            inner = compile_type(members[0], bounds)
        else:
            inner = _union([(_tag(m), compile_type(m, bounds)) for m in members])
        return _nullable(inner) if len(members) < len(typing.get_args(tp)) else inner
    if origin is typing.Literal:
        return literal_check(typing.get_args(tp))
    if origin is list:
        (item,) = typing.get_args(tp)
        return _list(compile_type(item), bounds)
    if origin is frozenset:
        (item,) = typing.get_args(tp)
        return _frozenset(compile_type(item))
    if origin is dict:
        key, item = typing.get_args(tp)
        return _dict(compile_type(key), compile_type(item))
    scalars: dict[Any, Callable[[dict[str, Any]], Check]] = {
        int: int_check,
        float: float_check,
        str: str_check,
    }
    if tp in scalars:
        return scalars[tp](bounds)
    simple: dict[Any, Check] = {
        bool: bool_check,
        _NONE: none_check,
        None: none_check,
        typing.Any: anything_check,
    }
    if tp in simple:
        return simple[tp]
    if isinstance(tp, type) and issubclass(tp, StrictModel):
        return _model_check(tp)
    raise TypeError(f"a strict model cannot check values of type {tp!r}")


# --- models -----------------------------------------------------------------------


def resolve_fields(cls: type) -> dict[str, FieldInfo]:
    """The model's fields with their types evaluated (once)."""
    fields: dict[str, FieldInfo] = cls.__strict_fields__  # type: ignore[attr-defined]
    written: dict[str, tuple[type, Any]] = cls.__strict_written__  # type: ignore[attr-defined]
    for name, info in fields.items():
        if info.annotation is None:
            owner, text = written[name]
            info.annotation = resolve_annotation(owner, text)
    return fields


class _Plan:
    """Everything needed to check data against one model, compiled from its class."""

    def __init__(self, cls: type[StrictModel]) -> None:
        fields = resolve_fields(cls)
        validators = cls.__strict_validators__  # type: ignore[attr-defined]
        self.cls = cls
        self.allow_extra = cls.model_config["extra"] == "allow"
        self.before = [v for kind, mode, _, v in validators if kind == "model" and mode == "before"]
        self.after = [v for kind, mode, _, v in validators if kind == "model" and mode == "after"]
        self.fields: list[tuple[str, str, FieldInfo, Check, list[Any], list[Any]]] = []
        for name, info in fields.items():
            field_before = [
                v
                for kind, mode, names, v in validators
                if kind == "field" and mode == "before"
                if name in names
            ]
            field_after = [
                v
                for kind, mode, names, v in validators
                if kind == "field" and mode == "after"
                if name in names
            ]
            check = compile_type(info.annotation, info.bounds())
            self.fields.append((name, info.alias or name, info, check, field_before, field_after))
        self.keys = {key for _, key, _, _, _, _ in self.fields} | {n for n, *_ in self.fields}

    def run(self, data: Any, loc: Loc, errors: Errors, lax: bool) -> Any:
        cls = self.cls
        for hook in self.before:
            try:
                data = hook.__get__(None, cls)(data)
            except ValueError as exc:
                return add(errors, "value_error", loc, f"Value error, {exc}", data)
        if isinstance(data, cls):
            return data
        if type(data) is not dict:
            what = f"Input should be a valid dictionary or instance of {cls.__name__}"
            return add(errors, "model_type", loc, what, data)
        before = len(errors)
        values: dict[str, Any] = {}
        given: set[str] = set()
        for name, key, info, check, field_before, field_after in self.fields:
            if key in data:
                where = key
            elif name in data:
                where = name
            else:
                if info.required:
                    add(errors, "missing", (*loc, key), "Field required", data)
                else:
                    values[name] = info.make_default()
                continue
            value = data[where]
            value = _hooks(field_before, cls, value, (*loc, where), errors)
            if value is not FAIL:
                value = check(value, (*loc, where), errors, lax)
            if value is not FAIL:
                value = _hooks(field_after, cls, value, (*loc, where), errors)
            values[name] = value
            given.add(name)
        extra: dict[str, Any] | None = {} if self.allow_extra else None
        for key, value in data.items():
            if key in self.keys:
                continue
            if type(key) is not str:
                add(errors, "invalid_key", (*loc, key), "Keys should be strings", key)
            elif extra is None:
                add(errors, "extra_forbidden", (*loc, key), "Extra inputs are not permitted", value)
            else:
                extra[key] = value
        if len(errors) > before:
            return FAIL
        instance = object.__new__(cls)
        instance.__dict__.update(values)
        instance.__dict__["_fields_set"] = frozenset(given)
        instance.__dict__["_extra"] = extra
        for hook in self.after:
            try:
                instance = hook(instance)
            except ValueError as exc:
                return add(errors, "value_error", loc, f"Value error, {exc}", data)
        return instance


def _hooks(hooks: list[Any], cls: type, value: Any, loc: Loc, errors: Errors) -> Any:
    for hook in hooks:
        try:
            value = hook.__get__(None, cls)(value)
        except ValueError as exc:
            return add(errors, "value_error", loc, f"Value error, {exc}", value)
    return value


def _plan(cls: type[StrictModel]) -> _Plan:
    plan: _Plan | None = cls.__dict__.get("__strict_plan__")
    if plan is None:
        plan = _Plan(cls)
        cls.__strict_plan__ = plan  # type: ignore[attr-defined]
    return plan


def _model_check(cls: type[StrictModel]) -> Check:
    # Looked up at call time: models refer to each other before all are compiled.
    def check(value: Any, loc: Loc, errors: Errors, lax: bool) -> Any:
        return _plan(cls).run(value, loc, errors, lax)

    return check


def validate(cls: type[M], data: Any, *, lax: bool = False) -> M:
    """``data`` checked against ``cls``; raises `ValidationError` listing every problem."""
    errors: Errors = []
    result = _plan(cls).run(data, (), errors, lax)
    if result is FAIL:
        raise ValidationError(cls.__name__, errors)
    instance: M = result
    return instance


def validate_into(instance: StrictModel, data: dict[str, Any]) -> None:
    """Fill ``instance`` (being constructed from keywords) from checked ``data``."""
    cls = type(instance)
    if not data and _all_defaults(cls):
        _fill_defaults(instance)
        return
    checked = validate(cls, data)
    instance.__dict__.update(checked.__dict__)


def _all_defaults(cls: type[StrictModel]) -> bool:
    """Whether ``cls()`` needs no checking: every field has a default, nothing runs first.

    Defaults are not checked (they are written by mzt, not read from a file), so a model
    made from no data at all is its defaults: most blocks of most scores are absent, and
    their models need neither their types evaluated nor their checks compiled.
    """
    fields: dict[str, FieldInfo] = cls.__strict_fields__  # type: ignore[attr-defined]
    validators = cls.__strict_validators__  # type: ignore[attr-defined]
    return all(not f.required for f in fields.values()) and not any(
        mode == "before" for _, mode, _, _ in validators
    )


def _fill_defaults(instance: StrictModel) -> None:
    cls = type(instance)
    fields: dict[str, FieldInfo] = cls.__strict_fields__  # type: ignore[attr-defined]
    values = {name: info.make_default() for name, info in fields.items()}
    instance.__dict__.update(values)
    instance.__dict__["_fields_set"] = frozenset()
    instance.__dict__["_extra"] = {} if cls.model_config["extra"] == "allow" else None
    for kind, mode, _, hook in cls.__strict_validators__:  # type: ignore[attr-defined]
        if kind == "model" and mode == "after":
            hook(instance)  # a default that breaks its own model's rule is mzt's bug: raise
