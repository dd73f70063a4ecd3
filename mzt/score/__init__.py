"""Reading and checking a score: the first stage of the flow.

`yamlsafe` reads untrusted YAML into plain data, `loader` turns it into the validated,
immutable models of `models`, `plan` expands them into one record per concrete sheet
(`instrumentation` resolves each sheet's instruments), `templating` and `conditions`
hold the small languages a score speaks, `checks` and `planchecks` are what
`mzt validate` can know without running anything (gathered as `findings`), and
`preparation` ties these together into a checked plan. Nothing here runs a sheet or
touches a checkpoint.
"""

from __future__ import annotations
