"""The SQLite hub's doorbell: processes sharing one hub file wake each other when they enqueue work.

SQLite has no notifications, and a dispatcher with nothing to do sleeps until its own process
enqueues work (``WorkSignal``) or for up to a second. With several host processes on one hub
(``durable-ext start`` twice on the same app directory, or a CLI verb next to a running host),
work one process enqueues would wait for another's next poll. The doorbell relays each
``WorkSignal.notify`` / ``changed`` to the other processes as a UDP datagram on loopback; the
receiver applies it locally (``WorkSignal.wake``), exactly as if it had enqueued the work itself.

Peers find each other through a directory next to the hub file (``<file>-wake/``, 0700): each
process's doorbell is an empty file named ``<hub>.<pid>.<port>``. A file whose process is gone
is removed by the next peer that lists the directory. Notifications made in one event-loop
iteration go out as one datagram per peer. A lost or refused datagram costs only latency: the
receiver still polls. Anyone on the machine can ring it; all a ring does is make a dispatcher
look for work. Best effort throughout: if loopback UDP or the directory is unavailable, the hub
works as before, by polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from pathlib import Path

from durable_ext.log import logger
from durable_ext.providers.base import WorkSignal

#: How often the list of peers is read again (a new peer misses rings for at most this long).
PEER_REFRESH_SECONDS = 1.0
#: Instance ids per datagram (a waiter not woken still polls).
_MAX_IDS = 200
_ALL = "*"


class Doorbell:
    def __init__(self, hub_file: Path, hub: str, signal: WorkSignal) -> None:
        self.directory = hub_file.parent / f"{hub_file.name}-wake"
        self.hub = hub
        self.signal = signal
        self._sock: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._file: Path | None = None
        self._peers: list[int] = []
        self._peers_read = -PEER_REFRESH_SECONDS
        self._names: set[str] = set()
        self._ids: set[str] = set()
        self._scheduled = False

    def open(self) -> None:
        """Listen and register (on the running loop); on any OS error, stay silent and closed."""
        sock: socket.socket | None = None
        try:
            self.directory.mkdir(mode=0o700, exist_ok=True)
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.setblocking(False)
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
            self._file = self.directory / f"{self.hub}.{os.getpid()}.{port}"
            self._file.touch(mode=0o600)
        except OSError as exc:
            logger.debug("SQLite hub doorbell unavailable (%s): other processes see new work when they poll", exc)
            if sock is not None:
                sock.close()
            return
        self._sock = sock
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(sock.fileno(), self._receive)
        self.signal.relay = self.ring

    def close(self) -> None:
        if self._sock is None:
            return
        self.signal.relay = None
        if self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(self._sock.fileno())
        self._sock.close()
        self._sock = None
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.unlink()

    # -- sending ---------------------------------------------------------------------------------

    def ring(self, names: tuple[str, ...], instance_id: str | None) -> None:
        """Queue a notification for the other processes (sent at the end of this loop iteration)."""
        if instance_id is not None:
            self._ids.add(instance_id)
        else:
            self._names.update(names or (_ALL,))
        if not self._scheduled and self._loop is not None and not self._loop.is_closed():
            self._scheduled = True
            self._loop.call_soon(self._send)

    def _send(self) -> None:
        self._scheduled = False
        names, ids = self._names, list(self._ids)
        self._names, self._ids = set(), set()
        sock = self._sock
        if sock is None:
            return
        peers = self._current_peers()
        if not peers:
            return
        datagrams = [
            "\n".join([",".join(sorted(names)), *ids[i : i + _MAX_IDS]]).encode()
            for i in range(0, max(len(ids), 1), _MAX_IDS)
        ]
        for port in peers:
            for data in datagrams:
                with contextlib.suppress(OSError):  # full buffer, refused: the peer polls anyway
                    sock.sendto(data, ("127.0.0.1", port))

    def _current_peers(self) -> list[int]:
        now = time.monotonic()
        if now - self._peers_read < PEER_REFRESH_SECONDS:
            return self._peers
        self._peers_read = now
        peers = []
        own = self._file.name if self._file is not None else None
        try:
            entries = os.listdir(self.directory)
        except OSError:
            entries = []
        for entry in entries:
            hub, _, rest = entry.partition(".")
            pid_text, _, port_text = rest.partition(".")
            if hub != self.hub or entry == own or not (pid_text.isdigit() and port_text.isdigit()):
                continue
            if not _alive(int(pid_text)):
                with contextlib.suppress(OSError):
                    (self.directory / entry).unlink()
                continue
            peers.append(int(port_text))
        self._peers = peers
        return peers

    # -- receiving -------------------------------------------------------------------------------

    def _receive(self) -> None:
        sock = self._sock
        while sock is not None:
            try:
                data = sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            head, *ids = data.decode("utf-8", "replace").split("\n")
            names = tuple(n for n in head.split(",") if n)
            if names:
                self.signal.wake(() if _ALL in names else names, None)
            for instance_id in ids:
                if instance_id:
                    self.signal.wake((), instance_id)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
