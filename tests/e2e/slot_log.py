"""Jobs whose sheets log their own start and end, and what those logs say about slots.

Each sheet's bash script appends ``start <job> <sheet> <ns> <pid>`` before its work and
``end <job> <sheet> <ns> <pid>`` after it to one shared log (an ``O_APPEND`` line this
short is written whole), with its own clock (``date +%s%N``): the figures measure what
the agents saw, not what mzt says of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import mzt
from tests.e2e.conftest import Project

_STAMP = "$(date +%s%N) $$"


def sheet_script(job: str, log: Path, work: str) -> str:
    return (
        f'echo "start {job} {{{{ sheet_num }}}} {_STAMP}" >> {log}\n'
        f"{work}\n"
        f'echo "end {job} {{{{ sheet_num }}}} {_STAMP}" >> {log}\n'
    )


def job_score(
    project: Project,
    job: str,
    sheets: int,
    log: Path,
    work: str,
    *,
    instrument: str = "cli",
    concurrent: int = 8,
) -> Path:
    """A job of one stage fanned out to ``sheets`` voices, in its own workspace."""
    return project.score(
        {
            "name": job,
            "workspace": f"./ws-{job}",
            "instrument": instrument,
            "sheet": {"size": 1, "total_items": 1, "fan_out": {1: sheets}},
            "parallel": {"enabled": True, "max_concurrent": concurrent},
            "prompt": {"template": sheet_script(job, log, work)},
        },
        name=f"{job}.yaml",
    )


def second_shell(project: Project, name: str) -> None:
    """A user instrument profile that is the shipped ``cli`` one under another name."""
    shipped = Path(mzt.__file__).parent / "instruments" / "builtin" / "cli.yaml"
    folder = project.home / "instruments"
    folder.mkdir(parents=True, exist_ok=True)
    text = shipped.read_text().replace("name: cli\n", f"name: {name}\n", 1)
    assert f"name: {name}\n" in text
    (folder / f"{name}.yaml").write_text(text)


def in_queue(project: Project, limit: str, job: str) -> bool:
    """Whether a run of ``job`` waits in ``limit``'s queue (holds a ticket there)."""
    folder = project.home / "slots" / limit / "tickets"
    return folder.is_dir() and any(
        p.name.endswith(f".{job}.ticket") and not p.name.startswith(".") for p in folder.iterdir()
    )


@dataclass(frozen=True)
class Attempt:
    job: str
    sheet: int
    start: int  # ns
    end: int | None  # ns; None while it runs (or if it was killed)
    pid: int


def attempts(log: Path) -> list[Attempt]:
    """Every attempt the log shows, in the order they started."""
    if not log.exists():
        return []
    opened: dict[tuple[str, int, int], int] = {}
    closed: list[Attempt] = []
    for line in log.read_text().splitlines():
        parts = line.split()
        if len(parts) != 5:
            continue  # a line still being written
        kind, job, sheet, ns, pid = parts
        key = (job, int(sheet), int(pid))
        if kind == "start":
            opened[key] = int(ns)
        elif kind == "end" and key in opened:
            closed.append(Attempt(job, int(sheet), opened.pop(key), int(ns), int(pid)))
    closed += [Attempt(job, sheet, ns, None, pid) for (job, sheet, pid), ns in opened.items()]
    return sorted(closed, key=lambda a: a.start)


def started(log: Path, job: str) -> list[Attempt]:
    return [a for a in attempts(log) if a.job == job]


def most_at_once(runs: list[Attempt]) -> int:
    """The largest number of the attempts that ran at the same moment."""
    edges = sorted([(a.start, 1) for a in runs] + [(_end(a), -1) for a in runs])
    now = peak = 0
    for _, step in edges:  # at a tie an end sorts first: back to back is not at once
        now += step
        peak = max(peak, now)
    return peak


def busy_share(runs: list[Attempt], slots: int) -> float:
    """How much of ``slots`` × (first start → last end) the attempts filled."""
    first = min(a.start for a in runs)
    last = max(_end(a) for a in runs)
    return sum(_end(a) - a.start for a in runs) / (slots * (last - first))


def longest_short_handed(runs: list[Attempt], slots: int) -> float:
    """Seconds: the longest stretch with a slot free while attempts were still to start.

    From the first start to the last start, every slot should be taken again as soon as
    it is let go: a long stretch here is a freed slot nobody took.
    """
    last_start = max(a.start for a in runs)
    edges = sorted([(a.start, 1) for a in runs] + [(_end(a), -1) for a in runs])
    now, since, longest = 0, None, 0
    for moment, step in edges:
        if moment > last_start:
            break
        now += step
        if now < slots and since is None:
            since = moment
        elif now >= slots and since is not None:
            longest, since = max(longest, moment - since), None
    return longest / 1e9


def shares_while_all_ran(runs: list[Attempt]) -> dict[str, float]:
    """Seconds of attempts each job ran in the window when every job had started and none
    had ended its last attempt."""
    jobs = sorted({a.job for a in runs})
    begin = max(min(a.start for a in runs if a.job == job) for job in jobs)
    finish = min(max(_end(a) for a in runs if a.job == job) for job in jobs)
    return {
        job: sum(max(0, min(_end(a), finish) - max(a.start, begin)) for a in runs if a.job == job)
        / 1e9
        for job in jobs
    }


def window(runs: list[Attempt]) -> float:
    """Seconds from the first start to the last end."""
    return (max(_end(a) for a in runs) - min(a.start for a in runs)) / 1e9


def _end(attempt: Attempt) -> int:
    assert attempt.end is not None, f"{attempt} never ended"
    return attempt.end
