"""Installation checks behind `mzt doctor`: what runs depend on here, each with a verdict.

Nothing here prints; the command line renders the report.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.metadata
import os
import re
import stat
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from mzt.support import paths, records

# --- doctor ---------------------------------------------------------------------------------

Verdict = Literal["ok", "warning", "problem"]
_RANK = {"ok": 0, "warning": 1, "problem": 2}

PACKAGES = ("click", "msgspec", "PyYAML", "Jinja2", "psutil", "watchfiles")
NETWORK_FILE_SYSTEMS = frozenset(
    {"nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "ceph", "glusterfs", "lustre", "gpfs", "afs"}
)
INOTIFY_DIR = Path("/proc/sys/fs/inotify")
_INOTIFY_SCAN_SECONDS = 0.5


@records.record(frozen=True)
class Check:
    """One doctor finding: what area, what was checked, the verdict and why."""

    area: str  # python, mzt, package, mzt_home, config, pressure, instrument,
    # instrument_profiles, slurm, inotify, flock
    name: str
    verdict: Verdict
    message: str
    details: dict[str, Any] = records.field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The check as JSON data."""
        return {
            "area": self.area,
            "name": self.name,
            "verdict": self.verdict,
            "message": self.message,
            "details": self.details,
        }


@records.record(frozen=True)
class DoctorReport:
    """Every check doctor made."""

    checks: tuple[Check, ...]

    @property
    def verdict(self) -> Verdict:
        """The worst verdict of all checks."""
        worst: Verdict = "ok"
        for check in self.checks:
            if _RANK[check.verdict] > _RANK[worst]:
                worst = check.verdict
        return worst

    def count(self, verdict: Verdict) -> int:
        """How many checks ended with ``verdict``."""
        return sum(1 for c in self.checks if c.verdict == verdict)

    def to_json(self) -> dict[str, Any]:
        """The report as the body of a ``mzt.doctor/1`` document."""
        return {
            "verdict": self.verdict,
            "counts": {v: self.count(v) for v in ("ok", "warning", "problem")},
            "checks": [c.to_json() for c in self.checks],
        }


def doctor(
    *,
    cwd: Path | None = None,
    home: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> DoctorReport:
    """Check Python, packages, MZT_HOME, its config.yaml, the machine's pressure,
    instruments, Slurm, inotify and file locking here.

    Environment variables are only ever tested for being set: their values are never
    read into the report. The file-lock check creates (and removes) one temporary file in
    ``cwd``.
    """
    here = cwd or Path.cwd()
    env = os.environ if environ is None else environ
    checks: list[Check] = [_check_python(), _check_mzt()]
    checks.extend(_check_packages())
    checks.append(_check_home(home or paths.mzt_home()))
    # doctor_machine imports `Check` from here.
    from mzt.views.doctor_machine import check_machine_config, check_pressure

    checks.append(check_machine_config(home or paths.mzt_home(), env))
    checks.append(check_pressure(home or paths.mzt_home(), env))
    checks.extend(_check_instruments(env))
    from mzt.views.doctor_slurm import check_slurm

    checks.append(check_slurm(home or paths.mzt_home(), env))
    checks.append(_check_inotify())
    checks.append(_check_flock(here))
    return DoctorReport(tuple(checks))


def _check_python() -> Check:
    # mzt cannot even be imported below 3.11 (its pyproject says so), so this reports only.
    version = ".".join(map(str, sys.version_info[:3]))
    details = {"version": version, "executable": sys.executable}
    return Check("python", "python", "ok", f"Python {version} ({sys.executable})", details)


def _check_mzt() -> Check:
    from mzt import __version__

    location = str(Path(__file__).resolve().parent)
    return Check(
        "mzt",
        "mzt",
        "ok",
        f"mzt {__version__} ({location})",
        {"version": __version__, "location": location},
    )


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _minimum_versions() -> dict[str, str]:
    """``name -> minimum version`` from mzt's own installed requirements, if installed."""
    try:
        requires = importlib.metadata.requires("mzt") or []
    except importlib.metadata.PackageNotFoundError:
        return {}
    minimums = {}
    for requirement in requires:
        if ";" in requirement:
            continue  # extras and markers: not runtime requirements
        match = re.match(r"\s*([A-Za-z0-9_.-]+)\s*(.*)", requirement)
        if not match:
            continue
        floor = re.search(r">=\s*([0-9][0-9A-Za-z.]*)", match.group(2))
        if floor:
            minimums[_normalise(match.group(1))] = floor.group(1)
    return minimums


def _version_key(version: str) -> tuple[int, ...]:
    parts = []
    for piece in version.split("."):
        digits = re.match(r"\d+", piece)
        if not digits:
            break
        parts.append(int(digits.group()))
    return tuple(parts)


def _check_packages() -> list[Check]:
    minimums = _minimum_versions()
    checks = []
    for name in PACKAGES:
        wanted = minimums.get(_normalise(name))
        details: dict[str, Any] = {"package": name, "version": None, "minimum": wanted}
        try:
            version = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            checks.append(Check("package", name, "problem", f"{name} is not installed", details))
            continue
        details["version"] = version
        if wanted and _version_key(version) < _version_key(wanted):
            message = f"{name} {version} is older than the {wanted} mzt needs"
            checks.append(Check("package", name, "problem", message, details))
        else:
            checks.append(Check("package", name, "ok", f"{name} {version}", details))
    return checks


def _check_home(home: Path) -> Check:
    details: dict[str, Any] = {"path": str(home), "exists": False, "mode": None, "owned": None}
    try:
        st = home.stat()
    except FileNotFoundError:
        ancestor = home.parent
        while not ancestor.exists() and ancestor != ancestor.parent:
            ancestor = ancestor.parent
        if os.access(ancestor, os.W_OK | os.X_OK):
            return Check(
                "mzt_home", "MZT_HOME", "ok", f"{home} (not created yet; runs create it)", details
            )
        return Check(
            "mzt_home",
            "MZT_HOME",
            "problem",
            f"{home} does not exist and cannot be created ({ancestor} is not writable)",
            details,
        )
    except OSError as exc:
        return Check("mzt_home", "MZT_HOME", "problem", f"{home}: {exc.strerror}", details)
    mode = stat.S_IMODE(st.st_mode)
    details.update(exists=True, mode=f"{mode:04o}", owned=st.st_uid == os.geteuid())
    if not stat.S_ISDIR(st.st_mode):
        return Check("mzt_home", "MZT_HOME", "problem", f"{home} is not a folder", details)
    if not os.access(home, os.W_OK | os.X_OK):
        return Check("mzt_home", "MZT_HOME", "problem", f"{home} is not writable by you", details)
    notes = []
    if st.st_uid != os.geteuid():
        notes.append(f"it is owned by uid {st.st_uid}, not by you")
    if mode & 0o077:
        notes.append(f"its mode is {mode:04o}, so other users can see run data (chmod 700 it)")
    if notes:
        return Check("mzt_home", "MZT_HOME", "warning", f"{home}: " + "; ".join(notes), details)
    return Check("mzt_home", "MZT_HOME", "ok", f"{home} (mode {mode:04o})", details)


def _check_instruments(env: Mapping[str, str]) -> list[Check]:
    from mzt.instruments import load_instruments
    from mzt.instruments.info import gather
    from mzt.instruments.probe import local_address, unreachable

    registry = load_instruments()
    checks = []
    for info in gather(registry, environ=env):
        # Names and set/unset only: a value never enters the report.
        variables = [{"name": v.name, "set": v.set, "role": v.role} for v in info.env]
        details: dict[str, Any] = {
            "instrument": info.name,
            "kind": info.kind,
            "source": info.source,
            "executable": info.executable,
            "binary_found": (info.binary_path is not None) if info.kind == "cli" else None,
            "binary_path": info.binary_path,
            "auth_env": variables,
        }
        if info.kind == "cli":
            found = f"`{info.executable}` at {info.binary_path}" if info.binary_path else None
            message = f"{info.name}: " + (found or f"`{info.executable}` not found on PATH")
        else:
            message = f"{info.name}: HTTP API {info.endpoint or ''}".rstrip()
            address = local_address(info.endpoint) if info.endpoint else None
            down = unreachable(address) if address else None
            details["server_listening"] = None if address is None else down is None
            if down:
                message += f": {down}"
        if variables:
            listed = ", ".join(f"{v['name']} ({'set' if v['set'] else 'unset'})" for v in variables)
            message += f"; reads {listed}"
        usable = info.ready and details.get("server_listening") is not False
        verdict: Verdict = "ok" if usable else "warning"
        checks.append(Check("instrument", info.name, verdict, message, details))
    if registry.problems:
        listed = "; ".join(str(p) for p in registry.problems)
        checks.append(
            Check(
                "instrument_profiles",
                "profiles",
                "warning",
                f"{len(registry.problems)} profile file(s) skipped: {listed}",
                {"skipped": [str(p.path) for p in registry.problems]},
            )
        )
    return checks


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _inotify_use() -> tuple[int | None, int | None]:
    """(instances, watches) held by this user's processes, or Nones when the scan is too slow."""
    uid = os.geteuid()
    instances = watches = 0
    deadline = time.monotonic() + _INOTIFY_SCAN_SECONDS
    try:
        entries = os.scandir("/proc")
    except OSError:
        return None, None
    with entries:
        for entry in entries:
            if time.monotonic() > deadline:
                return None, None
            if not entry.name.isdigit():
                continue
            try:
                if entry.stat().st_uid != uid:
                    continue
                fds = list(Path(f"/proc/{entry.name}/fd").iterdir())
            except OSError:
                continue  # gone, or not ours to look at
            for fd in fds:
                try:
                    if str(fd.readlink()) != "anon_inode:inotify":
                        continue
                    info = Path(f"/proc/{entry.name}/fdinfo/{fd.name}").read_text()
                except OSError:
                    continue
                instances += 1
                watches += sum(1 for line in info.splitlines() if line.startswith("inotify wd:"))
    return instances, watches


def _check_inotify() -> Check:
    max_watches = _read_int(INOTIFY_DIR / "max_user_watches")
    max_instances = _read_int(INOTIFY_DIR / "max_user_instances")
    details: dict[str, Any] = {
        "max_user_watches": max_watches,
        "max_user_instances": max_instances,
        "instances_in_use": None,
        "watches_in_use": None,
    }
    if max_watches is None or max_instances is None:
        return Check(
            "inotify",
            "inotify",
            "warning",
            "inotify limits are not readable here; `mzt watch` polls instead of waiting "
            "for file events",
            details,
        )
    instances, watches = _inotify_use()
    details.update(instances_in_use=instances, watches_in_use=watches)
    message = f"max_user_instances {max_instances}, max_user_watches {max_watches}"
    if instances is not None:
        message += f"; in use by you: {instances} instances, {watches} watches"
    exhausted = (instances is not None and instances >= max_instances) or (
        watches is not None and watches >= max_watches
    )
    if exhausted:
        message += (
            "; exhausted: `mzt watch` falls back to polling (raise fs.inotify.max_user_instances "
            "or max_user_watches with sysctl)"
        )
        return Check("inotify", "inotify", "warning", message, details)
    return Check("inotify", "inotify", "ok", message, details)


def _mount_type(folder: Path) -> str | None:
    """File system type of the mount holding ``folder`` (Linux ``/proc/self/mountinfo``)."""
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return None
    target = str(folder.resolve())
    best, best_len = None, -1
    for line in lines:
        left, _, right = line.partition(" - ")
        fields, rest = left.split(), right.split()
        if len(fields) < 5 or not rest:
            continue
        # Mount points escape spaces and the like as octal (\040).
        point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4])
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) > best_len:
            best, best_len = rest[0], len(point)
    return best


def _check_flock(folder: Path) -> Check:
    fs_type = _mount_type(folder)
    details: dict[str, Any] = {"path": str(folder), "fs_type": fs_type, "supported": None}
    try:
        fd, name = tempfile.mkstemp(prefix=".mzt-doctor-", suffix=".lock", dir=folder)
    except OSError as exc:
        return Check(
            "flock",
            "file locks",
            "warning",
            f"could not test locking in {folder}: {exc.strerror or exc} (workspaces need a "
            "writable folder on a local file system)",
            details,
        )
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
    except OSError as exc:
        details["supported"] = False
        return Check(
            "flock",
            "file locks",
            "problem",
            f"{folder} ({fs_type or 'unknown file system'}) does not support flock: "
            f"{exc.strerror or exc}; runs cannot lock their jobs there",
            details,
        )
    finally:
        os.close(fd)
        with contextlib.suppress(OSError):
            Path(name).unlink()
    details["supported"] = True
    where = f"{folder} ({fs_type})" if fs_type else str(folder)
    if fs_type and (fs_type in NETWORK_FILE_SYSTEMS or fs_type.startswith("fuse")):
        return Check(
            "flock",
            "file locks",
            "warning",
            f"{where}: flock works, but on a network or FUSE file system it may not exclude "
            "runs on other machines; keep workspaces on a local file system",
            details,
        )
    return Check("flock", "file locks", "ok", f"{where}: flock works", details)
