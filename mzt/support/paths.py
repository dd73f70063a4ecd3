"""Where mzt keeps things: the only place file names are built.

Workspace files live under ``<workspace>/.marianne/``; cross-workspace data (registry,
rate-limit records, user instrument profiles, crash reports) lives under MZT_HOME. Both
layouts are promised to users (README, `man mzt`): change them only with those.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

# Imported where used: `mzt status` with no jobs needs only a folder's name, and `re` and
# `hashlib` cost a visible share of its whole answer.
_JOB_ID_UNSAFE = r"[^A-Za-z0-9_-]"
JOB_ID_MAX = 64
STATE_DIR = ".marianne"


_HOME: tuple[str | None, str | None, Path] | None = None


def mzt_home() -> Path:
    """``$MZT_HOME`` if set and not empty, else ``~/.marianne``."""
    global _HOME  # asked several times per attempt: built again only when the inputs change
    env, home = os.environ.get("MZT_HOME"), os.environ.get("HOME")
    if _HOME is None or _HOME[:2] != (env, home):
        _HOME = (env, home, Path(env).expanduser() if env else Path.home() / ".marianne")
    return _HOME[2]


def job_id_from_name(name: str) -> str:
    """The job id for a score ``name``: unsafe characters become ``_``, at most 64 long.

    Returns an empty string when nothing usable remains; callers treat that as a score error.
    """
    import re

    return re.sub(_JOB_ID_UNSAFE, "_", name.strip())[:JOB_ID_MAX]


def state_dir(workspace: Path) -> Path:
    return workspace / STATE_DIR


def state_pointer(workspace: Path, job_id: str) -> Path:
    """``<ws>/.marianne/<job>.state-dir``: names the folder a score's ``state_path`` moved
    the job's state to, so that every command finds it from the workspace alone."""
    return state_dir(workspace) / f"{job_id}{POINTER_SUFFIX}"


POINTER_SUFFIX = ".state-dir"


# Remembered: every state, lock, history, log and output path of a job asks for it.
@functools.lru_cache(maxsize=64)
def job_state_dir(workspace: Path, job_id: str) -> Path:
    """The folder holding the job's checkpoint, lock, history, logs and outputs: the
    workspace's ``.marianne/``, or the folder its pointer names (see :func:`state_pointer`).

    A pointer that cannot be read as one absolute path counts as absent here; the run
    that would write the state refuses it (:mod:`mzt.state.relocation`)."""
    folder = state_dir(workspace)
    try:
        with (folder / f"{job_id}{POINTER_SUFFIX}").open(encoding="utf-8") as handle:
            text = handle.read(4097).strip()
    except (OSError, UnicodeDecodeError, ValueError):
        return folder
    if not text or len(text) > 4096 or "\n" in text or not text.startswith("/"):
        return folder
    return Path(text)


def forget_state_dirs() -> None:
    """Drop remembered state folders (after a pointer is written or removed)."""
    job_state_dir.cache_clear()
    logs_dir.cache_clear()
    outputs_dir.cache_clear()


def job_ids_in(workspace: Path) -> list[str]:
    """Ids of the jobs whose state the workspace holds or points to, sorted.

    Files whose name cannot be a job id (temp files, anything foreign) are not jobs.
    Raises ``OSError`` when ``.marianne/`` cannot be listed (absent: an empty list)."""
    try:
        names = [entry.name for entry in state_dir(workspace).iterdir()]
    except FileNotFoundError:
        return []
    found = set()
    for name in names:
        for suffix in (".json", POINTER_SUFFIX):
            if name.endswith(suffix) and not name.startswith("."):
                stem = name[: -len(suffix)]
                if job_id_from_name(stem) == stem:
                    found.add(stem)
    return sorted(found)


def state_file(workspace: Path, job_id: str) -> Path:
    return job_state_dir(workspace, job_id) / f"{job_id}.json"


def lock_file(workspace: Path, job_id: str) -> Path:
    return job_state_dir(workspace, job_id) / f"{job_id}.lock"


def history_file(workspace: Path, job_id: str) -> Path:
    return job_state_dir(workspace, job_id) / f"{job_id}.history.jsonl"


# Remembered: a run asks for its logs and outputs folders at every attempt.
@functools.lru_cache(maxsize=64)
def logs_dir(workspace: Path, job_id: str) -> Path:
    return job_state_dir(workspace, job_id) / "logs" / job_id


def attempt_log(workspace: Path, job_id: str, sheet: int, attempt: int, stream: str) -> Path:
    """``stream`` is ``stdout`` or ``stderr``."""
    return logs_dir(workspace, job_id) / f"sheet-{sheet}.attempt-{attempt}.{stream}"


@functools.lru_cache(maxsize=64)
def outputs_dir(workspace: Path, job_id: str) -> Path:
    return job_state_dir(workspace, job_id) / "outputs" / job_id


def slurm_dir(workspace: Path, job_id: str) -> Path:
    """The job's Slurm attempts, one folder each (spec, batch script, output, report)."""
    return job_state_dir(workspace, job_id) / "slurm" / job_id


def sheet_output(workspace: Path, job_id: str, sheet: int) -> Path:
    return outputs_dir(workspace, job_id) / sheet_output_name(sheet)


def sheet_output_name(sheet: int) -> str:
    """The name of a sheet's result file in :func:`outputs_dir`."""
    return f"sheet-{sheet}.md"


def pause_file(workspace: Path, job_id: str) -> Path:
    return workspace / f".marianne-pause-{job_id}"


def cancel_file(workspace: Path, job_id: str) -> Path:
    return workspace / f".marianne-cancel-{job_id}"


def registry_dir(home: Path | None = None) -> Path:
    return (home or mzt_home()) / "registry"


def registry_record(job_id: str, workspace: Path, home: Path | None = None) -> Path:
    """``registry/<job>--<8 hex of sha256(workspace)>.json``."""
    return registry_dir(home) / _per_workspace(job_id, workspace)


def head_cache(job_id: str, workspace: Path, home: Path | None = None) -> Path:
    """``cache/heads/<job>--<8 hex of sha256(workspace)>.json``: see :mod:`mzt.state.head`."""
    return (home or mzt_home()) / "cache" / "heads" / _per_workspace(job_id, workspace)


def _per_workspace(job_id: str, workspace: Path) -> str:
    return f"{job_id}--{sha256_hex(str(workspace).encode())[:8]}.json"


def sha256_hex(data: bytes) -> str:
    """``hashlib.sha256(data).hexdigest()``, without loading OpenSSL where it can.

    `hashlib` loads OpenSSL first (3 ms), and that alone costs `mzt status JOB` more than
    finding the job and `mzt validate` a tenth of its work; CPython's built-in SHA-256
    gives the very same digest, and scores and paths are small.
    """
    try:
        from _sha256 import sha256 as builtin  # type: ignore[import-not-found,unused-ignore]
    except ImportError:  # another interpreter, or a CPython that names it otherwise
        import hashlib

        return hashlib.sha256(data).hexdigest()
    digest: str = builtin(data).hexdigest()
    return digest


def ratelimits_dir(home: Path | None = None) -> Path:
    return (home or mzt_home()) / "ratelimits"


def ratelimit_record(instrument: str, home: Path | None = None) -> Path:
    if home is None:  # looked up before every sheet: built once per home and instrument
        return _default_ratelimit_record(
            instrument, os.environ.get("MZT_HOME"), os.environ.get("HOME")
        )
    return ratelimits_dir(home) / _ratelimit_name(instrument)


@functools.lru_cache(maxsize=64)
def _default_ratelimit_record(instrument: str, _mzt_home: str | None, _home: str | None) -> Path:
    # The environment values are the cache key: `mzt_home` reads them.
    return ratelimits_dir() / _ratelimit_name(instrument)


@functools.lru_cache(maxsize=64)
def _ratelimit_name(instrument: str) -> str:
    import re

    return f"{re.sub(_JOB_ID_UNSAFE, '_', instrument)}.json"


def circuits_dir(home: Path | None = None) -> Path:
    return (home or mzt_home()) / "circuits"


def circuit_record(instrument: str, home: Path | None = None) -> Path:
    return circuits_dir(home) / _ratelimit_name(instrument)


def circuit_lock(instrument: str, home: Path | None = None) -> Path:
    """Held for the moment a run reads, changes and replaces the instrument's record."""
    return circuit_record(instrument, home).with_suffix(".lock")


def user_instruments_dir(home: Path | None = None) -> Path:
    return (home or mzt_home()) / "instruments"


def local_instruments_dir(cwd: Path | None = None) -> Path:
    return (cwd or Path.cwd()) / STATE_DIR / "instruments"


def crash_dir(home: Path | None = None) -> Path:
    return (home or mzt_home()) / "crash"


def slots_dir(home: Path | None = None) -> Path:
    """``$MZT_HOME/slots``: one folder per machine-wide limit (see :mod:`mzt.machine.slots`)."""
    return (home or mzt_home()) / "slots"


def pressure_file(home: Path | None = None) -> Path:
    """``$MZT_HOME/pressure.json``: the last reading of :mod:`mzt.machine.pressure`."""
    return (home or mzt_home()) / "pressure.json"


def pressure_lock(home: Path | None = None) -> Path:
    """``$MZT_HOME/pressure.lock``: held by the one process refreshing ``pressure.json``."""
    return (home or mzt_home()) / "pressure.lock"


def slot_limit_dir(limit: str, home: Path | None = None) -> Path:
    """``slots/<limit>/``, the limit's name made safe as a job id is (``.`` becomes ``_``)."""
    return slots_dir(home) / slot_limit_name(limit)


@functools.lru_cache(maxsize=256)
def slot_limit_name(limit: str) -> str:
    """The folder name of a limit: asked at every attempt, so built once per name."""
    return job_id_from_name(limit)


def slot_file(limit: str, index: int, home: Path | None = None) -> Path:
    """``slots/<limit>/<index>.lock``: one slot, held by a kernel lock on the file."""
    return slot_limit_dir(limit, home) / f"{index}.lock"
