"""An `mzt` command on a pseudo-terminal of a given size; everything it shows, as text."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
import threading
from pathlib import Path


class PtyCommand:
    """`python -m mzt ARGS` with a terminal for stdin, stdout and stderr."""

    def __init__(
        self, cwd: Path, args: list[str], env: dict[str, str], *, rows: int, cols: int
    ) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.master = master
        self.chunks: list[bytes] = []
        self.lock = threading.Lock()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mzt", *args],
            cwd=cwd,
            env=env,
            stdin=slave,
            stdout=slave,
            stderr=slave,
        )
        os.close(slave)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:  # EIO: the child and everything it started closed the terminal
                return
            if not data:
                return
            with self.lock:
                self.chunks.append(data)

    def text(self) -> str:
        with self.lock:
            return b"".join(self.chunks).decode("utf-8", errors="replace")

    def finish(self, timeout: float = 120) -> tuple[int, str]:
        """Wait for the command to end (killed if it outlives ``timeout``): code and text."""
        try:
            code = self.proc.wait(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self.reader.join(timeout=30)
            os.close(self.master)
        return code, self.text()
