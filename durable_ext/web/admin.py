"""Host endpoints outside the durable API: ``GET /admin/host/status`` and ``GET /``."""

from __future__ import annotations

import time

from aiohttp import web

from durable_ext import __version__
from durable_ext.web.responses import json_response
from durable_ext.web.state import state_of


async def host_status(request: web.Request) -> web.Response:
    """Like the Functions host's status endpoint, plus the task hub this host serves."""
    state = state_of(request)
    live = dict(state.dispatcher_status()) if state.dispatcher_status is not None else {}
    uptime = live.pop("processUptime", None)
    if uptime is None:
        uptime = round((time.monotonic() - state.started_at) * 1000)
    durable = {"hubName": state.config.hub_name, "storageProvider": state.config.storage.kind}
    durable.update(live)
    return json_response(
        {
            "id": state.host_id,
            "state": "Running",
            "version": __version__,
            "processUptime": uptime,
            "extensionBundle": None,
            "durableTask": durable,
        }
    )


async def root(request: web.Request) -> web.Response:
    return json_response({"status": "Running"})


def add_admin_routes(app: web.Application) -> None:
    app.router.add_get("/admin/host/status", host_status, allow_head=True)
    app.router.add_get("/", root, allow_head=True)
