"""Worker identities: who holds a lock, and whether that process is still alive.

A worker id is ``host:pid:start``, where ``start`` is the process's start time (from /proc) so a
recycled pid is not mistaken for the original process. A restarted host releases the locks of
dead workers on its own machine at once; locks of other machines simply expire.
"""

from __future__ import annotations

import os
import socket


def _start_time(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            # Field 22 (starttime); the command name in field 2 may contain spaces, so split after ')'.
            return f.read().rsplit(b")", 1)[1].split()[19].decode()
    except (OSError, IndexError):
        return "0"


def current_worker_id() -> str:
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_start_time(pid)}"


def is_dead_local_worker(worker_id: str) -> bool:
    """True only when ``worker_id`` names a process on this machine that no longer runs."""
    try:
        host, pid_text, start = worker_id.rsplit(":", 2)
        pid = int(pid_text)
    except ValueError:
        return False
    if host != socket.gethostname() or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return start != "0" and _start_time(pid) not in (start, "0")
