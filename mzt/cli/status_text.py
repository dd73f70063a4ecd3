"""Text renderings of the status views, for `mzt status` and `mzt list` (no click here).

:mod:`mzt.cli.observe_cmd` defines the commands; :mod:`mzt.cli.fast` prints the job
overview with these renderings before click is even imported.
"""

from __future__ import annotations

from datetime import UTC, datetime

from mzt.cli import console
from mzt.cli.formatting import (
    age,
    alive_text,
    bar,
    clean,
    colored,
    duration,
    money,
    num_ranges,
    pressure_text,
    slurm_place,
    stamp,
)
from mzt.cli.hook_text import hook_lines
from mzt.cli.worktree_text import worktree_fields, worktree_lines

# Not `typing`: importing it is a visible share of `mzt status`'s whole answer.
TYPE_CHECKING = False

if TYPE_CHECKING:
    from typing import Any

COMPACT_ABOVE = 50  # sheets; above this the per-sheet table becomes one row per movement
ERRORS_SHOWN = 5
MOVEMENT_ROWS = 30  # above this, runs of finished movements are shown as one row
LIST_STATUSES = ("pending", "running", "completed", "failed", "paused", "cancelled", "corrupt")


def view_limits(*, as_json: bool, verbose: bool) -> tuple[int | None, int | None]:
    """``sheet_limit`` and ``movement_rows`` of the status document for this rendering.

    JSON and ``-v`` get every sheet and every movement; the terminal view of a big job
    gets movements instead of sheets, runs of finished movements merged into one row.
    """
    if as_json or verbose:
        return None, None
    return COMPACT_ABOVE, MOVEMENT_ROWS


def _leftover_text(item: dict[str, Any]) -> str:
    """An attempt of the dead run still alive (the next run, resume or cancel stops it)."""
    if item.get("job_id") and not item.get("note"):
        where = f"Slurm job {item['job_id']} still queued or running"
    else:
        where = item.get("note") or f"pid {item['pid']}, {len(item['pids'])} process(es) alive"
    return f"sheet {item['sheet_num']} attempt {item['attempt']}: {where}"


def slurm_text(item: dict[str, Any]) -> str:
    """A running attempt of a live run that is a Slurm job: its id, state and node."""
    return f"sheet {item['sheet_num']} attempt {item['attempt']}: {slurm_place(item)}"


def _take_over_text(record: dict[str, Any]) -> str:
    """Whose the job was before `--take-over` brought it to this host, and when."""
    facts = [f"pid {record['from_pid']}"] if record.get("from_pid") is not None else []
    if record.get("last_written_at"):
        facts.append(f"last wrote {stamp(record['last_written_at'])}")
    detail = f" ({', '.join(facts)})" if facts else ""
    return (
        f"from {record.get('from_host')}{detail} by `mzt {record.get('command')} --take-over` "
        f"on {record.get('by_host')}, {stamp(record.get('at'))}"
    )


def _render_status(doc: dict[str, Any], *, verbose: bool) -> None:
    now = datetime.now(UTC)
    title = doc["job_id"]
    if doc.get("job_name") and doc["job_name"] != doc["job_id"]:
        title += f" ({doc['job_name']})"
    liveness = doc["liveness"]
    state = colored(doc["status"])
    if liveness["verdict"] == "alive":
        state += " — running now"
    elif liveness["verdict"] == "dead":
        # Stored as running, read as paused: what happened to it is that its run died.
        state = colored("interrupted") + " — its run died"
    elif liveness["verdict"] == "foreign":
        holder = liveness.get("holder") or {}
        state += f" — run on host {holder.get('host', '?')}, cannot check from here"
    else:
        state += " — not running"
    console.out(console.style(title, "bold"))
    fields = [
        ("status", state),
        ("pid", str(doc["pid"]) if doc.get("pid") else "-"),
        ("workspace", doc["workspace"]),
        ("score", doc.get("score_path") or doc.get("config_path") or "-"),
        ("started", stamp(doc.get("started_at"))),
        ("elapsed", duration(doc.get("elapsed_seconds"))),
        ("updated", f"{stamp(doc.get('updated_at'))} ({age(doc.get('updated_at'), now)})"),
    ]
    if doc.get("taken_over"):
        fields.append(("taken over", _take_over_text(doc["taken_over"])))
    for item in doc.get("leftover_attempts") or []:
        fields.append(("leftover", _leftover_text(item)))
    for item in doc.get("slurm_attempts") or []:
        fields.append(("slurm", slurm_text(item)))
    fields.extend(worktree_fields(doc))
    cost = doc["cost"]
    tokens = ""
    if cost.get("input_tokens") or cost.get("output_tokens"):
        tokens = (
            f" ({cost.get('input_tokens') or 0} tokens in, {cost.get('output_tokens') or 0} out)"
        )
    limit = ", cost limit reached" if cost.get("limit_reached") else ""
    fields.append(("cost", money(doc["total_cost_usd"]) + tokens + limit))
    if doc.get("resume_at"):
        fields.append(("resume at", stamp(doc["resume_at"])))
    if doc.get("waiting_for_slot"):  # the run itself, for a job slot: no sheet starts yet
        fields.append(("waiting", clean(doc["waiting_for_slot"]["text"], 300)))
    if doc.get("pressure"):
        fields.append(("pressure", pressure_text(doc["pressure"])))
    if doc.get("error_message") and doc["status"] != "completed":
        fields.append(("message", clean(doc["error_message"], 300)))
    width = max(len(name) for name, _ in fields)
    for name, value in fields:
        console.out(f"  {name.ljust(width)}  {value}")

    progress = doc["progress"]
    counts = _shown_counts(doc)
    spread = ", ".join(f"{n} {s}" for s, n in sorted(counts.items(), key=lambda kv: -kv[1]))
    console.out()
    console.out(
        f"{bar(progress['completed'], progress['total'])} {progress['completed']}/"
        f"{progress['total']} sheets ({progress['percent']:g}%)" + (f": {spread}" if spread else "")
    )
    if doc["sheets_omitted"]:
        console.out()
        _movement_table(doc)
    elif doc["sheets"]:
        console.out()
        _sheet_table(doc, now)
    for line in [*worktree_lines(doc), *hook_lines(doc, every=False), *slot_lines(doc)]:
        console.out(line)

    errors = doc["recent_errors"][: None if verbose else ERRORS_SHOWN]
    if errors:
        console.out()
        console.out("Recent errors:")
        for error in errors:
            code = error.get("error_code") or "-"
            category = f" {error['category']}" if error.get("category") else ""
            attempt = f" attempt {error['attempt']}" if error.get("attempt") else ""
            console.out(
                f"  {stamp(error.get('timestamp'))[11:19]}  sheet {error['sheet_num']}{attempt}"
                f"  [{code}{category}]  {clean(error.get('message'), 160)}"
            )
    limits = [r for r in doc["rate_limits"] if r["active"] or verbose]
    if limits:
        console.out()
        console.out("Rate limits:")
        for record in limits:
            state_text = (
                f"limited until {stamp(record['limited_until'])} "
                f"({duration(record['seconds_left'])} left)"
                if record["active"]
                else f"expired at {stamp(record['limited_until'])}"
            )
            console.out(
                f"  {record['instrument']}: {state_text}, set by job {record['set_by_job']}"
                + (f": {clean(record['reason'], 120)}" if record.get("reason") else "")
            )
    from mzt.cli.circuit_text import show_circuits

    show_circuits(doc.get("circuit_breaker"), verbose=verbose)
    steps = doc["next_steps"]
    if steps:
        console.out()
        console.out("Next:")
        width = max(len(step["command"]) for step in steps)
        for step in steps:
            if step["command"]:
                console.out(f"  {step['command'].ljust(width)}  # {step['reason']}")
            else:
                console.out(f"  {step['reason']}")


def slot_lines(doc: dict[str, Any]) -> list[str]:
    """The sheets waiting for machine slots, those waiting alike on one line, in the run's
    own words (``sheets 3-5: waiting for a cli slot: 4/4 held by jobs a, b``)."""
    by_text: dict[str, list[int]] = {}
    for num, wait in (doc.get("slot_waits") or {}).items():
        by_text.setdefault(wait["text"], []).append(int(num))
    if not by_text:
        return []
    lines = ["", "Waiting for machine slots:"]
    for text, waiting in sorted(by_text.items(), key=lambda item: min(item[1])):
        waiting.sort()
        which = f"sheet{'s' if len(waiting) > 1 else ''} {num_ranges(waiting)}"
        lines.append(f"  {which}: {clean(text, 200)}")
    return lines


def _sheet_table(doc: dict[str, Any], now: datetime) -> None:
    headers = ["SHEET", "STATUS", "ATTEMPTS", "VALID", "INSTRUMENT", "DURATION", "COST", "ERROR"]
    rows: list[list[str]] = []
    headings: dict[int, str] = {}  # row index -> heading
    movements = {s["movement"] for s in doc["sheets"].values()}
    grouped = 1 < len(movements) < len(doc["sheets"])  # headings only where they group
    current: object = object()
    for num, sheet in doc["sheets"].items():
        if grouped and sheet["movement"] != current:
            current = sheet["movement"]
            headings[len(rows)] = f"movement {current if current is not None else '?'}"
        rate = sheet["validation_pass_rate"]
        chain = [f["from"] for f in sheet["fallbacks"] if f.get("from")]
        instrument = " → ".join([*chain, sheet["instrument_name"] or "-"])
        status_text = sheet["status"]
        if sheet["status"] == "skipped" and sheet["error_code"] == "E999":
            status_text = "blocked"
        elif sheet.get("interrupted"):
            status_text = "interrupted"
        elif sheet.get("waiting_for_slot"):
            status_text = "waiting (slot)"
        rows.append(
            [
                num,
                status_text,
                str(sheet["attempt_count"]),
                "-" if rate is None else f"{rate:.0f}%",
                instrument,
                duration(sheet["duration_seconds"]),
                money(sheet["cost_usd"]) if sheet["attempt_count"] else "-",
                sheet["error_code"] or "",
            ]
        )
    lines = console.table(rows, headers)
    console.out(lines[0])
    for index, line in enumerate(lines[1:]):
        if index in headings:
            console.out(console.style(headings[index], "dim"))
        console.out(line)


def _movement_table(doc: dict[str, Any]) -> None:
    headers = ["MOVEMENT", "SHEETS", "DONE", "FAILED", "RUNNING", "OTHER", "ATTEMPTS", "TIME"]
    headers += ["COST", "INSTRUMENT"]
    rows: list[list[str]] = []
    dead = doc["liveness"]["verdict"] == "dead"
    for group in doc["movements"]:  # runs of finished ones already merged (see view_limits)
        counts = group["counts"]
        done, failed = counts.get("completed", 0), counts.get("failed", 0)
        # A dead run's active sheets are all interrupted: none of them is running.
        running = 0 if dead else counts.get("in_progress", 0) + counts.get("dispatched", 0)
        first, last = group["first_sheet"], group["last_sheet"]
        rows.append(
            [
                group.get("label")
                or ("?" if group["movement"] is None else str(group["movement"])),
                str(first) if first == last else f"{first}-{last}",
                str(done),
                str(failed),
                str(running),
                str(group["sheets"] - done - failed - running),
                str(group["attempts"]),
                duration(group["duration_seconds"]),
                money(group["cost_usd"]),
                ", ".join(group["instruments"]) or "-",
            ]
        )
    for line in console.table(rows, headers):
        console.out(line)
    for name, nums in sorted(_shown_by_status(doc).items()):
        if name not in ("completed", "pending"):
            console.out(f"  {name}: sheets {num_ranges(nums)}")


def _shown_by_status(doc: dict[str, Any]) -> dict[str, list[int]]:
    """Sheet numbers by the status the text shows: interrupted ones apart from the rest."""
    interrupted = doc.get("interrupted_sheets") or []
    if not interrupted:
        return dict(doc["sheets_by_status"])
    gone = set(interrupted)
    shown = {
        name: kept
        for name, nums in doc["sheets_by_status"].items()
        if (kept := [n for n in nums if n not in gone])
    }
    shown["interrupted"] = list(interrupted)
    return shown


def _shown_counts(doc: dict[str, Any]) -> dict[str, int]:
    if not doc.get("interrupted_sheets"):
        return dict(doc["progress"]["counts"])
    return {name: len(nums) for name, nums in _shown_by_status(doc).items()}


def _render_overview(doc: dict[str, Any]) -> None:
    from mzt import api

    if not doc["jobs"]:
        console.out(f"no jobs registered (registry: {api.registry_dir()})")
        return
    counts = doc["counts"]
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items(), key=lambda kv: -kv[1]))
    console.out(f"{doc['total']} job{'s' if doc['total'] != 1 else ''}: {summary}")
    for title, rows in (
        ("Running", doc["active"]),
        ("Needs attention", doc["attention"]),
        ("Recently completed", doc["recent"]),
    ):
        if rows:
            console.out()
            console.out(console.style(title, "bold"))
            for line in _job_table(rows):
                console.out("  " + line)
    console.out()
    console.out("details: mzt status JOB -w WORKSPACE")


def _job_table(rows: list[dict[str, Any]]) -> list[str]:
    now = datetime.now(UTC)
    table_rows = []
    for row in rows:
        progress = row["progress"]
        shown = "-" if progress["total"] is None else f"{progress['completed']}/{progress['total']}"
        if row.get("failed"):
            shown += f" ({row['failed']} failed)"
        table_rows.append(
            [
                row["job_id"],
                row["status"],
                alive_text(row["alive"], row.get("liveness")),
                shown,
                row["workspace"],
                age(row["updated_at"], now),
            ]
        )
    return console.table(table_rows, ["ID", "STATUS", "ALIVE", "PROGRESS", "WORKSPACE", "UPDATED"])


# --- list ------------------------------------------------------------------------------------


def print_list(document: dict[str, Any], *, filtered: bool, quiet: bool) -> None:
    """`mzt list` as text: the job table, or why it is empty (on stderr)."""
    if document["jobs"]:
        for line in _job_table(document["jobs"]):
            console.out(line)
    elif not quiet:
        hint = "" if filtered else " (--all includes completed and cancelled jobs)"
        console.err(f"no matching jobs{hint}")
