"""Every file mzt reads or writes, replaced by something that is not a regular file.

For each (file, kind) a fresh project gets the odd thing planted at the file's path before
mzt runs; then the commands that read or write that file run as a user would. None may
crash (traceback, exit 70), hang, write through a symlink to a file outside the project,
or print anything but one JSON document under --json. The cases run a few at a time in
one module fixture (each is mostly interpreter start-up); the parametrized test reports
them one by one.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from mzt.support import paths

JOB = "job"
KINDS = ("symlink", "fifo", "zero", "dir")
SECRET = "outside: must stay as it is\n"

# Besides `mzt run`, the command that reads each file most directly.
FILES: dict[str, list[tuple[str, ...]]] = {
    "lock": [("status", JOB, "-w", "ws", "--json")],
    "registry": [("list", "--all", "--json")],
    "ratelimit": [("diagnose", JOB, "-w", "ws", "--json"), ("clear-rate-limits", "odd")],
    "result": [],  # written and read back by the run itself
    "log": [("logs", JOB, "-w", "ws")],
    "pause": [],  # honoured or removed as stale by the run
    "cancel": [],
    "profile": [("instruments", "list", "--json")],
    "prelude": [],  # injected by the run, checked by the validation it starts with
    "template": [],
    "score": [("status", "score.yaml", "--json")],
}
TIMEOUT = 45  # far above a healthy command's time on a loaded machine: a hang, not slowness


def _target(name: str, root: Path, home: Path) -> Path:
    ws = (root / "ws").resolve()
    return {
        "lock": paths.lock_file(ws, JOB),
        "registry": paths.registry_record(JOB, ws, home),
        "ratelimit": paths.ratelimit_record("odd", home),
        "result": paths.sheet_output(ws, JOB, 1),
        "log": paths.attempt_log(ws, JOB, 1, 1, "stdout"),
        "pause": paths.pause_file(ws, JOB),
        "cancel": paths.cancel_file(ws, JOB),
        "profile": paths.user_instruments_dir(home) / "odd.yaml",
        "prelude": root / "context.md",
        "template": root / "prompt.j2",
        "score": root / "score.yaml",
    }[name]


def _project(root: Path, home: Path) -> None:
    root.mkdir(parents=True)
    (home / "instruments").mkdir(parents=True)
    profile = {
        "name": "odd",
        "display_name": "cat as an instrument",
        "kind": "cli",
        "cli": {
            "command": {"executable": "cat", "prompt_via_stdin": True},
            "output": {"format": "text"},
        },
    }
    (home / "instruments" / "odd.yaml").write_text(yaml.safe_dump(profile))
    (root / "context.md").write_text("some context\n")
    (root / "prompt.j2").write_text("sheet {{ sheet_num }}\n")
    score = {
        "name": JOB,
        "workspace": "./ws",
        "instrument": "odd",
        "pause_between_sheets_seconds": 0,
        "sheet": {"size": 1, "total_items": 1, "prelude": [{"file": str(root / "context.md")}]},
        "prompt": {"template_file": "prompt.j2"},
        "retry": {"max_retries": 0},
        # Reads the result file back, so a planted one is read too.
        "validations": [
            {
                "type": "content_contains",
                "path": "{workspace}/.marianne/outputs/job/sheet-{sheet_num}.md",
                "pattern": "sheet 1",
            }
        ],
    }
    (root / "score.yaml").write_text(yaml.safe_dump(score, sort_keys=False))


def _plant(target: Path, kind: str, outside: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_dir() and not target.is_symlink():
        shutil.rmtree(target)
    elif target.exists() or target.is_symlink():
        target.unlink()
    if kind == "symlink":
        target.symlink_to(outside)
    elif kind == "fifo":
        os.mkfifo(target)
    elif kind == "zero":
        os.mknod(target, stat.S_IFCHR | 0o600, os.makedev(1, 5))  # what /dev/zero is
    else:
        target.mkdir()


@dataclass
class Case:
    name: str
    kind: str
    root: Path
    home: Path
    outside: Path
    problems: list[str] = field(default_factory=list)
    codes: list[int] = field(default_factory=list)

    def mzt(self, *args: str) -> subprocess.CompletedProcess[str] | None:
        env = {**os.environ, "MZT_HOME": str(self.home), "NO_COLOR": "1"}
        try:
            return subprocess.run(
                [sys.executable, "-m", "mzt", *args],
                cwd=self.root,
                env=env,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=TIMEOUT,
                stdin=subprocess.DEVNULL,
                check=False,
            )
        except subprocess.TimeoutExpired:
            self.problems.append(f"`mzt {' '.join(args)}` hung (> {TIMEOUT} s)")
            return None

    def check(self, args: tuple[str, ...]) -> None:
        done = self.mzt(*args)
        if done is None:
            return
        what = f"`mzt {' '.join(args)}`"
        self.codes.append(done.returncode)
        if done.returncode == 70 or "Traceback" in done.stderr:
            self.problems.append(f"{what} crashed ({done.returncode}): {done.stderr[-400:]}")
        if "--json" in args:
            try:
                json.loads(done.stdout)
            except ValueError:
                self.problems.append(f"{what}: stdout is not one JSON document: {done.stdout!r}")


def _fingerprint(path: Path) -> tuple[str, int]:
    st = path.stat()
    return hashlib.sha256(path.read_bytes()).hexdigest(), st.st_mtime_ns


def _run_case(case: Case) -> Case:
    _project(case.root, case.home)
    case.outside.write_text(SECRET)
    before = _fingerprint(case.outside)
    if case.kind != "none":
        _plant(_target(case.name, case.root, case.home), case.kind, case.outside)
    for args in [("run", "score.yaml", "--json"), *FILES[case.name]]:
        case.check(args)
    if _fingerprint(case.outside) != before:
        case.problems.append(f"{case.outside} (outside, behind the symlink) was changed")
    return case


def _can_mknod(folder: Path) -> bool:
    try:
        os.mknod(folder / "probe", stat.S_IFCHR | 0o600, os.makedev(1, 5))
    except OSError:
        return False
    (folder / "probe").unlink()
    return True


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Case]:
    base = tmp_path_factory.mktemp("odd")
    kinds = [k for k in KINDS if k != "zero" or _can_mknod(base)]
    cases = [
        Case(
            name,
            kind,
            base / f"{name}-{kind}" / "proj",
            base / f"{name}-{kind}" / "home",
            base / f"{name}-{kind}" / "outside.txt",
        )
        for name in FILES
        for kind in kinds
    ]
    cases.append(
        Case(
            "score",
            "none",
            base / "plain" / "proj",
            base / "plain" / "home",
            base / "plain" / "outside.txt",
        )
    )
    with ThreadPoolExecutor(max_workers=2) as pool:
        return {(c.name, c.kind): c for c in pool.map(_run_case, cases)}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", list(FILES))
def test_an_odd_file_is_an_error_never_a_crash(
    outcomes: dict[tuple[str, str], Case], name: str, kind: str
) -> None:
    case = outcomes.get((name, kind))
    if case is None:
        pytest.skip("creating a character device needs CAP_MKNOD")
    assert not case.problems, f"{name} as {kind}:\n" + "\n".join(case.problems)


def test_the_project_untouched_runs_and_reads_cleanly(
    outcomes: dict[tuple[str, str], Case],
) -> None:
    # Otherwise every case above would test a failing run, not the files it touches.
    case = outcomes[("score", "none")]
    assert not case.problems
    assert case.codes == [0, 0], case.codes
