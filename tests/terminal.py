"""Run a command with its stderr on a real terminal (a pseudo-terminal from the `pty` module), as a user would."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import termios
from pathlib import Path


def run_on_terminal(args: list[str], stdout: Path, env: dict[str, str] | None = None) -> tuple[int, str]:
    """(exit status, everything written to the terminal): stderr is the pty, stdout goes to the file `stdout`."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a new pty is 0 x 0; tqdm draws in it
    with open(stdout, "wb") as out:
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out, stderr=slave, env=env)
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: every writer has closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    return proc.wait(), b"".join(chunks).decode(errors="replace")
