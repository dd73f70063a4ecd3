"""Foundations every stage shares: error types and exit codes, where files live, private
file helpers, credential redaction, terminal output and the library loggers.

Nothing here knows about scores, runs or checkpoints; every other package may import it.
"""

from __future__ import annotations
