"""Strict, immutable models for the data people write: scores and instrument profiles.

A model is a class of annotated fields. :meth:`StrictModel.model_validate` checks plain
data (what YAML gives) against it and either returns an instance or raises
:class:`ValidationError` listing every problem with its place in the data, so one run of
`mzt validate` reports all of them. The rules never bend: ``"3"`` is not an integer,
``yes`` is not a boolean, ``1`` is not ``true``, unknown keys are errors (unless a model
allows extra keys), and an instance cannot be changed once made.

Why not a general validation library: defining the models with one cost a third of
`mzt validate`'s whole run, before a single score was read. Here a class costs almost
nothing to define, and its checks are compiled the first time it validates data
(:mod:`mzt.support.strictcheck`). The spelling (``Field``, ``model_validator``,
``model_fields_set``…) is the familiar one, so models read as such models usually do.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, ClassVar, Literal, Self, TypedDict, dataclass_transform

from mzt.support.records import FrozenInstanceError

_MISSING: Any = type("_Missing", (), {"__repr__": lambda self: "<required>"})()


class ErrorDetails(TypedDict):
    """One problem found in the data: its kind, where it is, what to say, what was there."""

    type: str
    loc: tuple[int | str, ...]
    msg: str
    input: Any


class ValidationError(ValueError):
    """The data does not fit the model; :meth:`errors` lists every problem found."""

    def __init__(self, title: str, errors: list[ErrorDetails]) -> None:
        lines = [f"{len(errors)} problem(s) in {title}"]
        lines += [f"  {'.'.join(map(str, e['loc'])) or '(top)'}: {e['msg']}" for e in errors]
        super().__init__("\n".join(lines))
        self.title = title
        self._errors = errors

    def errors(self) -> list[ErrorDetails]:
        """The problems, in the order of the model's fields (unknown keys last)."""
        return list(self._errors)


class FieldInfo:
    """A field's default, its key in the data (``alias``), description and bounds."""

    __slots__ = (
        "alias",
        "annotation",
        "default",
        "default_factory",
        "description",
        "ge",
        "gt",
        "le",
        "lt",
        "max_length",
        "min_length",
        "pattern",
    )
    alias: str | None
    annotation: Any
    default: Any
    default_factory: Callable[[], Any] | None
    description: str | None
    ge: float | None
    gt: float | None
    le: float | None
    lt: float | None
    max_length: int | None
    min_length: int | None
    pattern: str | None

    def __init__(self, **settings: Any) -> None:
        """Made by :func:`Field`, whose keywords are the settings (unset ones are None)."""
        for name in self.__slots__:
            setattr(self, name, settings.get(name))
        if "default" not in settings:
            self.default = _MISSING
        self.annotation = None  # the resolved type, filled in when the model is compiled

    @property
    def required(self) -> bool:
        return self.default is _MISSING and self.default_factory is None

    def bounds(self) -> dict[str, Any]:
        """The constraints that are set, by name."""
        names = ("ge", "gt", "le", "lt", "min_length", "max_length", "pattern")
        return {n: getattr(self, n) for n in names if getattr(self, n) is not None}

    def make_default(self) -> Any:
        return self.default_factory() if self.default_factory is not None else self.default


def Field(
    *,
    default: Any = _MISSING,
    default_factory: Callable[[], Any] | None = None,
    alias: str | None = None,
    description: str | None = None,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
    min_length: int | None = None,
    max_length: int | None = None,
    pattern: str | None = None,
) -> Any:
    """Describe a field (as a class attribute) or bound a type (inside ``Annotated``).

    ``default`` is keyword-only: type checkers see a default only when it is named.
    """
    settings = dict(locals())
    if default is _MISSING:
        del settings["default"]
    return FieldInfo(**settings)


Mode = Literal["before", "after"]
_MARK = "__strict_validator__"


def model_validator(*, mode: Mode) -> Callable[[Any], Any]:
    """Mark a check of the whole model.

    ``before``: a classmethod given the raw data, returning the data to check.
    ``after``: a method of the finished instance, returning it; a ``ValueError`` it raises
    becomes a problem at the model's place in the data.
    """

    def mark(function: Any) -> Any:
        target = function.__func__ if isinstance(function, classmethod) else function
        setattr(target, _MARK, ("model", mode, ()))
        return function

    return mark


def field_validator(*names: str, mode: Mode = "after") -> Callable[[Any], Any]:
    """Mark a classmethod that checks (``after``) or prepares (``before``) named fields."""

    def mark(function: Any) -> Any:
        target = function.__func__ if isinstance(function, classmethod) else function
        setattr(target, _MARK, ("field", mode, names))
        return function

    return mark


class ModelMeta(type):
    """Collects a model's fields and validators when its class is defined.

    Types are left as written (strings, under postponed annotations) until the model
    first checks data or someone asks for ``model_fields``: defining a model costs no
    type evaluation at all.
    """

    def __new__(
        mcs, name: str, bases: tuple[type, ...], namespace: dict[str, Any], **kwargs: Any
    ) -> ModelMeta:
        extra = kwargs.pop("extra", None)
        fields: dict[str, FieldInfo] = {}
        validators: list[tuple[str, Mode, tuple[str, ...], Any]] = []
        for base in reversed(bases):
            fields.update(getattr(base, "__strict_fields__", {}))
            validators.extend(getattr(base, "__strict_validators__", ()))
        written: dict[str, tuple[type, Any]] = {}
        own: dict[str, Any] = {}
        for base in reversed(bases):
            written.update(getattr(base, "__strict_written__", {}))
        for field_name, annotation in namespace.get("__annotations__", {}).items():
            text = annotation if isinstance(annotation, str) else repr(annotation)
            if field_name.startswith("_") or text.startswith(("ClassVar", "typing.ClassVar")):
                continue
            value = namespace.pop(field_name, _MISSING)
            fields[field_name] = value if isinstance(value, FieldInfo) else FieldInfo(default=value)
            own[field_name] = annotation
        for attribute in namespace.values():
            target = attribute.__func__ if isinstance(attribute, classmethod) else attribute
            mark = getattr(target, _MARK, None)
            if mark is not None:
                validators.append((*mark, attribute))
        cls = super().__new__(mcs, name, bases, namespace, **kwargs)
        cls.__strict_fields__ = fields  # type: ignore[attr-defined]
        # Each type is evaluated where it was written: a base may live in another module.
        written.update({n: (cls, text) for n, text in own.items()})
        cls.__strict_written__ = written  # type: ignore[attr-defined]
        cls.__strict_validators__ = tuple(validators)  # type: ignore[attr-defined]
        inherited = getattr(cls, "model_config", {}).get("extra", "forbid")
        cls.model_config = {  # type: ignore[attr-defined]
            "extra": extra or inherited,
            "frozen": True,
            "strict": True,
        }
        cls.__strict_plan__ = None  # type: ignore[attr-defined]
        return cls

    @property
    def model_fields(cls) -> dict[str, FieldInfo]:
        """Every field by name, with its resolved type in ``annotation``."""
        from mzt.support.strictcheck import resolve_fields

        return resolve_fields(cls)


_COMPILED: dict[str, Any] = {}


def resolve_annotation(cls: type, text: Any) -> Any:
    """Evaluate a field's written type in the namespace of the module that defined it.

    The same few texts (``str | None``, ``bool``…) recur across all models: each is
    compiled once, which is most of what evaluating it costs.
    """
    if not isinstance(text, str):
        return text
    code = _COMPILED.get(text)
    if code is None:
        code = _COMPILED[text] = compile(text, "<annotation>", "eval")
    module = sys.modules[cls.__module__]
    return eval(code, module.__dict__, {cls.__name__: cls})  # noqa: S307 - our own source


@dataclass_transform(kw_only_default=True, frozen_default=True, field_specifiers=(Field,))
class StrictModel(metaclass=ModelMeta):
    """Base of the models: strict types, no unknown keys, immutable."""

    model_config: ClassVar[dict[str, Any]]

    def __init__(self, **data: Any) -> None:
        from mzt.support.strictcheck import validate_into

        validate_into(self, data)

    @classmethod
    def model_validate(cls, data: Any, *, strict: bool | None = None) -> Self:
        """Check ``data`` and return the model; ``strict=False`` also takes the string
        keys that a JSON round trip leaves for integer keys."""
        from mzt.support.strictcheck import validate

        return validate(cls, data, lax=strict is False)

    @property
    def model_fields_set(self) -> frozenset[str]:
        """Fields the data gave (not filled from defaults)."""
        given: frozenset[str] = self.__dict__["_fields_set"]
        return given

    @property
    def model_extra(self) -> dict[str, Any] | None:
        """Keys the data gave that are not fields (models that allow them), else None."""
        extra: dict[str, Any] | None = self.__dict__["_extra"]
        return extra

    def model_dump(self, *, exclude_none: bool = False) -> dict[str, Any]:
        """Fields (and allowed extra keys) as plain data, nested models too."""
        out = {
            name: _plain(self.__dict__[name], exclude_none)
            for name in type(self).__strict_fields__  # type: ignore[attr-defined]
        }
        out.update(self.model_extra or {})
        if exclude_none:
            return {k: v for k, v in out.items() if v is not None}
        return out

    def model_copy(self, *, update: dict[str, Any] | None = None) -> Self:
        """A copy with some fields replaced (not checked again)."""
        copy = object.__new__(type(self))
        copy.__dict__.update(self.__dict__)
        if update:
            copy.__dict__.update(update)
            copy.__dict__["_fields_set"] = self.model_fields_set | set(update)
        return copy

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"{type(self).__name__} cannot be changed (tried to set {name})")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(
            f"{type(self).__name__} cannot be changed (tried to delete {name})"
        )

    def _values(self) -> tuple[Any, ...]:
        return tuple(self.__dict__[n] for n in type(self).__strict_fields__)  # type: ignore[attr-defined]

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, StrictModel)
        return self._values() == other._values() and self.model_extra == other.model_extra

    def __hash__(self) -> int:
        return hash((type(self), self._values()))

    def __repr__(self) -> str:
        shown = ", ".join(f"{n}={self.__dict__[n]!r}" for n in type(self).__strict_fields__)  # type: ignore[attr-defined]
        return f"{type(self).__name__}({shown})"


def _plain(value: Any, exclude_none: bool) -> Any:
    if isinstance(value, StrictModel):
        return value.model_dump(exclude_none=exclude_none)
    if isinstance(value, list):
        return [_plain(v, exclude_none) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v, exclude_none) for k, v in value.items()}
    return value


def missing() -> Any:
    """The marker of a field without a default (for the checker)."""
    return _MISSING
