"""``context.call_http``: the built-in HTTP activity (``BuiltIn::HttpActivity``).

The request is the SDK's ``DurableHttpRequest`` JSON; the result is what the extension's
``DurableHttpResponse`` serialises to: ``{"statusCode", "headers", "content"}``. The Python SDK
does no 202 polling, so a 202 is returned as it is (sdk-contract.md §2.6). Managed-identity
token sources need Azure and are reported as a failure here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime

import aiohttp

from durable_ext.core import events as e

_TIMEOUT = aiohttp.ClientTimeout(total=100)


async def call_http(scheduled: e.TaskScheduled, now: Callable[[], datetime]) -> e.HistoryEvent:
    try:
        request = json.loads(scheduled.input or "{}")
        if request.get("tokenSource"):
            raise ValueError("managed identity token sources are not available outside Azure")
        method = str(request.get("method") or "GET").upper()
        uri = request["uri"]
        headers = {k: v if isinstance(v, str) else ",".join(v) for k, v in (request.get("headers") or {}).items()}
        content = request.get("content")
        async with (
            aiohttp.ClientSession(timeout=_TIMEOUT) as session,
            session.request(method, uri, data=content, headers=headers) as response,
        ):
            body = await response.text()
            result_headers: dict[str, str | list[str]] = {}
            for key, value in response.headers.items():
                existing = result_headers.get(key)
                if existing is None:
                    result_headers[key] = value
                else:
                    result_headers[key] = [*(existing if isinstance(existing, list) else [existing]), value]
            result = {"statusCode": response.status, "headers": result_headers, "content": body}
    except Exception as exc:
        message = f"{type(exc).__name__}: {exc}"
        return e.TaskFailed(
            timestamp=now(),
            task_scheduled_id=scheduled.event_id,
            reason=f"Activity function '{scheduled.name}' failed: {message}",
            details=json.dumps({"Message": message}),
        )
    return e.TaskCompleted(timestamp=now(), task_scheduled_id=scheduled.event_id, result=json.dumps(result))
