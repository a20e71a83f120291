"""``context.call_http``: the built-in HTTP activity (``BuiltIn::HttpActivity``).

The request is the SDK's ``DurableHttpRequest`` JSON; the result is what the extension's
``DurableHttpResponse`` serialises to: ``{"statusCode", "headers", "content"}``. The Python SDK
does no 202 polling, so a 202 is returned as it is (SDK ``models/DurableHttpRequest.py``
has no polling option). Managed-identity
token sources need Azure and are reported as a failure here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import aiohttp

from durable_ext.core import events as e
from durable_ext.core.wire import http_failure_details, http_response_json, parse_http_request

_TIMEOUT = aiohttp.ClientTimeout(total=100)


async def call_http(scheduled: e.TaskScheduled, now: Callable[[], datetime]) -> e.HistoryEvent:
    try:
        request = parse_http_request(scheduled.input)
        if request.token_source:
            raise ValueError("managed identity token sources are not available outside Azure")
        async with (
            aiohttp.ClientSession(timeout=_TIMEOUT) as session,
            session.request(request.method, request.uri, data=request.content, headers=request.headers) as response,
        ):
            body = await response.text()
            result_headers: dict[str, str | list[str]] = {}
            for key, value in response.headers.items():
                existing = result_headers.get(key)
                if existing is None:
                    result_headers[key] = value
                else:
                    result_headers[key] = [*(existing if isinstance(existing, list) else [existing]), value]
            result = http_response_json(response.status, result_headers, body)
    except Exception as exc:
        message = f"{type(exc).__name__}: {exc}"
        return e.TaskFailed(
            timestamp=now(),
            task_scheduled_id=scheduled.event_id,
            reason=f"Activity function '{scheduled.name}' failed: {message}",
            details=http_failure_details(message),
        )
    return e.TaskCompleted(timestamp=now(), task_scheduled_id=scheduled.event_id, result=result)
