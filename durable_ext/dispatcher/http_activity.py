"""``context.call_http``: the built-in HTTP activity (``BuiltIn::HttpActivity``).

The request is the SDK's ``DurableHttpRequest`` JSON; the result is what the extension's
``DurableHttpResponse`` serialises to: ``{"statusCode", "headers", "content"}``. The Python SDK
does no 202 polling, so a 202 is returned as it is (SDK ``models/DurableHttpRequest.py``
has no polling option). Managed-identity
token sources need Azure and are reported as a failure here.

The request itself goes out through an :class:`HttpTransport` the dispatcher is given (the
aiohttp one is ``web.http_client.AiohttpTransport``): the dispatcher layer holds the activity's
rules, the HTTP edge holds the client library.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from durable_ext.core import events as e
from durable_ext.core.wire.activities import http_failure_details, http_response_json, parse_http_request


@dataclass(frozen=True, slots=True)
class HttpReply:
    """One response: its status, its header lines in arrival order (a repeated name repeats), its
    body decoded as text."""

    status: int
    headers: list[tuple[str, str]]
    body: str


class HttpTransport(Protocol):
    """Sends one outbound request. Raises on a transport failure (connection refused, timeout …);
    the exception's type name and text become the activity's failure message."""

    async def send(self, method: str, uri: str, *, content: str | None, headers: dict[str, str]) -> HttpReply: ...


async def call_http(
    scheduled: e.TaskScheduled, now: Callable[[], datetime], transport: HttpTransport
) -> e.HistoryEvent:
    try:
        request = parse_http_request(scheduled.input)
        if request.token_source:
            raise ValueError("managed identity token sources are not available outside Azure")
        reply = await transport.send(request.method, request.uri, content=request.content, headers=request.headers)
        result_headers: dict[str, str | list[str]] = {}
        for key, value in reply.headers:
            existing = result_headers.get(key)
            if existing is None:
                result_headers[key] = value
            else:
                result_headers[key] = [*(existing if isinstance(existing, list) else [existing]), value]
        result = http_response_json(reply.status, result_headers, reply.body)
    except Exception as exc:
        message = f"{type(exc).__name__}: {exc}"
        return e.TaskFailed(
            timestamp=now(),
            task_scheduled_id=scheduled.event_id,
            reason=f"Activity function '{scheduled.name}' failed: {message}",
            details=http_failure_details(message),
        )
    return e.TaskCompleted(timestamp=now(), task_scheduled_id=scheduled.event_id, result=result)
