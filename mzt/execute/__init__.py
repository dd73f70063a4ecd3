"""Where attempts execute.

* `mzt.execute.attempt` — one attempt of a sheet: the instrument, then its validations.
* `mzt.execute.base` — the `Executor` interface the runner uses (launch an attempt, hear
  that it is placed and record its `AttemptHandle` before releasing it, wait for any
  attempt to finish, stop one or all, find and stop the leftovers of a dead run).
* `mzt.execute.local` — `LocalExecutor`: worker threads, each attempt's child held until
  its handle is recorded, in its own session, tagged with ``MZT_ATTEMPT``; a subreaper
  while it runs.
* `mzt.execute.leftovers` — the handles a checkpoint still holds: the attempts of a run
  that died, found and stopped by whichever command next takes the job's lock.
* `mzt.execute.choice` — which executor a run uses (``--executor``, ``MZT_EXECUTOR``, the
  machine configuration).
* `mzt.execute.slurm` — `SlurmExecutor`: each attempt one Slurm job, its id journaled
  before the run waits on it; `mzt.execute.slurm_cli` talks to Slurm's commands,
  `mzt.execute.slurm_endings` turns an end Slurm decided into the attempt's error and
  `mzt.execute.slurm_leftovers` re-attaches to (or stops) a dead run's jobs.
* `mzt.execute.wire` — an attempt's spec out to another process and its report back.
* `mzt.execute.remote` — that other process: `mzt slurm-attempt FOLDER` on a node.
"""

from __future__ import annotations
