"""What the bench scripts share (timing, alternation, scores); not a benchmark itself.

Every figure comes from a whole process (start-up included) timed from just before it
is spawned to just after ``os.wait4`` reaps it, which also gives its rusage (peak RSS).
Two sides of a comparison run in alternation, round by round (A B A B …), so a burst of
load from elsewhere on the machine falls on both; each comparison is reported as the
median of the per-round ratios with their min–max, next to each side's median figure.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter
from typing import IO, Any

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Finished:
    """One reaped process."""

    seconds: float
    max_rss_kb: int
    returncode: int
    stdout: bytes
    stderr: bytes
    cpu_seconds: float = 0.0  # user + system time of the process itself


def mzt_command() -> list[str]:
    """The venv's ``mzt`` (next to this interpreter), else the one on PATH."""
    beside = Path(sys.executable).with_name("mzt")
    if beside.is_file():
        return [str(beside)]
    found = shutil.which("mzt")
    if found:
        return [found]
    raise SystemExit("mzt not found next to this Python nor on PATH: pip install -e . first")


def mzt_python() -> str:
    """The interpreter the ``mzt`` script runs on (its shebang): the ``-c pass`` floor."""
    script = Path(mzt_command()[0])
    try:
        first = script.read_bytes().split(b"\n", 1)[0].decode()
    except (OSError, UnicodeDecodeError):
        return sys.executable
    if first.startswith("#!"):
        interpreter = first[2:].strip().split()[0]
        if Path(interpreter).is_file():
            return interpreter
    return sys.executable


def python_pass() -> list[str]:
    return [mzt_python(), "-c", "pass"]


def environment(home: Path | None = None, **extra: str) -> dict[str, str]:
    """The environment of a measured ``mzt``: this one, without colour, with ``home``.

    ``PYTHONDONTWRITEBYTECODE`` is dropped: with it, every measured process would compile
    mzt's modules afresh, where a user's installed mzt (pip compiles at install) does not.
    """
    env = {**os.environ, "NO_COLOR": "1", **extra}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if home is not None:
        env["MZT_HOME"] = str(home)
    return env


# Linux charges a child, as its peak RSS, at least the peak RSS of the process it was
# forked from (exec records the old memory's high-water mark), so a bench process that
# once parsed a large checkpoint would inflate every child's figure. With ``own_rss`` the
# command is spawned from this small, fresh launcher instead, which times it the same way
# and reports the child's own rusage.
LAUNCHER = """
import json, os, sys, time
report, argv = sys.argv[1], sys.argv[2:]
started = time.perf_counter()
pid = os.posix_spawnp(argv[0], argv, os.environ)
_, status, usage = os.wait4(pid, 0)
seconds = time.perf_counter() - started
code = os.waitstatus_to_exitcode(status)
with open(report, "w") as out:
    cpu = usage.ru_utime + usage.ru_stime
    json.dump({"seconds": seconds, "max_rss_kb": usage.ru_maxrss, "cpu": cpu, "code": code}, out)
sys.exit(code if code >= 0 else 128 - code)
"""


def run(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    stdin: Path | None = None,
    keep_stdout: bool = False,
    check: bool = True,
    own_rss: bool = False,
) -> Finished:
    """Spawn ``argv``, wait for it with ``os.wait4`` and return its wall time and rusage.

    ``max_rss_kb`` is only the command's own with ``own_rss`` (see ``LAUNCHER``); the
    launcher's start-up is then not part of ``seconds``.
    """
    report = Path(tempfile.mkstemp(prefix="mzt-bench-", suffix=".json")[1]) if own_rss else None
    command = [sys.executable, "-S", "-c", LAUNCHER, str(report), *argv] if report else argv
    with tempfile.TemporaryFile() as err, tempfile.TemporaryFile() as out:
        source: IO[Any] | int = stdin.open("rb") if stdin else subprocess.DEVNULL
        try:
            started = perf_counter()
            process = subprocess.Popen(
                list(command),
                env=dict(env) if env is not None else None,
                cwd=cwd,
                stdin=source,
                stdout=out if keep_stdout else subprocess.DEVNULL,
                stderr=err,
            )
            _, status, usage = os.wait4(process.pid, 0)
            seconds = perf_counter() - started
        finally:
            if not isinstance(source, int):
                source.close()
        process.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        out.seek(0)
        max_rss_kb = usage.ru_maxrss
        cpu_seconds = usage.ru_utime + usage.ru_stime
        if report is not None:
            measured = json.loads(report.read_text() or "{}")
            report.unlink()
            seconds = measured.get("seconds", seconds)
            max_rss_kb = measured.get("max_rss_kb", -1)
            cpu_seconds = measured.get("cpu", cpu_seconds)
        finished = Finished(
            seconds=seconds,
            max_rss_kb=max_rss_kb,
            returncode=process.returncode,
            stdout=out.read(),
            stderr=err.read(),
            cpu_seconds=cpu_seconds,
        )
    if check and finished.returncode != 0:
        raise SystemExit(
            f"{' '.join(argv)} exited {finished.returncode}:\n"
            f"{finished.stderr.decode(errors='replace')[-3000:]}"
        )
    return finished


def spread(values: Sequence[float], unit: str = "", digits: int = 2) -> str:
    """``median (min–max)`` of ``values``."""
    mid = statistics.median(values)
    return (
        f"{mid:.{digits}f}{unit} (min {min(values):.{digits}f}{unit}"
        f" – max {max(values):.{digits}f}{unit})"
    )


def compare(
    label: str,
    a_name: str,
    a: Sequence[float],
    b_name: str,
    b: Sequence[float],
    *,
    target: str | None = None,
    scale: float = 1000.0,
    unit: str = "ms",
) -> None:
    """Print one comparison: each side's median and the per-round ratio a/b."""
    ratios = [x / y for x, y in zip(a, b, strict=True)]
    digits = 3 if scale * statistics.median(b) < 10 else 1
    print(f"{label}")
    print(f"    a: {a_name:<37} median {statistics.median(a) * scale:.{digits}f} {unit}")
    print(f"    b: {b_name:<37} median {statistics.median(b) * scale:.{digits}f} {unit}")
    line = f"    {'ratio per round (a / b)':<40} {spread(ratios, '×')}"
    if target:
        line += f"   target {target}"
    print(line)


def ensure_tool(command: str, package: str) -> str | None:
    """``command``'s path, installing ``package`` with apt-get (as root) when it is missing."""
    found = shutil.which(command)
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print(f"installing {package} with apt-get…", file=sys.stderr)
        subprocess.run(["apt-get", "update", "-qq"], check=False, capture_output=True)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", package], check=False, capture_output=True
        )
    return shutil.which(command)


def write_score(path: Path, score: Mapping[str, Any]) -> Path:
    """Write a score as YAML: as JSON its mapping keys would all be strings, and a
    fan-out's stage numbers must be integers."""
    import yaml

    path.write_text(yaml.safe_dump(dict(score), sort_keys=False))
    return path


def one_sheet_score(path: Path, name: str, template: str, workspace: str = "./ws") -> Path:
    """A one-sheet score whose ``cli`` sheet runs ``template`` as a bash script."""
    score = {
        "name": name,
        "workspace": workspace,
        "instrument": "cli",
        "pause_between_sheets_seconds": 0,
        "sheet": {"size": 1, "total_items": 1},
        "prompt": {"template": template},
    }
    return write_score(path, score)


def true_score(
    path: Path,
    name: str,
    sheets: int,
    *,
    workspace: str | None = None,
    max_concurrent: int = 1,
) -> Path:
    """A score of ``sheets`` sheets that each run ``true`` on the ``cli`` instrument (bash).

    No validations and no pause between sheets. With ``max_concurrent`` 1 the sheets form
    the default chain (each waits for the one before); above 1 they are the voices of
    one fanned-out stage, independent of each other, run that many at a time.
    """
    layout: dict[str, Any] = {"size": 1, "total_items": sheets}
    if max_concurrent > 1:
        layout = {"size": 1, "total_items": 1, "fan_out": {1: sheets}}
    score: dict[str, Any] = {
        "name": name,
        "workspace": workspace or f"./ws-{name}",
        "instrument": "cli",
        "pause_between_sheets_seconds": 0,
        "sheet": layout,
        "parallel": {"enabled": max_concurrent > 1, "max_concurrent": max_concurrent},
        "prompt": {"template": "true"},
    }
    return write_score(path, score)


def machine() -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{os.cpu_count()} CPUs, load {load:.2f}, Python {sys.version.split()[0]}, "
        f"mzt {' '.join(mzt_command())}"
    )


def sources_key() -> str:
    """A digest of the mzt sources: a cached job from other code is not reused."""
    digest = hashlib.sha256()
    package = REPO / "mzt"
    for path in sorted(package.rglob("*.py")):
        digest.update(str(path.relative_to(package)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def status_json(job: str, workspace: Path, home: Path) -> dict[str, object] | None:
    argv = [*mzt_command(), "status", job, "-w", str(workspace), "--json"]
    done = run(argv, env=environment(home), keep_stdout=True, check=False)
    if done.returncode != 0:
        return None
    try:
        document = json.loads(done.stdout)
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


def big_job(sheets: int, *, rebuild: bool) -> tuple[str, Path, Path]:
    """A completed ``sheets``-sheet job: (job id, workspace, MZT_HOME), built or reused."""
    job = f"startup-{sheets}"
    cache = Path(tempfile.gettempdir()) / "mzt-bench-cache" / f"{job}-{sources_key()}"
    workspace, home = cache / "ws", cache / "home"
    if not rebuild:
        found = status_json(job, workspace, home)
        progress = found.get("progress") if found else None
        if (
            found
            and found.get("status") == "completed"
            and isinstance(progress, dict)
            and progress.get("completed") == sheets
        ):
            print(f"reusing the cached {sheets:,}-sheet job in {cache}", file=sys.stderr)
            return job, workspace, home
    shutil.rmtree(cache, ignore_errors=True)
    cache.mkdir(parents=True)
    score = true_score(cache / f"{job}.yaml", job, sheets, workspace="./ws")
    print(f"building a {sheets:,}-sheet job in {cache} (once)…", file=sys.stderr)
    done = run([*mzt_command(), "run", "-q", str(score)], env=environment(home), cwd=cache)
    print(f"  built in {done.seconds:.0f} s", file=sys.stderr)
    return job, workspace, home
