"""web.local_rpc: which calls of the app's own SDK client are answered in-process, and which still
go over the network (the answers themselves: tests/web/test_sdk_client.py runs both ways)."""

from __future__ import annotations

from aiohttp import web
from aiohttp.test_utils import TestServer

from durable_ext.web.local_rpc import LocalFirstSession, local_addresses
from tests.web.harness import Harness


def test_a_wildcard_bind_is_reached_through_loopback():
    assert local_addresses([("0.0.0.0", 7071), ("::", 7071), ("10.1.2.3", 8080)]) == {
        ("127.0.0.1", 7071),
        ("localhost", 7071),
        ("::1", 7071),
        ("10.1.2.3", 8080),
    }


def test_only_this_hosts_api_is_answered_in_process(harness: Harness):
    async def other(request: web.Request) -> web.Response:
        return web.json_response({"path": request.path})

    async def scenario():
        elsewhere = web.Application()
        elsewhere.router.add_get("/{tail:.*}", other)
        server = TestServer(elsewhere, host="127.0.0.1", port=0)
        await server.start_server()
        session = LocalFirstSession(harness.server.app, local_addresses([("127.0.0.1", harness.server.port)]))
        try:
            own = f"http://127.0.0.1:{harness.server.port}"
            async with session.get(f"{own}/runtime/webhooks/durabletask/instances/nobody") as r:
                api = (r.status, await r.json(content_type=None))
            async with session.get(f"http://127.0.0.1:{server.port}/runtime/webhooks/durabletask/x") as r:
                foreign = (r.status, await r.json(content_type=None))
            async with session.get(f"{own}/api/anything") as r:  # the app's own routes: over HTTP
                app_route = r.status
            return api, foreign, app_route, session.local_calls, session.remote_calls
        finally:
            await session.close()
            await server.close()

    api, foreign, app_route, local, remote = harness.run(scenario())
    assert api == (404, None)  # the API's own answer for an unknown instance: 404, empty body
    assert foreign == (200, {"path": "/runtime/webhooks/durabletask/x"})
    assert app_route == 404
    assert (local, remote) == (1, 2)
