"""Process exit codes: the promise scripts and cron rely on."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Every exit status mzt can end with (signals add 128 + n on top)."""

    OK = 0  # completed, nothing to do, dry run, valid score, read command succeeded
    FAILED = 1  # the job ran and at least one sheet failed
    USAGE = 2  # bad arguments, invalid score, job not found
    PAUSED = 3  # pause file, rate-limit waits exhausted, cost limit reached
    CANCELLED = 4  # cancel file or `mzt cancel`
    STATE = 5  # checkpoint corrupt, unreadable or not writable (left untouched)
    HOOK_FAILED = 6  # the job completed, but an on_success hook failed (`mzt resume` re-fires)
    INTERNAL = 70  # an unexpected error: a crash report was written
    LOCKED = 75  # another process holds the job's run lock


def signal_exit_code(signum: int) -> int:
    """Exit status for a run stopped by signal ``signum`` (SIGTERM gives 143)."""
    return 128 + signum
