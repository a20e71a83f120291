"""Applies the host's :class:`~durable_ext.auth.AccessPolicy` to every request.

Order: the ``Host`` header (400 when not allowed), the ``Origin`` of a state-changing request
(403 when foreign), then the key the route needs (401 with an empty body, as the Functions host
answers): ``/`` is open; ``/admin/…`` wants the master key; ``/runtime/webhooks/durabletask/…``
(the HTTP API, the SDK client's RPC calls and anything served under it) wants the durable system
key or the master key; the app's HTTP functions want what their ``authLevel`` says, checked by
:func:`require` once the route is known.

A key is presented as the ``x-functions-key`` header or the ``code`` query parameter; the SDK
client inside the app presents it as the password of a Basic ``Authorization`` header (see
``links.client_binding_json``).
"""

from __future__ import annotations

import base64
import binascii

from aiohttp import web

from durable_ext.auth.keys import AuthLevel
from durable_ext.web.responses import bad_request, error_response
from durable_ext.web.state import state_of
from durable_ext.web.webhooks import is_webhook_path

KEY_HEADER = "x-functions-key"
KEY_QUERY = "code"


@web.middleware
async def guard(request: web.Request, handler) -> web.StreamResponse:
    policy = state_of(request).access
    if not policy.host_allowed(request.headers.get("Host")):
        return bad_request(
            "Invalid Host header: this host does not serve that name (DURABLE_EXT_ALLOWED_HOSTS lists more names)."
        )
    if not policy.origin_allowed(
        request.method,
        request.headers.get("Origin"),
        request.headers.get("Sec-Fetch-Site"),
        request.headers.get("Host"),
    ):
        return error_response(403, "Cross-site requests that change state are not accepted.")
    path = request.rel_url.raw_path
    lowered = path.lower()
    if lowered == "/admin" or lowered.startswith("/admin/"):
        denied = require(request, AuthLevel.ADMIN)
    elif is_webhook_path(path, state_of(request).links.webhook_path):
        denied = require(request, AuthLevel.SYSTEM)
    else:
        denied = None
    return denied if denied is not None else await handler(request)


def presented_key(request: web.Request) -> str | None:
    """The key a request carries: header, then ``code=``, then a Basic authorization password."""
    key = request.headers.get(KEY_HEADER)
    if key:
        return key.strip()
    codes = [value for name, value in request.query.items() if name.lower() == KEY_QUERY]
    if codes:
        return codes[0].strip()
    authorization = request.headers.get("Authorization", "")
    if authorization[:6].lower() == "basic ":
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            return None
        return decoded.partition(":")[2] or None
    return None


def require(request: web.Request, level: AuthLevel, function_name: str | None = None) -> web.Response | None:
    """None when the request's key grants ``level`` (for ``function_name``), else the 401 answer."""
    if level is AuthLevel.ANONYMOUS:
        return None
    policy = state_of(request).access
    if not policy.keys_required:  # (granted: everything; no need to look for a key)
        return None
    if policy.granted(presented_key(request), function_name) >= level:
        return None
    return web.Response(status=401)
