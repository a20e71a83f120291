"""Worker identities: who holds a lock, and whether that process is still alive.

A worker id is ``host:pid:start``, where ``start`` is the process's start time (from /proc) so a
recycled pid is not mistaken for the original process. A restarted host releases the locks of
dead workers on its own machine at once; locks of other machines simply expire.
"""

from __future__ import annotations

import os
import socket


def _stat_fields(pid: int) -> list[bytes]:
    """/proc/<pid>/stat from field 3 (state) on; the command name in field 2 may contain spaces."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return []


def _start_time(pid: int) -> str:
    fields = _stat_fields(pid)
    return fields[19].decode() if len(fields) > 19 else "0"  # field 22, starttime


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
    fields = _stat_fields(pid)
    if fields[:1] == [b"Z"]:
        # A zombie holds no locks: it is dead, only not yet reaped. Under `start`'s supervisor a killed
        # host's parent may die with it, and nobody may reap the orphan for a while.
        return True
    return start != "0" and _start_time(pid) not in (start, "0")
