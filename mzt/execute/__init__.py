"""Where attempts execute: one attempt of a sheet (instrument, then validations), and
the executors that run attempts and stop the leftovers of runs that died.
"""

from __future__ import annotations
