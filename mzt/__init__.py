"""mzt runs scores: YAML files that split work into sheets for AI agent CLIs.

The supported library surface is re-exported here; everything else is internal.
"""

from __future__ import annotations

import logging

# A library never prints: its warnings reach users only where a program configures logging.
logging.getLogger("mzt").addHandler(logging.NullHandler())

__version__ = "0.1.0"

__all__ = ["__version__"]
