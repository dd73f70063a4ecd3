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


def mzt_home() -> Path:
    """``$MZT_HOME`` if set and not empty, else ``~/.marianne``."""
    env = os.environ.get("MZT_HOME")
    return Path(env).expanduser() if env else Path.home() / ".marianne"


def job_id_from_name(name: str) -> str:
    """The job id for a score ``name``: unsafe characters become ``_``, at most 64 long.

    Returns an empty string when nothing usable remains; callers treat that as a score error.
    """
    import re

    return re.sub(_JOB_ID_UNSAFE, "_", name.strip())[:JOB_ID_MAX]


def state_dir(workspace: Path) -> Path:
    return workspace / STATE_DIR


def state_file(workspace: Path, job_id: str) -> Path:
    return state_dir(workspace) / f"{job_id}.json"


def lock_file(workspace: Path, job_id: str) -> Path:
    return state_dir(workspace) / f"{job_id}.lock"


def history_file(workspace: Path, job_id: str) -> Path:
    return state_dir(workspace) / f"{job_id}.history.jsonl"


# Remembered: a run asks for its logs and outputs folders at every attempt.
@functools.lru_cache(maxsize=64)
def logs_dir(workspace: Path, job_id: str) -> Path:
    return state_dir(workspace) / "logs" / job_id


def attempt_log(workspace: Path, job_id: str, sheet: int, attempt: int, stream: str) -> Path:
    """``stream`` is ``stdout`` or ``stderr``."""
    return logs_dir(workspace, job_id) / f"sheet-{sheet}.attempt-{attempt}.{stream}"


@functools.lru_cache(maxsize=64)
def outputs_dir(workspace: Path, job_id: str) -> Path:
    return state_dir(workspace) / "outputs" / job_id


def sheet_output(workspace: Path, job_id: str, sheet: int) -> Path:
    return outputs_dir(workspace, job_id) / f"sheet-{sheet}.md"


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


def user_instruments_dir(home: Path | None = None) -> Path:
    return (home or mzt_home()) / "instruments"


def local_instruments_dir(cwd: Path | None = None) -> Path:
    return (cwd or Path.cwd()) / STATE_DIR / "instruments"


def crash_dir(home: Path | None = None) -> Path:
    return (home or mzt_home()) / "crash"
