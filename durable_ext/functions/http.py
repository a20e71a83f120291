"""azure.functions HTTP objects in and out, so the web layer never imports azure.functions.

Request construction follows the worker's ``HttpRequestConverter.decode`` (raw body bytes); response
conversion follows ``HttpResponseConverter.encode`` (azure.functions ``http.py``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import azure.functions as func
from azure.functions import _abc
from azure.functions.http import HttpRequest as _WorkerHttpRequest


@dataclass(frozen=True, slots=True)
class ResponseParts:
    """An HttpResponse flattened for the wire; ``headers`` keeps repeated names (Set-Cookie)."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


def make_request(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
    route_params: Mapping[str, str] | None = None,
    body: bytes = b"",
) -> func.HttpRequest:
    """The ``func.HttpRequest`` a function receives; ``url`` is the full request URL."""
    return _WorkerHttpRequest(
        method=method.upper(),
        url=url,
        headers=dict(headers or {}),
        params=dict(params or {}),
        route_params=dict(route_params or {}),
        body_type="bytes",
        body=body,
    )


def to_http_response(value: Any, function_name: str = "") -> func.HttpResponse:
    """What an HTTP function returned, as an HttpResponse.

    ``HttpResponse`` passes through and ``str`` becomes a 200 ``text/plain`` body, as in azure.functions.
    dict and list become a 200 JSON body, a leniency of this runtime: the real worker fails those. Any
    other value, None included, raises TypeError, as the real worker does (so the caller answers 500).
    """
    if isinstance(value, _abc.HttpResponse):
        return value  # type: ignore[return-value]
    if isinstance(value, str):
        return func.HttpResponse(value)
    if isinstance(value, dict | list):
        return func.HttpResponse(json.dumps(value), mimetype="application/json")
    raise TypeError(
        f"HTTP function {function_name!r} returned {type(value).__name__}; return a func.HttpResponse or a str"
    )


def response_parts(response: func.HttpResponse) -> ResponseParts:
    """Status, headers and body to send; adds ``content-type`` from mimetype/charset when missing."""
    headers = [(name, str(value)) for name, value in response.headers.items()]
    if not any(name.lower() == "content-type" for name, _ in headers):
        mimetype = response.mimetype
        content_type = f"{mimetype}; charset={response.charset}" if mimetype.startswith("text/") else mimetype
        headers.append(("Content-Type", content_type))
    return ResponseParts(status=int(response.status_code), headers=headers, body=response.get_body() or b"")
