"""Response helpers and the error bodies of the built-in HTTP API.

Every body the built-in routes send is JSON or empty: the SDK client calls ``response.json()`` on
whatever comes back (SDK ``models/DurableOrchestrationClient.py``). Error objects have the shape of ASP.NET's ``HttpError``
that the extension sends (``Message`` plus, for exceptions, ``ExceptionMessage``/``ExceptionType``/
``StackTrace``); the SDK's ``start_new`` raises ``body["ExceptionMessage"]`` on a 400.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from durable_ext.errors import DurableExtError

#: The largest request body accepted (bytes); bigger ones get a JSON 413.
MAX_BODY_BYTES = 32 * 1024 * 1024

ARGUMENT_ERROR = "One or more of the arguments submitted is incorrect"
SERVER_ERROR = "Something went wrong while processing your request"


class WebError(DurableExtError):
    """Raised by request parsing to answer with ``response`` instead of continuing."""

    def __init__(self, response: web.Response) -> None:
        super().__init__(response.status)
        self.response = response


def json_response(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    text = json.dumps(body, ensure_ascii=False)
    return web.Response(
        status=status, body=text.encode("utf-8"), content_type="application/json", charset="utf-8", headers=headers
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


def server_error(exc: BaseException) -> web.Response:
    return error_response(500, SERVER_ERROR, str(exc) or type(exc).__name__, type(exc).__name__)


def too_large() -> web.Response:
    return error_response(
        413,
        "Request body too large",
        f"The request body exceeds the limit of {MAX_BODY_BYTES} bytes.",
        "System.InvalidOperationException",
    )
