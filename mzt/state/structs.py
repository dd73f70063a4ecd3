"""The base of the state models: strict msgspec structs with a small familiar API.

The checkpoint is decoded straight into these structs, validated on the way (types,
bounds, no unknown keys), which is what lets `mzt status` read a job of ten thousand sheets
in a few milliseconds. Encoded, a struct carries only the fields that differ from their
defaults; decoding fills the defaults back in, so a file written before a field existed, or
by a writer that left it out, reads the same.

``model_dump`` / ``model_validate`` keep the spelling the rest of mzt (and its tests)
already use for "as JSON values" and "from JSON values".
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NoReturn, Self

import msgspec

_ENCODER = msgspec.json.Encoder()


def _refuse(self: object, *args: object, **kwargs: object) -> NoReturn:
    raise TypeError(
        "a shared empty default cannot change: give the field a list or dict of its own"
    )


class _SharedEmptyList(list[Any]):
    """The one empty list every record's untouched list field holds.

    A big job keeps ten thousand sheets in memory, each with several lists that nearly
    always stay empty: one shared, unchangeable object instead of a fresh list each saves
    about half of a sheet's memory. It is the field's default object, so the encoder
    leaves it out by identity, exactly as it left out an empty list made by a factory.
    A writer takes a list of its own first (:func:`own_list`); changing this one raises.
    """

    __slots__ = ()
    append = extend = insert = pop = remove = clear = sort = reverse = _refuse
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse

    def __copy__(self) -> Self:
        return self

    def __deepcopy__(self, memo: object) -> Self:
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (_shared_list, ())


class _SharedEmptyDict(dict[str, Any]):
    """The one empty dict an untouched dict field holds (see :class:`_SharedEmptyList`)."""

    __slots__ = ()
    __setitem__ = __delitem__ = __ior__ = _refuse
    pop = popitem = clear = update = setdefault = _refuse

    def __copy__(self) -> Self:
        return self

    def __deepcopy__(self, memo: object) -> Self:
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (_shared_dict, ())


EMPTY_LIST: list[Any] = _SharedEmptyList()
EMPTY_DICT: dict[str, Any] = _SharedEmptyDict()


def _shared_list() -> list[Any]:
    return EMPTY_LIST


def _shared_dict() -> dict[str, Any]:
    return EMPTY_DICT


class Model(
    msgspec.Struct,
    kw_only=True,
    omit_defaults=True,
    forbid_unknown_fields=True,
    repr_omit_defaults=True,
):
    """A state record: decoded strictly, encoded without its default values."""

    def model_dump(
        self, *, mode: str = "json", exclude: set[str] | frozenset[str] | None = None
    ) -> dict[str, Any]:
        """Every field (defaults included) as JSON values; ``exclude`` names fields to leave out."""
        del mode  # always JSON values: that is the only form mzt ever asks for
        skip = exclude or ()
        return {
            name: full_builtins(getattr(self, name))
            for name in self.__struct_fields__
            if name not in skip
        }

    def model_dump_json(self) -> str:
        """The compact JSON text stored on disk (default values left out)."""
        return _ENCODER.encode(self).decode()

    @classmethod
    def model_validate(cls, data: Any) -> Self:
        """From JSON values, validated exactly as the loader validates a file."""
        return msgspec.json.decode(_ENCODER.encode(data), type=cls)

    @classmethod
    def model_validate_json(cls, text: str | bytes) -> Self:
        """From JSON text, validated as the loader validates a file."""
        return msgspec.json.decode(text, type=cls)

    def reset(self, *names: str) -> None:
        """Put the named fields back to their defaults.

        The default object itself (a fresh one for a factory): the encoder tells a float
        or string at its default by identity, so an equal value made elsewhere would still
        be written out.
        """
        defaults = _defaults(type(self))
        for name in names:
            default, factory = defaults[name]
            setattr(self, name, default if factory is None else factory())

    def own_list(self, name: str) -> list[Any]:
        """The list in field ``name``, made the record's own first if it is the shared one."""
        value: list[Any] = getattr(self, name)
        if value is EMPTY_LIST:
            value = []
            setattr(self, name, value)
        return value

    def own_dict(self, name: str) -> dict[str, Any]:
        """The dict in field ``name``, made the record's own first if it is the shared one."""
        value: dict[str, Any] = getattr(self, name)
        if value is EMPTY_DICT:
            value = {}
            setattr(self, name, value)
        return value

    def sharing_empties(self) -> Self:
        """This record, or a copy whose empty list and dict fields hold the shared ones.

        Encoding leaves a field out only when it holds its default object; an empty list
        read from a file, or assigned, is equal to it but would still be written out.
        """
        loose = {
            name: shared
            for name, shared in _shared_fields(type(self))
            if not (value := getattr(self, name)) and value is not shared
        }
        return msgspec.structs.replace(self, **loose) if loose else self

    def model_copy(self, *, deep: bool = False) -> Self:
        """A copy; ``deep`` copies the lists and records inside it too."""
        if deep:
            return msgspec.json.decode(_ENCODER.encode(self), type=type(self))
        return msgspec.structs.replace(self)


@functools.cache
def _defaults(kind: type[msgspec.Struct]) -> dict[str, tuple[Any, Callable[[], Any] | None]]:
    """Each field's default object or factory, looked up once per class.

    ``msgspec.structs.fields`` evaluates the class's annotations on every call (a few
    milliseconds), and the runner resets fields on every sheet transition.
    """
    found: dict[str, tuple[Any, Callable[[], Any] | None]] = {}
    for info in msgspec.structs.fields(kind):
        if info.default_factory is not msgspec.NODEFAULT:
            found[info.name] = (None, info.default_factory)
        else:
            found[info.name] = (info.default, None)
    return found


@functools.cache
def _shared_fields(kind: type[msgspec.Struct]) -> tuple[tuple[str, Any], ...]:
    """The fields of ``kind`` whose default is a shared empty list or dict, with it."""
    return tuple(
        (name, default)
        for name, (default, _) in _defaults(kind).items()
        if default is EMPTY_LIST or default is EMPTY_DICT
    )


def full_builtins(value: Any) -> Any:
    """``value`` as JSON values, structs with every field (the form ``model_dump`` gives)."""
    if isinstance(value, Model):
        return value.model_dump()
    if isinstance(value, list):
        return [full_builtins(v) for v in value]
    if isinstance(value, dict):
        return {k: full_builtins(v) for k, v in value.items()}
    return msgspec.to_builtins(value)


def encode(value: Any) -> bytes:
    """Compact JSON bytes of a struct (defaults left out) or of JSON values."""
    return _ENCODER.encode(value)


def field_defaults(kind: type[msgspec.Struct]) -> dict[str, Any]:
    """Each field's default as a JSON value (``msgspec.NODEFAULT`` for required ones)."""
    found: dict[str, Any] = {}
    for info in msgspec.structs.fields(kind):
        if info.default is not msgspec.NODEFAULT:
            found[info.name] = msgspec.to_builtins(info.default)
        elif info.default_factory is not msgspec.NODEFAULT:
            found[info.name] = msgspec.to_builtins(info.default_factory())
        else:
            found[info.name] = msgspec.NODEFAULT
    return found
