"""Run mzt as a machine with another host name would: ``other_host.py NAME ARGS...``.

A container that gets a new host name after a crash finds its own checkpoints marked
running by a host that no longer exists; :func:`leave_running` makes such a job with a
real run under the old name, killed with ``kill -9`` while one of its attempts runs.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.e2e.conftest import Project

OLD_HOST = "old-host.example"


def leave_running(project: Project, score: Path, pidfile: Path, host: str = OLD_HOST) -> int:
    """Run ``score`` as ``host`` until ``pidfile`` (written by an attempt) has a pid, then
    ``kill -9`` mzt alone. Returns the killed run's pid; the attempt goes on.

    It returns once the run lock is free. A run killed while it spawns a child (the next
    sheet's, started ahead) leaves that child a copy of the lock until it execs; mzt waits
    for such a child only when the recorded holder is provably dead, which a holder
    recorded under another host name never is.
    """
    import yaml

    from mzt.state.lockprobe import LockProbe, probe_lock
    from mzt.support import paths
    from tests.e2e.conftest import wait_for

    proc = subprocess.Popen(
        [sys.executable, __file__, host, "run", str(score)],
        cwd=project.root,
        env=project.env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: pidfile.exists() and pidfile.read_text().strip() != "")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    data = yaml.safe_load(score.read_text())
    lock = paths.lock_file(score.parent / data["workspace"], data["name"])
    wait_for(lambda: probe_lock(lock) == LockProbe.FREE)
    return proc.pid


def main() -> None:
    name = sys.argv.pop(1)
    from mzt.entry import main as mzt_main
    from mzt.support import procinfo

    procinfo.host = lambda: name  # every host name mzt records comes from this call

    mzt_main()


if __name__ == "__main__":
    main()
