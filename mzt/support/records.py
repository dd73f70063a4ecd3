"""Plain record classes, declared like dataclasses and about ten times cheaper to define.

``@dataclass`` writes and compiles five or six methods for every class it decorates:
1–1.7 ms each, and mzt defines some eighty record classes, so a one-sheet `mzt run`
spent 60–80 ms of its start-up, and `mzt validate` 15 ms, only defining classes. A
``@record`` class gets one compiled method, ``__init__`` (so making instances stays as
fast as with dataclasses), compiled when the first instance is made; equality, hashing,
``repr`` and immutability come from shared functions that read the class's field list.

What it offers is the part of dataclasses mzt uses: fields with defaults or default
factories, ``init=False`` and ``compare=False`` fields, ``__post_init__``, ``frozen``
and ``slots``, :func:`fields` and :func:`replace`. Equality compares fields of the same
class; a mutable record with equality is unhashable, a frozen one hashes its fields.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not `typing`: the no-op `mzt run` builds records, and no typing

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar, dataclass_transform, overload

    T = TypeVar("T")
else:

    def dataclass_transform(**_: object) -> object:
        return lambda function: function


_MISSING: Any = type("_Missing", (), {"__repr__": lambda self: "<no default>"})()


class FrozenInstanceError(AttributeError):
    """Raised on any attempt to change a frozen record."""


class _Field:
    __slots__ = ("compare", "default", "default_factory", "init", "name")

    def __init__(
        self, default: Any, default_factory: Any, init: bool, compare: bool, name: str = ""
    ) -> None:
        self.name = name
        self.default = default
        self.default_factory = default_factory
        self.init = init
        self.compare = compare


def field(
    *,
    default: Any = _MISSING,
    default_factory: Callable[[], Any] = _MISSING,
    init: bool = True,
    compare: bool = True,
) -> Any:
    """A field's default (a value or a factory called per instance) and its options."""
    return _Field(default, default_factory, init, compare)


if TYPE_CHECKING:

    @overload
    def record(cls: type[T], /) -> type[T]: ...
    @overload
    def record(*, frozen: bool = False, slots: bool = False) -> Callable[[type[T]], type[T]]: ...


@dataclass_transform(field_specifiers=(field,))
def record(
    cls: type[T] | None = None, /, *, frozen: bool = False, slots: bool = False
) -> type[T] | Callable[[type[T]], type[T]]:
    """Make ``cls`` a record of its annotated fields (see the module's notes)."""

    def build(target: type[T]) -> type[T]:
        return _build(target, frozen=frozen, slots=slots)

    return build if cls is None else build(cls)


def fields(kind: type | object) -> tuple[Any, ...]:
    """The fields of a record class or instance, in order (each has a ``name``)."""
    target = kind if isinstance(kind, type) else type(kind)
    found: tuple[Any, ...] = target.__record_fields__  # type: ignore[attr-defined]
    return found


def replace(instance: T, /, **changes: Any) -> T:
    """A new record like ``instance`` with some fields changed (``__init__`` runs again)."""
    fields: tuple[_Field, ...] = type(instance).__record_fields__  # type: ignore[attr-defined]
    values = {f.name: getattr(instance, f.name) for f in fields if f.init}
    values.update(changes)
    return type(instance)(**values)


def _build(cls: type[T], *, frozen: bool, slots: bool) -> type[T]:
    fields: dict[str, _Field] = {}
    for base in reversed(cls.__mro__[1:]):
        for inherited in getattr(base, "__record_fields__", ()):
            fields[inherited.name] = inherited
    own = _own_annotations(cls)
    for name, annotation in own.items():
        text = annotation if isinstance(annotation, str) else repr(annotation)
        if text.startswith(("ClassVar", "typing.ClassVar")):
            continue
        value = cls.__dict__.get(name, _MISSING)
        spec = value if isinstance(value, _Field) else _Field(value, _MISSING, True, True)
        spec.name = name
        fields[name] = spec
    specs = tuple(fields.values())
    methods: dict[str, Any] = {
        "__init__": _make_init(cls, specs, frozen),
        "__record_fields__": specs,
        "__repr__": _repr,
        "__eq__": _eq,
    }
    if frozen:
        methods.update(__setattr__=_refuse_set, __delattr__=_refuse_delete, __hash__=_hash)
    elif "__hash__" not in cls.__dict__:
        methods["__hash__"] = None  # equal by value yet changeable: not hashable
    if not slots:
        for spec in specs:
            if isinstance(cls.__dict__.get(spec.name), _Field):
                delattr(cls, spec.name)
            if spec.default is not _MISSING and spec.name in own:
                setattr(cls, spec.name, spec.default)  # as dataclasses: the default on the class
        for name, value in methods.items():
            setattr(cls, name, value)
        return cls
    # Slots can only be given to a new class (as dataclasses do it too).
    namespace = {k: v for k, v in cls.__dict__.items() if k not in ("__dict__", "__weakref__")}
    for spec in specs:
        namespace.pop(spec.name, None)
    namespace.update(methods)
    namespace["__slots__"] = tuple(s.name for s in specs if s.name not in _slots_above(cls))
    if frozen:
        namespace.update(__getstate__=_getstate, __setstate__=_setstate)
    maker: Any = type(cls)
    built: type[T] = maker(cls.__name__, cls.__bases__, namespace)
    built.__qualname__ = cls.__qualname__
    return built


def _own_annotations(cls: type) -> dict[str, Any]:
    # Not `inspect.get_annotations`: importing `inspect` costs more than all records.
    found: dict[str, Any] = cls.__dict__.get("__annotations__", {})  # noqa: RUF063
    return found


def _slots_above(cls: type) -> set[str]:
    return {name for base in cls.__mro__[1:] for name in getattr(base, "__slots__", ())}


def _make_init(cls: type, specs: tuple[_Field, ...], frozen: bool) -> Callable[..., None]:
    assign = "__set(self, {name!r}, {value})" if frozen else "self.{name} = {value}"
    params: list[str] = []
    body: list[str] = []
    scope: dict[str, Any] = {"__set": object.__setattr__, "__missing": _MISSING}
    for spec in specs:
        default_name = f"__default_{spec.name}"
        factory_name = f"__factory_{spec.name}"
        scope[default_name] = spec.default
        scope[factory_name] = spec.default_factory
        if spec.init:
            if spec.default_factory is not _MISSING:
                params.append(f"{spec.name}=__missing")
                value = f"{factory_name}() if {spec.name} is __missing else {spec.name}"
            elif spec.default is not _MISSING:
                params.append(f"{spec.name}={default_name}")
                value = spec.name
            else:
                params.append(spec.name)
                value = spec.name
        elif spec.default_factory is not _MISSING:
            value = f"{factory_name}()"
        elif spec.default is not _MISSING:
            value = default_name
        else:
            continue  # set later, by __post_init__ or the caller
        body.append(assign.format(name=spec.name, value=value))
    if hasattr(cls, "__post_init__"):
        body.append("self.__post_init__()")
    _check_order(cls, params)
    source = f"def __init__(self, {', '.join(params)}):\n    " + ("\n    ".join(body) or "pass")
    qualname = f"{cls.__qualname__}.__init__"

    # Compiled at the first instance, not with the class: a process defines far more
    # record classes than it makes instances of (an attempt on a Slurm node, `validate`),
    # and compiling is most of what defining one costs.
    def first_init(self: Any, *args: Any, **kwargs: Any) -> None:
        exec(source, scope)  # noqa: S102 - the source is built above from field names only
        init: Callable[..., None] = scope["__init__"]
        init.__qualname__ = qualname
        for owner in type(self).__mro__:  # the class this stub was given to (slots: rebuilt)
            if owner.__dict__.get("__init__") is first_init:
                type.__setattr__(owner, "__init__", init)
        init(self, *args, **kwargs)

    first_init.__qualname__ = qualname
    return first_init


def _check_order(cls: type, params: list[str]) -> None:
    seen_default = False
    for param in params:
        if "=" in param:
            seen_default = True
        elif seen_default:
            raise TypeError(f"{cls.__name__}: field {param!r} without a default follows one with")


def _values(self: Any) -> tuple[Any, ...]:
    return tuple(getattr(self, f.name) for f in type(self).__record_fields__ if f.compare)


def _repr(self: Any) -> str:
    shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in type(self).__record_fields__)
    return f"{type(self).__qualname__}({shown})"


def _eq(self: Any, other: object) -> bool:
    if type(other) is not type(self):
        return NotImplemented  # type: ignore[no-any-return]
    equal: bool = _values(self) == _values(other)
    return equal


def _hash(self: Any) -> int:
    return hash(_values(self))


def _refuse_set(self: Any, name: str, value: object) -> None:
    raise FrozenInstanceError(f"cannot assign to field {name!r}")


def _refuse_delete(self: Any, name: str) -> None:
    raise FrozenInstanceError(f"cannot delete field {name!r}")


def _getstate(self: Any) -> tuple[Any, ...]:
    return tuple(getattr(self, f.name) for f in type(self).__record_fields__)


def _setstate(self: Any, state: tuple[Any, ...]) -> None:
    for spec, value in zip(type(self).__record_fields__, state, strict=True):
        object.__setattr__(self, spec.name, value)
