"""The `mzt` program's entry point, kept tiny so `mzt --version` starts instantly.

Scripts and monitoring call `mzt --version` often; answering it must not import click,
the score models and the rest of mzt. Cron repeats `mzt run score.yaml` for jobs long completed,
monitoring `mzt status` and `mzt list`, editors and hooks `mzt validate`, and every Slurm job
of `--executor slurm` starts `mzt slurm-attempt`;
:mod:`mzt.cli.fast` answers those before click is imported.
"""

from __future__ import annotations

import sys

# Commands whose start-up builds only long-lived objects (modules, classes, models, the
# loaded job): the cycle collector would walk them again and again while they are built,
# 10–60 ms of each answer, and find nothing. The run loop turns it back on
# (`mzt.run.runner`); the others end soon after.
_COLLECTOR_OFF_AT_START = ("run", "resume", "validate", "status", "list")


def main() -> None:
    """Console-script entry point."""
    if sys.argv[1:] not in (["--version"], ["-V"]):
        from mzt.support import msgspec_alone

        msgspec_alone.install()
    if sys.argv[1:2] and sys.argv[1] in _COLLECTOR_OFF_AT_START:
        import gc

        gc.disable()
    if sys.argv[1:] in (["--version"], ["-V"]):
        from mzt import __version__

        sys.stdout.write(f"mzt {__version__}\n")
        return
    if sys.argv[1:2] in (["run"], ["status"], ["list"], ["validate"], ["slurm-attempt"]):
        from mzt.cli.fast import answer

        code = answer(sys.argv[1:])
        if code is not None:
            sys.exit(code)
    from mzt.cli import main as cli_main

    cli_main()
