"""The library's loggers: quiet unless the program using mzt configures logging."""

from __future__ import annotations

TYPE_CHECKING = False  # not `typing`: a share of the no-op `mzt run`'s whole answer

if TYPE_CHECKING:
    import logging
    from typing import Any


class _Logger:
    """A named logger that imports `logging` on its first message, not at start-up.

    Nearly every command logs nothing; importing `logging` (and what it pulls in) would
    still cost each of them a sizeable share of a fast command's start-up.
    """

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __getattr__(self, attribute: str) -> Any:
        return getattr(_logging().getLogger(self.name), attribute)


def _logging() -> Any:
    import logging

    root = logging.getLogger("mzt")
    # A library never prints: its warnings reach users only where a program configures
    # logging. Added once, on first use.
    if not any(isinstance(h, logging.NullHandler) for h in root.handlers):
        root.addHandler(logging.NullHandler())
    return logging


def get_logger(name: str) -> logging.Logger:
    """The logger for ``name`` (a child of ``mzt``), set up when it first logs."""
    return _Logger(name)  # type: ignore[return-value]  # it behaves as the Logger it wraps
