"""`mzt pause --force`: stop a run's attempts now instead of at its next sheet boundary.

Upstream's ``pause --force`` cancels the job. Here cancelling stays `mzt cancel`, and a
forced pause is the pause a signal gives: the pause file is created as for any pause,
then the run process itself gets SIGTERM. The run stops its attempts within a second
(their process groups are ended), puts the sheets they ran back to pending without
spending their budget, saves the job paused and exits 143; `mzt resume` runs those sheets
again. The process signalled is the one holding the job's run lock, checked by pid *and*
start time and boot id, so a reused pid is never signalled; a run recorded on another
host cannot be signalled from here and is refused.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

from mzt.state.liveness import Verdict, examine
from mzt.support.errors import UsageError
from mzt.views.lookup import JobView
from mzt.views.steering import request_pause


def force_pause(view: JobView) -> Path:
    """Request the pause and signal the job's run; returns the pause file."""
    holder = view.liveness.holder
    if view.alive is None:
        raise UsageError(
            f"Job '{view.job_id}' runs on another host; its run cannot be signalled from here.",
            hint=f"Ask it to pause at its next boundary: `mzt pause {view.job_id}`.",
        )
    path = request_pause(view)  # refuses a job that is not running
    evidence = examine(holder)
    if holder is None or evidence.verdict != Verdict.ALIVE:
        raise UsageError(
            f"The process running job '{view.job_id}' cannot be told apart safely "
            f"({evidence.reason}); it was not signalled.",
            hint=f"The pause file {path} is in place: the run pauses at its next boundary.",
        )
    try:
        os.kill(holder.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass  # it ended in the meantime: the job is no longer running either way
    except PermissionError as exc:
        raise UsageError(
            f"Cannot signal pid {holder.pid} running job '{view.job_id}': {exc.strerror}.",
            hint=f"The pause file {path} is in place: the run pauses at its next boundary.",
        ) from None
    return path
