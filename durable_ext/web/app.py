"""The aiohttp application: built-in durable API, admin endpoints and the app's HTTP functions.

Matching order, so built-ins always win over an app route with the same path:

1. ``/admin/host/status`` and ``/`` (admin),
2. ``/runtime/webhooks/durabletask/…`` in any letter case (the durable HTTP API and the SDK
   client's RPC calls),
3. the app's HTTP functions under ``/<routePrefix>/`` (unless ``serve_functions`` is off: in worker
   mode the Functions host serves them),
4. anything else: 404 with an empty body.

The built-in API's root is ``links.webhook_path``; in worker mode it is the public path the host routes
to durable_ext's webhook function, so the links it hands out are the public ones.
"""

from __future__ import annotations

import hashlib
import socket
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from typing import Any

from aiohttp import web

from durable_ext.auth.access import OPEN, AccessPolicy
from durable_ext.auth.keys import AuthLevel
from durable_ext.client import DurableClient
from durable_ext.config import HostConfig
from durable_ext.functions.registry import Registry
from durable_ext.hubs import HubAddressError, HubResolver
from durable_ext.log import logger
from durable_ext.web import responses
from durable_ext.web.admin import add_admin_routes
from durable_ext.web.functions_routes import FUNCTION_ROUTES, FunctionRoutes, handle_function
from durable_ext.web.guard import guard, require
from durable_ext.web.links import DEFAULT_LINKS, LinkSettings, client_binding_json
from durable_ext.web.state import STATE, WebState
from durable_ext.web.webhooks import handle_webhook, is_webhook_path

__all__ = ["client_binding_json", "create_web_app", "host_id"]


def create_web_app(
    *,
    config: HostConfig,
    client: DurableClient,
    registry: Registry,
    executor: Executor | None,
    dispatcher_status: Callable[[], dict] | None = None,
    serve_functions: bool = True,
    links: LinkSettings = DEFAULT_LINKS,
    middlewares: Sequence[Any] = (),
    access: AccessPolicy = OPEN,
) -> web.Application:
    """The host's HTTP surface, guarded by ``access`` (keys, Host and Origin; see ``web.guard``).

    Other task hubs that requests or bindings name are opened on demand and closed when the
    application is cleaned up (``AppRunner.cleanup``); ``client`` stays the caller's to close.
    """
    app = web.Application(
        client_max_size=responses.MAX_BODY_BYTES, middlewares=[_no_internals_in_errors, *middlewares, guard]
    )
    hubs = HubResolver(config, client)
    _check_bindings(hubs, registry)
    app[STATE] = WebState(
        config=config,
        client=client,
        registry=registry,
        executor=executor,
        dispatcher_status=dispatcher_status,
        started_at=time.monotonic(),
        host_id=host_id(config),
        access=access,
        hubs=hubs,
        links=links,
    )

    async def close_hubs(_: web.Application) -> None:
        await hubs.close()

    app.on_cleanup.append(close_hubs)
    served = registry.http_functions() if serve_functions else []
    app[FUNCTION_ROUTES] = FunctionRoutes(served, config.route_prefix)
    add_admin_routes(app)
    # [\s\S]*, not .*: a path with an encoded newline (%0A) must reach the API's own answers too.
    app.router.add_route("*", "/{tail:[\\s\\S]*}", _dispatch)
    return app


def host_id(config: HostConfig) -> str:
    """Stable across restarts of the same app on the same machine; 32 lower-case hex digits."""
    seed = f"{socket.gethostname().lower()}|{config.app_dir}|{config.hub_name}"
    return hashlib.sha256(seed.encode("utf-8")).hexdigest()[:32]


@web.middleware
async def _no_internals_in_errors(request: web.Request, handler) -> web.StreamResponse:
    """Any exception a handler lets escape becomes a generic JSON 500 (details only in the log)."""
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except Exception as exc:
        return responses.server_error(request, exc)
def _check_bindings(hubs: HubResolver, registry: Registry) -> None:
    """Say at startup which client bindings name a hub or connection that cannot be used."""
    for info in registry.http_functions():
        if info.client_binding_name:
            try:
                hubs.binding_address(info)
            except HubAddressError as exc:
                logger.error("Function '%s' will fail when called: %s", info.function_name, exc)


async def _dispatch(request: web.Request) -> web.StreamResponse:
    raw_path = request.rel_url.raw_path
    if is_webhook_path(raw_path, request.app[STATE].links.webhook_path):
        return await handle_webhook(request)
    found = request.app[FUNCTION_ROUTES].match(request.method, raw_path)
    if found is None:
        return web.Response(status=404)
    info, values = found
    denied = require(request, AuthLevel.of_function(info.auth_level), info.function_name)
    return denied if denied is not None else await handle_function(request, info, values)
