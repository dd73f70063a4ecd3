"""Running one job: the second stage of the flow.

`runner` drives every sheet to an end; `opening` decides whether a run is fresh, a
continuation or nothing to do; `bookkeeping` records every change in the checkpoint,
with `outcomes` for what an attempt's decision does to its sheet; `schedule` picks the
next runnable sheet; `sheetrun` and `prompting` prepare an attempt; `decisions` chooses
what follows an attempt; `limits` and `cost` keep rate and spending limits; `control`
hears pause and cancel requests; `circuit` keeps instruments that keep failing at rest;
`reporting` carries progress events; `recovery` and `modification` serve `mzt recover`
and `mzt modify`. Attempts themselves run through `mzt.execute`.

Subpackages: `workspace` (archiving on `--fresh`, git worktree isolation), `notify`
(notifications of the run's events) and `after` (hooks and chained jobs once the job has
completed).
"""

from __future__ import annotations
