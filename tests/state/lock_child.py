"""Hold a job's run lock in a separate process, for tests that need a live holder."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_SCRIPT = """
import sys
from pathlib import Path
from mzt.state.lock import RunLock
lock = RunLock(Path(sys.argv[1]), job_id=sys.argv[2]).acquire()
print("locked", flush=True)
sys.stdin.read()  # hold until the parent closes our stdin
"""


@contextmanager
def lock_held_elsewhere(lock_path: Path, job_id: str = "job") -> Iterator[subprocess.Popen[str]]:
    """Run a child that holds ``lock_path`` until the block ends; yields the child."""
    child = subprocess.Popen(
        [sys.executable, "-c", _SCRIPT, str(lock_path), job_id],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "locked"
        yield child
    finally:
        if child.stdin is not None:
            child.stdin.close()
        child.wait(timeout=10)
        if child.stdout is not None:
            child.stdout.close()
