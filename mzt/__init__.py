"""mzt runs scores: YAML files that split work into sheets for AI agent CLIs.

The supported library surface is re-exported here; everything else is internal.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
