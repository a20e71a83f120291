"""The outbound HTTP client of the built-in ``call_http`` activity (``dispatcher.http_activity``).

One aiohttp session per request, as the activity always did: ``call_http`` is rare and a session
kept open would need a shutdown hook in every composition root.
"""

from __future__ import annotations

import aiohttp

from durable_ext.dispatcher.http_activity import HttpReply

#: A peer that never answers must not hold an activity slot forever (100 s: .NET ``HttpClient``'s default).
_TIMEOUT = aiohttp.ClientTimeout(total=100)


class AiohttpTransport:
    """:class:`~durable_ext.dispatcher.http_activity.HttpTransport` over aiohttp."""

    async def send(self, method: str, uri: str, *, content: str | None, headers: dict[str, str]) -> HttpReply:
        async with (
            aiohttp.ClientSession(timeout=_TIMEOUT) as session,
            session.request(method, uri, data=content, headers=headers) as response,
        ):
            body = await response.text()
            return HttpReply(response.status, list(response.headers.items()), body)
