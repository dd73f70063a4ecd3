"""Reading a checkpoint's `hook_results`: which round of `on_success` hooks came last,
which of its hooks failed, and which are still owed to the job.

A round is every hook result one run recorded (they share its ``round``). A later round
may hold only some hooks: `mzt resume` of a job whose last hooks failed re-fires those
alone. So what a job still owes is what its last round did not carry out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

SUCCEEDED = "succeeded"
FAILED = "failed"
SKIPPED = "skipped"  # not run: an earlier hook failed with on_failure: abort, or a stop
HELD = "held"  # a run_job hook held by pause_before_chain (or a pause file)
REFUSED = "refused"  # a run_job hook refused at concert.max_chain_depth: the chain's end
REMOVED = "removed"  # owed, but the score no longer has it when resumed
OWED = frozenset({FAILED, SKIPPED, HELD})


def last_round(results: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The results of the most recent round, in firing order."""
    if not results:
        return []
    newest = results[-1].get("round")
    return [r for r in results if r.get("round") == newest]


def owed(results: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The last round's hooks that a resume fires again: failed, skipped or held."""
    return [r for r in last_round(results) if r.get("outcome") in OWED]


def held(results: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The last round's hooks held until `mzt resume`."""
    return [r for r in last_round(results) if r.get("outcome") == HELD]


def failures(results: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The last round's hooks that failed (a later successful re-fire clears them)."""
    return [r for r in last_round(results) if r.get("outcome") == FAILED]


def configured(snapshot: dict[str, Any] | None) -> int:
    """How many `on_success` hooks the stored score has."""
    hooks = (snapshot or {}).get("on_success")
    return len(hooks) if isinstance(hooks, list) else 0


def status_fields(results: Any, snapshot: dict[str, Any] | None) -> dict[str, Any]:
    """`mzt status --json`'s hook fields: the stored score's hook count, every result kept,
    and how many hooks of the last round failed."""
    kept = [r for r in results or [] if isinstance(r, dict)]
    return {
        "hooks_configured": configured(snapshot),
        "hook_results": kept,
        "hook_failures": len(failures(kept)),
    }
