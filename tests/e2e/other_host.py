"""Run mzt as a machine with another host name would: ``other_host.py NAME ARGS...``.

A container that gets a new host name after a crash finds its own checkpoints marked
running by a host that no longer exists; this starts the run that leaves them behind.
"""

from __future__ import annotations

import socket
import sys


def main() -> None:
    name = sys.argv.pop(1)
    socket.gethostname = lambda: name  # every host name mzt records comes from this call
    from mzt.entry import main as mzt_main

    mzt_main()


if __name__ == "__main__":
    main()
