"""How `mzt status` and `mzt diagnose` show a job's on_success hook results."""

from __future__ import annotations

TYPE_CHECKING = False  # not `typing`: `mzt status` is answered before much is imported

if TYPE_CHECKING:
    from typing import Any


def hook_lines(doc: dict[str, Any], *, every: bool) -> list[str]:
    """A titled block of hook results: the last round, or ``every`` result kept."""
    results = doc.get("hook_results") or []
    if not results:
        return []
    from mzt.api import sanitize_terminal

    newest = results[-1].get("round")
    shown = results if every else [r for r in results if r.get("round") == newest]
    which = "every result kept" if every else "last round"
    lines = ["", f"on_success hooks ({doc.get('hooks_configured', 0)} configured, {which}):"]
    for result in shown:
        name = result.get("description") or result.get("command") or result.get("job_path")
        when = str(result.get("started_at") or result.get("round") or "")[:19].replace("T", " ")
        line = f"{when}  hook {result.get('index')} {result.get('type')} {result.get('outcome')}"
        if result.get("exit_code") is not None:
            line += f" (exit {result['exit_code']})"
        took = result.get("duration_seconds")
        if isinstance(took, (int, float)):
            line += f" {took:.1f}s"
        line += f" — {name or ''}"
        if result.get("error"):
            line += f": {result['error']}"
        lines.append("  " + _one_line(sanitize_terminal(line), 240))
        if result.get("log_path"):
            lines.append("      log " + _one_line(sanitize_terminal(result["log_path"]), 240))
    return lines


def _one_line(text: str, limit: int) -> str:
    line = " ".join(text.replace("\n", " ").split(" "))
    return line if len(line) <= limit else line[: limit - 1] + "…"
