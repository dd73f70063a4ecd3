"""The library's loggers: quiet unless the program using mzt configures logging."""

from __future__ import annotations

import logging

# A library never prints: its warnings reach users only where a program configures logging.
logging.getLogger("mzt").addHandler(logging.NullHandler())


def get_logger(name: str) -> logging.Logger:
    """The logger for ``name`` (a child of ``mzt``)."""
    return logging.getLogger(name)
