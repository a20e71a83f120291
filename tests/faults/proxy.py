"""A fault-injecting reverse proxy on loopback between the host and one Azurite service.

Each request, by a seeded draw: passes through; is answered 500/503 without reaching Azurite; reaches
Azurite and then the answer is replaced by a 500 (the write happened, the caller cannot know); has its
connection dropped before or after Azurite saw it; or stalls a few seconds and is then dropped (a
timeout as the client sees it). ``outage(seconds)`` drops every request for a while. Only loopback.
"""

from __future__ import annotations

import asyncio
import collections
import random
import threading
from dataclasses import dataclass

import aiohttp
from aiohttp import web

_HOP_BY_HOP = {"host", "content-length", "transfer-encoding", "connection", "keep-alive"}
_BUSY = (
    b'<?xml version="1.0" encoding="utf-8"?><Error><Code>ServerBusy</Code>'
    b"<Message>Injected by the fault proxy.</Message></Error>"
)


@dataclass
class Rates:
    """Probability of each fault per request (the rest pass through)."""

    error_before: float = 0.0
    error_after: float = 0.0
    drop_before: float = 0.0
    drop_after: float = 0.0
    stall: float = 0.0
    stall_seconds: float = 3.0


class FaultProxy:
    def __init__(self, upstream_port: int, seed: int) -> None:
        self.upstream = f"http://127.0.0.1:{upstream_port}"
        self.rng = random.Random(seed)
        self.rates = Rates()
        self.counts: collections.Counter[str] = collections.Counter()
        self.port = 0
        self._outage_until = 0.0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True, name="fault-proxy")
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    # -- control (from the test thread) -------------------------------------------------------

    def start(self) -> int:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(30)
        return self.port

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def outage(self, seconds: float) -> None:
        """Drop every request for the next ``seconds``."""
        self._outage_until = self._loop.time() + seconds

    # -- serving ------------------------------------------------------------------------------

    async def _start(self) -> None:
        self._session = aiohttp.ClientSession(auto_decompress=False)
        app = web.Application(client_max_size=256 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def _stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    def _draw(self) -> str:
        if self._loop.time() < self._outage_until:
            return "outage"
        r, x = self.rates, self.rng.random()
        for name in ("error_before", "error_after", "drop_before", "drop_after", "stall"):
            x -= getattr(r, name)
            if x < 0:
                return name
        return "pass"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        fault = self._draw()
        self.counts[fault] += 1
        if fault in ("outage", "drop_before"):
            return self._drop(request)
        if fault == "stall":
            await asyncio.sleep(self.rates.stall_seconds)
            return self._drop(request)
        if fault == "error_before":
            status = self.rng.choice((500, 503))
            return web.Response(status=status, body=_BUSY, content_type="application/xml")
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        assert self._session is not None
        try:
            async with self._session.request(
                request.method,
                self.upstream + request.raw_path,
                headers=headers,
                data=body or None,
                allow_redirects=False,
                # Shared Key signs Content-Type: add no header the client did not send.
                skip_auto_headers=("Content-Type", "Accept-Encoding", "User-Agent", "Accept"),
            ) as upstream:
                payload = await upstream.read()
                status, reply_headers = upstream.status, upstream.headers
        except aiohttp.ClientError:
            return self._drop(request)
        if fault == "drop_after":
            return self._drop(request)
        if fault == "error_after":
            return web.Response(status=500, body=_BUSY, content_type="application/xml")
        out = {k: v for k, v in reply_headers.items() if k.lower() not in _HOP_BY_HOP}
        return web.Response(status=status, body=payload, headers=out)

    @staticmethod
    def _drop(request: web.Request) -> web.StreamResponse:
        if request.transport is not None:
            request.transport.abort()
        raise asyncio.CancelledError  # nothing more to send on a connection that is gone


def proxied_connection_string(connection_string: str, ports: dict[str, int]) -> str:
    """``connection_string`` with each service endpoint pointing at its proxy port."""
    parts = []
    for part in connection_string.split(";"):
        name, _, value = part.partition("=")
        service = name.replace("Endpoint", "").lower()
        if name.endswith("Endpoint") and service in ports:
            account = value.rstrip("/").rsplit("/", 1)[-1]
            value = f"http://127.0.0.1:{ports[service]}/{account}"
        parts.append(f"{name}={value}" if name else part)
    return ";".join(parts)


def upstream_ports(connection_string: str) -> dict[str, int]:
    ports = {}
    for part in connection_string.split(";"):
        name, _, value = part.partition("=")
        if name.endswith("Endpoint"):
            ports[name.replace("Endpoint", "").lower()] = int(value.split(":")[2].split("/")[0])
    return ports
