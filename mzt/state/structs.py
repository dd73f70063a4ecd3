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
from typing import Any, Self

import msgspec

_ENCODER = msgspec.json.Encoder()


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
