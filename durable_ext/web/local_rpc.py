"""The app's own durable client calls, answered in-process instead of over loopback HTTP.

An HTTP starter's ``await client.start_new(...)`` is an HTTP request from the SDK to the client
binding's ``rpcBaseUrl``: this host's own built-in API. Over loopback that request costs both ends
of an HTTP exchange (aiohttp's client: connection pool, request writing, response parsing; the
server: parsing, middlewares, response writing) — about a sixth of the host's CPU for each
orchestration started through an HTTP function. The SDK sends every such call through one
module-level aiohttp session (``http_utils._client_session``), so :class:`LocalFirstSession` stands
in for it: a call addressed to this host's API runs the API's handler directly; any other URL goes
through a real ``aiohttp.ClientSession``, as before.

The handler sees what it sees over HTTP: the method, the path and query as aiohttp's client would
send them (the same URL normalisation), the JSON body and its content type, the W3C trace headers;
the SDK reads the answer through its own code (status, JSON body). What is not applied in-process:
the Host and Origin rules and the key check — the caller is the app's own binding, inside this
process, which holds the system key anyway.

Only ``durable_ext start`` installs it: there the app's functions and the API share one event
loop. (In worker mode the Functions worker runs the app on a loop of its own.)
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from types import TracebackType
from typing import Any, cast

import aiohttp
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy, MultiDictProxy
from yarl import URL

from durable_ext.web.responses import MAX_BODY_BYTES
from durable_ext.web.state import STATE
from durable_ext.web.webhooks import handle_webhook, is_webhook_path

_WILDCARDS = {"0.0.0.0": ("127.0.0.1", "localhost"), "::": ("::1", "localhost"), "": ("127.0.0.1", "localhost")}


def local_addresses(bound: Iterable[tuple[str, int]]) -> frozenset[tuple[str, int]]:
    """The (host, port) pairs a URL of this server may name, from the addresses it listens on (a
    wildcard bind is reached here through loopback)."""
    pairs: set[tuple[str, int]] = set()
    for host, port in bound:
        for name in _WILDCARDS.get(host, (host,)):
            pairs.add((name, port))
    return frozenset(pairs)


class LocalFirstSession:
    """An ``aiohttp.ClientSession`` look-alike for the SDK client (see the module docstring)."""

    def __init__(self, app: web.Application, addresses: frozenset[tuple[str, int]]) -> None:
        self.app = app
        self.addresses = addresses
        self._remote: aiohttp.ClientSession | None = None
        self._closed = False
        #: Calls answered in-process / sent over the network.
        self.local_calls = 0
        self.remote_calls = 0

    @property
    def closed(self) -> bool:
        return self._closed

    async def close(self) -> None:
        self._closed = True
        if self._remote is not None:
            await self._remote.close()

    def post(self, url: str, **kwargs: Any) -> Any:
        return self.request("POST", url, **kwargs)

    def get(self, url: str, **kwargs: Any) -> Any:
        return self.request("GET", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> Any:
        return self.request("DELETE", url, **kwargs)

    def request(self, method: str, url: str, **kwargs: Any) -> Any:
        target = URL(url)
        if self._is_local(target):
            self.local_calls += 1
            return _LocalCall(self.app, method, target, kwargs)
        self.remote_calls += 1
        if self._remote is None or self._remote.closed:
            self._remote = aiohttp.ClientSession()
        return self._remote.request(method, url, **kwargs)

    def _is_local(self, url: URL) -> bool:
        return (
            url.scheme == "http"
            and (url.host or "", url.port or 80) in self.addresses
            and is_webhook_path(url.raw_path, self.app[STATE].links.webhook_path)
        )


class _LocalCall:
    """``async with session.post(...) as response`` for a call the API answers in-process."""

    def __init__(self, app: web.Application, method: str, url: URL, kwargs: dict[str, Any]) -> None:
        self.app = app
        self.method = method
        self.url = url
        self.kwargs = kwargs

    async def __aenter__(self) -> _LocalResponse:
        headers = CIMultiDict(self.kwargs.get("headers") or {})
        body = b""
        if self.kwargs.get("json") is not None:
            body = json.dumps(self.kwargs["json"]).encode("utf-8")  # as aiohttp's client encodes json=
            headers.setdefault("Content-Type", "application/json")
        elif self.kwargs.get("data") is not None:
            data = self.kwargs["data"]
            body = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        request = LocalRequest(self.app, self.method, self.url, CIMultiDictProxy(headers), body)
        response = await handle_webhook(cast(web.Request, request))
        return _LocalResponse(response)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None


class _LocalResponse:
    """The parts of ``aiohttp.ClientResponse`` the SDK reads."""

    def __init__(self, response: web.Response) -> None:
        self.status = response.status
        self.headers = response.headers
        self._body = response.body if isinstance(response.body, bytes) else b""

    async def read(self) -> bytes:
        return self._body

    async def text(self, encoding: str | None = None) -> str:
        return self._body.decode(encoding or "utf-8")

    async def json(self, *, content_type: str | None = "application/json", loads: Any = json.loads) -> Any:
        stripped = self._body.strip()
        return loads(stripped.decode("utf-8")) if stripped else None  # as ClientResponse.json


class _NoSocket:
    """The transport of an in-process request: never closing (the caller is a coroutine of this
    process, which a cancellation ends directly), with no socket to describe."""

    def is_closing(self) -> bool:
        return False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default


class LocalRequest:
    """The parts of ``aiohttp.web.Request`` the built-in API's handlers read, for an in-process call."""

    transport = _NoSocket()

    def __init__(
        self, app: web.Application, method: str, url: URL, headers: CIMultiDictProxy[str], body: bytes
    ) -> None:
        self.app = app
        self.method = method
        # What the server would see: the request line's path and query, and the caller's origin.
        self.rel_url = URL.build(path=url.raw_path, query_string=url.raw_query_string, encoded=True)
        self.url = url.with_user(None)
        self.headers = headers
        self._body = body

    @property
    def query(self) -> MultiDictProxy[str]:
        return self.rel_url.query

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "application/octet-stream").split(";", 1)[0].strip()

    async def read(self) -> bytes:
        if len(self._body) > MAX_BODY_BYTES:  # the web app's client_max_size
            raise web.HTTPRequestEntityTooLarge(max_size=MAX_BODY_BYTES, actual_size=len(self._body))
        return self._body
