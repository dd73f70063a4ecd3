"""Running one job: the second stage of the flow.

`runner` drives every sheet to an end; `opening` decides whether a run is fresh, a
continuation or nothing to do; `bookkeeping` records every change in the checkpoint,
with `outcomes` for what an attempt's decision does to its sheet; `schedule` picks the
next runnable sheet; `sheetrun` and `prompting` prepare an attempt; `decisions` chooses
what follows an attempt; `limits` and `cost` keep rate and spending limits; `control`
hears pause and cancel requests; `reporting` carries progress events. Attempts
themselves run through `mzt.execute`.
"""

from __future__ import annotations
