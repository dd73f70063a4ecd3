"""Answers about jobs from any shell, over the state package: `status`, `list` and
`watch`, `errors` and `history`, `logs`, `diagnose`; pause and cancel requests
(`steering`), removing finished jobs (`clearing`) and installation checks (`doctor`).

The views only read: no lock is taken and no file a run owns is changed.
"""

from __future__ import annotations
