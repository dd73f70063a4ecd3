"""Text renderings of a `mzt top` frame: a screen for a terminal, a block of lines otherwise.

Everything that came from a file another process wrote (instrument names, reasons, error
messages) goes through ``sanitize_terminal`` before it reaches a terminal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mzt.cli import console
from mzt.cli.formatting import clean, colored, duration, pressure_text, slurm_place

if TYPE_CHECKING:
    from mzt.api import TopFrame

_WAITS = {
    "retry": "retry",
    "completion": "completion",
    "rate_limited": "rate limited",
    "circuit_open": "circuit open",
    "fermata": "held",
}
SHEETS_SHOWN = 6  # running or waiting sheets named on a job's line before "+N more"


def _clock(frame: TopFrame) -> str:
    return frame.ts.astimezone().strftime("%H:%M:%S")


def _zulu(text: Any) -> str:
    """``14:10:00Z`` from an ISO time of today, the date too otherwise."""
    if not isinstance(text, str) or not text:
        return "?"
    return clean(text.replace("T", " ").replace("+00:00", "Z")[:20])


def summary(frame: TopFrame) -> str:
    """The frame's first line: how much runs and waits, and what it cost."""
    totals = frame.totals
    parts = [
        console.counted(totals["jobs"], "job"),
        f"{totals['jobs_running']} running",
        f"{console.counted(totals['sheets_running'], 'sheet')} running",
        f"{totals['sheets_waiting']} waiting",
        f"${totals['cost_usd']:.2f}",
    ]
    return " · ".join(parts)


def _progress(job: dict[str, Any]) -> str:
    progress = job["progress"]
    if progress["total"] is None:
        return "-"
    text = f"{progress['completed']}/{progress['total']}"
    return text + (f" ({progress['failed']} failed)" if progress["failed"] else "")


def _running(items: list[dict[str, Any]]) -> str:
    shown = [
        f"{item['sheet']} ({clean(item['instrument'] or '?', 30)}, {duration(item['seconds'])}"
        + (f", Slurm {slurm_place(item['slurm'])})" if item.get("slurm") else ")")
        for item in items[:SHEETS_SHOWN]
    ]
    more = f" +{len(items) - SHEETS_SHOWN} more" if len(items) > SHEETS_SHOWN else ""
    return "running sheet " + ", ".join(shown) + more


def _waiting(items: list[dict[str, Any]]) -> str:
    shown = []
    for item in items[:SHEETS_SHOWN]:
        why = _WAITS.get(item["reason"], item["reason"])
        left = item["seconds_left"]
        shown.append(f"{item['sheet']} ({why}" + (f", {duration(left)})" if left else ")"))
    more = f" +{len(items) - SHEETS_SHOWN} more" if len(items) > SHEETS_SHOWN else ""
    return "waiting sheet " + ", ".join(shown) + more


def _slot_waiting(items: list[dict[str, Any]]) -> list[str]:
    """The run waiting for its job slot (in the run's words), its sheets waiting for slots
    with the limit each waits for first."""
    parts = [clean(item["text"], 160) for item in items if item["sheet"] is None]
    sheets = [item for item in items if item["sheet"] is not None]
    if sheets:
        shown = [f"{item['sheet']} ({clean(item['limit'], 40)})" for item in sheets[:SHEETS_SHOWN]]
        more = f" +{len(sheets) - SHEETS_SHOWN} more" if len(sheets) > SHEETS_SHOWN else ""
        parts.append("slot wait sheet " + ", ".join(shown) + more)
    return parts


def job_line(job: dict[str, Any]) -> str:
    """One job: status, progress, cost, then what runs and what waits."""
    name = console.style(clean(job["job_id"], 64), "bold")  # from a file anyone could edit
    parts = [f"{name} {colored(job['status'])} {_progress(job)}"]
    if job["cost_usd"]:
        parts.append(f"${job['cost_usd']:.2f}")
    if job["running"]:
        parts.append(_running(job["running"]))
    if job["waiting"]:
        parts.append(_waiting(job["waiting"]))
    parts.extend(_slot_waiting(job.get("waiting_for_slot") or []))
    if job["alive"] and job["status"] == "running" and job["elapsed_seconds"] is not None:
        parts.append(f"for {duration(job['elapsed_seconds'])}")
    if job["error"]:
        parts.append(clean(job["error"], 160))
    return " · ".join(parts)


def shared_lines(frame: TopFrame) -> list[str]:
    """The active rate limits and the circuits that are not closed."""
    lines = []
    for limit in frame.rate_limits:
        lines.append(
            f"rate limit {clean(limit['instrument'], 40)} until {_zulu(limit['limited_until'])}"
            f" ({duration(limit['seconds_left'])} left, set by {clean(limit['set_by_job'], 64)})"
        )
    for circuit in frame.circuits:
        state = circuit["state"]
        when = f" until {_zulu(circuit['until'])}" if state == "open" else ""
        reason = f": {clean(circuit['reason'], 80)}" if circuit.get("reason") else ""
        lines.append(
            f"circuit {clean(circuit['instrument'], 40)} "
            f"{console.style(state.replace('_', ' '), 'yellow')}{when}{reason}"
        )
    return lines


def limit_text(use: dict[str, Any]) -> str:
    """``sheets 4/4 (a 2, b 2)``: a limit, how many of its slots are held, and by whom."""
    name = clean(use["limit"], 60)
    held = f"{use['held']}/{use['capacity']}" if use["capacity"] else f"{use['held']} held"
    jobs = ", ".join(f"{clean(job, 64)} {count}" for job, count in use["by_job"].items())
    text = f"{name} {held}" + (f" ({jobs})" if jobs else "")
    return text + (f" — {clean(use['problem'], 120)}" if use.get("problem") else "")


def slot_lines(frame: TopFrame) -> list[str]:
    """The slots block: ``sheets`` and ``jobs`` always, another limit while it is in use."""
    shown = [
        use
        for use in frame.slots
        if use["limit"] in ("sheets", "jobs") or use["held"] or use.get("problem")
    ]
    if not shown:
        return []
    return ["slots:", *(f"  {limit_text(use)}" for use in shown)]


def pressure_line(frame: TopFrame) -> str | None:
    """``pressure high: rate limit on claude-code until 12:04:05``."""
    return None if frame.pressure is None else f"pressure {pressure_text(frame.pressure)}"


def block(frame: TopFrame) -> list[str]:
    """The frame as plain lines: a stamped summary, then a line per job, shared record and
    limit."""
    lines = [f"{_clock(frame)} {summary(frame)}"]
    lines.extend(f"  {job_line(job)}" for job in frame.jobs)
    lines.extend(f"  {line}" for line in shared_lines(frame))
    lines.extend(f"  {line}" for line in slot_lines(frame))
    if (line := pressure_line(frame)) is not None:
        lines.append(f"  {line}")
    return lines


def screen(frame: TopFrame, columns: int, rows: int) -> list[str]:
    """The frame as a terminal screen: at most ``rows`` lines, each cut to ``columns``."""
    lines = [f"{console.style('mzt top', 'bold')} {_clock(frame)} · {summary(frame)}", ""]
    if not frame.jobs:
        lines.append("no job to show (mzt run registers each job it starts)")
    lines.extend(job_line(job) for job in frame.jobs)
    shared = shared_lines(frame)
    if shared:
        lines.append("")
        lines.extend(shared)
    slots = slot_lines(frame)
    if slots:
        lines.append("")
        lines.extend(slots)
    if (line := pressure_line(frame)) is not None:
        lines.append(line)
    if len(lines) > rows - 1:
        hidden = len(lines) - (rows - 2)
        lines = [*lines[: rows - 2], f"… {hidden} more lines (a taller terminal shows them)"]
    # Colour codes take no columns: allow for them rather than cut inside one.
    return [line[: columns + (20 if "\x1b" in line else 0)] for line in lines]
