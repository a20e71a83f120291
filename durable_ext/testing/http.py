"""The host's aiohttp application served on a Unix socket inside the test's temporary directory.

The app's HTTP functions, the built-in durable API and the client binding's RPC calls all go
through the same handlers ``durable-ext start`` serves — only the transport differs (no TCP port).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web

from durable_ext.functions.invoke import use_client_session
from durable_ext.web import create_web_app

if TYPE_CHECKING:
    from durable_ext.testing.env import AsyncTestEnv

#: Links the host hands out carry this origin; the socket connector ignores the host name.
ORIGIN = "http://durable-ext.test"


@dataclass(frozen=True, slots=True)
class HttpReply:
    """One HTTP response: ``status``, ``headers`` (case-insensitive) and the raw ``body``."""

    status: int
    headers: Any
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def json(self) -> Any:
        return json.loads(self.body)


class InProcessHttp:
    def __init__(self, env: AsyncTestEnv, socket_path: Path) -> None:
        self.env = env
        self.socket_path = socket_path
        self.runner: web.AppRunner | None = None
        self.session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        env = self.env
        app = create_web_app(config=env.config, client=env.client, registry=env.registry, executor=env.executor)
        self.runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self.runner.setup()
        await web.UnixSite(self.runner, str(self.socket_path)).start()
        self.session = aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=str(self.socket_path)))
        # The SDK client inside HTTP functions sends its RPC calls to the origin of the request;
        # its own session would open a TCP connection there, so it gets one through the socket.
        use_client_session(aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=str(self.socket_path))))

    async def request(self, method: str, path: str, **kwargs: Any) -> HttpReply:
        assert self.session is not None
        if not path.startswith("/"):
            if not path.startswith(ORIGIN):
                raise ValueError(f"an in-process request needs a path like '/api/...', got {path!r}")
            path = path[len(ORIGIN) :]
        kwargs.setdefault("allow_redirects", False)
        async with self.session.request(method, ORIGIN + path, **kwargs) as response:
            return HttpReply(response.status, response.headers, await response.read())

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()
        if self.runner is not None:
            await self.runner.cleanup()
