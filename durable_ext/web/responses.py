"""Response helpers and the error bodies of the built-in HTTP API.

Every body the built-in routes send is JSON or empty: the SDK client calls ``response.json()`` on
whatever comes back (SDK ``models/DurableOrchestrationClient.py``). Error objects have the shape of ASP.NET's ``HttpError``
that the extension sends (``Message`` plus, for exceptions, ``ExceptionMessage``/``ExceptionType``/
``StackTrace``); the SDK's ``start_new`` raises ``body["ExceptionMessage"]`` on a 400.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from durable_ext.core.wire.jsontext import text_encoder
from durable_ext.errors import DurableExtError
from durable_ext.log import logger
from durable_ext.web.status_payload import json_safe

#: The largest request body accepted (bytes); bigger ones get a JSON 413.
MAX_BODY_BYTES = 32 * 1024 * 1024

ARGUMENT_ERROR = "One or more of the arguments submitted is incorrect"
SERVER_ERROR = "Something went wrong while processing your request"
#: Response header naming the id under which a failed request's exception was logged.
REQUEST_ID_HEADER = "x-ms-request-id"


class WebError(DurableExtError):
    """Raised by request parsing to answer with ``response`` instead of continuing."""

    def __init__(self, response: web.Response) -> None:
        super().__init__(response.status)
        self.response = response


#: ``json.dumps(…, ensure_ascii=False, allow_nan=False)``: every answer of the API is one.
_utf8_json = text_encoder(ensure_ascii=False, allow_nan=False)


def json_response(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    """``body`` as UTF-8 JSON; text that UTF-8 cannot carry (a lone surrogate someone stored) is
    sent as a ``\\uXXXX`` escape instead, so reading such a value never fails. Non-finite numbers
    (stored ``NaN``/``Infinity``, which Python's json reads) are sent as the strings ``"NaN"``,
    ``"Infinity"`` and ``"-Infinity"``, as Newtonsoft writes them: bare, they are not JSON."""
    try:
        dumped = _utf8_json(body)
    except ValueError:
        body = json_safe(body)
        dumped = _utf8_json(body)
    try:
        text = dumped.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(body, ensure_ascii=True, allow_nan=False).encode("ascii")
    return web.Response(
        status=status, body=text, content_type="application/json", charset="utf-8", headers=headers
    )


def empty_response(status: int, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.Response(status=status, headers=headers)


def error_response(
    status: int,
    message: str,
    exception_message: str | None = None,
    exception_type: str | None = None,
) -> web.Response:
    """``{"Message": …}``, with the exception fields when an exception caused the error."""
    body: dict[str, str] = {"Message": message}
    if exception_message is not None:
        body["ExceptionMessage"] = exception_message
        body["ExceptionType"] = exception_type or "System.Exception"
        body["StackTrace"] = ""
    return json_response(body, status)


def argument_error(exception_message: str) -> web.Response:
    """400 for what the extension reports as an ``ArgumentException`` (unknown function, bad id, …)."""
    return error_response(400, ARGUMENT_ERROR, exception_message, "System.ArgumentException")


def bad_request(message: str) -> web.Response:
    return error_response(400, message)


def invalid_json(exc: Exception) -> web.Response:
    return error_response(400, "Invalid JSON content", str(exc), "Newtonsoft.Json.JsonReaderException")


def server_error(request: web.Request, exc: BaseException) -> web.Response:
    """A generic 500: the exception (text, type, paths) goes to the log under a fresh request id,
    and the caller gets only that id to quote."""
    request_id = str(uuid.uuid4())
    logger.error(
        "Request %s %s failed (request id %s): %s: %s",
        request.method,
        request.rel_url.path,
        request_id,
        type(exc).__name__,
        exc,
        exc_info=exc,
    )
    return json_response(
        {"Message": f"{SERVER_ERROR}. Request id: {request_id}"}, 500, {REQUEST_ID_HEADER: request_id}
    )


def too_large() -> web.Response:
    return error_response(
        413,
        "Request body too large",
        f"The request body exceeds the limit of {MAX_BODY_BYTES} bytes.",
        "System.InvalidOperationException",
    )
