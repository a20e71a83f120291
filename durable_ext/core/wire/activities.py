"""The payloads of activities the host shapes itself: a failed activity's ``TaskFailed.Details``
and the built-in HTTP activity's request and response (``context.call_http``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

# -- activity failures -------------------------------------------------------------------------

_RPC_EXCEPTION = "Microsoft.Azure.WebJobs.Script.Workers.Rpc.RpcException"


def activity_failure_details(message: str, stack: str) -> str:
    """The one-line JSON object the .NET host puts in ``TaskFailed.Details`` for a failed activity
    (a serialised ``RpcException``: EXT ``OutOfProcExceptionHelpers.cs``); user code parses its
    ``Message``."""
    return json.dumps(
        {
            "ClassName": _RPC_EXCEPTION,
            "Message": message,
            "Data": None,
            "InnerException": None,
            "HelpURL": None,
            "StackTraceString": stack,
            "RemoteStackTraceString": None,
            "RemoteStackIndex": 0,
            "ExceptionMethod": None,
            "HResult": -2146233088,
            "Source": None,
        }
    )


# -- the built-in HTTP activity (context.call_http) --------------------------------------------


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """The SDK's ``DurableHttpRequest`` (SDK ``models/DurableHttpRequest.py``)."""

    method: str
    uri: str
    headers: dict[str, str]  # multi-valued headers joined with ","
    content: str | None
    token_source: object  # managed-identity token source, or None


def http_request_input(request: dict[str, Any]) -> str:
    """The HTTP activity's ``TaskScheduled.Input``: the ``httpRequest`` object of the SDK's
    ``CallHttp`` action (SDK ``models/actions/CallHttpAction.py``), as JSON text."""
    return json.dumps(request)


def parse_http_request(text: str | None) -> HttpRequest:
    """Raises ``ValueError`` (or ``KeyError`` for a missing ``uri``) when the JSON is malformed."""
    data = json.loads(text or "{}")
    headers = {k: v if isinstance(v, str) else ",".join(v) for k, v in (data.get("headers") or {}).items()}
    return HttpRequest(
        method=str(data.get("method") or "GET").upper(),
        uri=data["uri"],
        headers=headers,
        content=data.get("content"),
        token_source=data.get("tokenSource"),
    )


def http_response_json(status: int, headers: dict[str, str | list[str]], content: str) -> str:
    """What the extension's ``DurableHttpResponse`` serialises to."""
    return json.dumps({"statusCode": status, "headers": headers, "content": content})


def http_failure_details(message: str) -> str:
    return json.dumps({"Message": message})
