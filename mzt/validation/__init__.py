"""Validations: checking what an attempt left behind.

`engine` runs a sheet's rules after an attempt and `report` holds what it found, `checks`
holds the single checks (path expansion, the verdict of one look), `texts` says what
agents are told about them.
"""

from __future__ import annotations
