"""What `mzt diagnose --include-logs` and `--resources` add to the report.

``--include-logs``: the last lines (50) of every attempt log of the job, redacted, newest
attempts last. (The on_success hook logs are not added: the hook results name them.)

``--resources``: what the machine gives the job now — the live run's process (memory,
CPU time, threads) and the attempts under it, free space where the workspace and
MZT_HOME live, how much the job's own files take, and the load average. A run on
another host, or none, shows ``process: null``. Reading all of it never writes.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from mzt.state.liveness import Verdict, examine
from mzt.support import paths
from mzt.views.log_tail import read_tail
from mzt.views.logs import LogFile
from mzt.views.lookup import JobView

LOG_TAIL_LINES = 50


def log_tails(logs: list[LogFile], lines: int = LOG_TAIL_LINES) -> list[dict[str, Any]]:
    """The last ``lines`` lines of each log (in sheet, attempt, stream order)."""
    ordered = sorted(logs, key=lambda f: (f.sheet_num, f.attempt, f.stream))
    return [{**f.to_json(), "tail": read_tail(f.path, lines)} for f in ordered]


def resources(view: JobView) -> dict[str, Any]:
    """The ``resources`` block of the diagnosis (see the module text)."""
    logs_dir = paths.logs_dir(view.workspace, view.job_id)
    job_files = [
        paths.state_file(view.workspace, view.job_id),
        paths.history_file(view.workspace, view.job_id),
    ]
    try:
        load: list[float] | None = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    return {
        "process": _process(view) if view.alive else None,
        "workspace_disk": _disk(view.workspace),
        "home_disk": _disk(paths.mzt_home()),
        "job_files_bytes": sum(_size(p) for p in job_files),
        "logs_bytes": _tree_size(logs_dir),
        "load_average": load,
        "cpu_count": os.cpu_count(),
    }


def _process(view: JobView) -> dict[str, Any] | None:
    holder = view.liveness.holder
    if holder is None or examine(holder).verdict != Verdict.ALIVE:
        return None
    import psutil  # only this report needs it

    try:
        proc = psutil.Process(holder.pid)
        with proc.oneshot():
            memory = proc.memory_info().rss
            times = proc.cpu_times()
            threads = proc.num_threads()
        children = proc.children(recursive=True)
        child_rss = 0
        for child in children:
            try:
                child_rss += child.memory_info().rss
            except psutil.Error:
                continue  # it ended while we looked
    except psutil.Error:
        return None
    return {
        "pid": holder.pid,
        "rss_bytes": memory,
        "cpu_seconds": round(times.user + times.system, 2),
        "threads": threads,
        "children": len(children),
        "children_rss_bytes": child_rss,
    }


def _disk(path: Path) -> dict[str, Any] | None:
    while not path.exists() and path.parent != path:  # MZT_HOME may not be made yet
        path = path.parent
    try:
        usage = shutil.disk_usage(path)
    except OSError:
        return None
    return {"path": str(path), "total_bytes": usage.total, "free_bytes": usage.free}


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _tree_size(folder: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(folder):
        total += sum(_size(Path(root) / name) for name in files)
    return total
