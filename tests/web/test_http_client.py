"""The built-in ``call_http`` activity over the aiohttp transport, against a loopback server."""

from __future__ import annotations

import asyncio
import json
import socket
from datetime import UTC, datetime

from aiohttp import web
from aiohttp.test_utils import TestServer

from durable_ext.core import events as e
from durable_ext.dispatcher.http_activity import call_http
from durable_ext.web.http_client import AiohttpTransport

NOW = datetime(2030, 1, 1, tzinfo=UTC)


def _scheduled(request: dict) -> e.TaskScheduled:
    return e.TaskScheduled(event_id=7, timestamp=NOW, name="BuiltIn::HttpActivity", input=json.dumps(request))


async def _echo(request: web.Request) -> web.Response:
    body = await request.text()
    response = web.Response(status=201, text=f"{request.method} {body} {request.headers.get('X-Test')}")
    response.headers.add("Set-Cookie", "a=1")
    response.headers.add("Set-Cookie", "b=2")
    return response


def test_the_response_is_the_extensions_json_with_repeated_headers_as_lists():
    async def scenario() -> e.HistoryEvent:
        app = web.Application()
        app.router.add_route("*", "/echo", _echo)
        server = TestServer(app, host="127.0.0.1", port=0)
        await server.start_server()
        try:
            uri = str(server.make_url("/echo"))
            request = {"method": "post", "uri": uri, "content": "hi", "headers": {"X-Test": ["x", "y"]}}
            return await call_http(_scheduled(request), lambda: NOW, AiohttpTransport())
        finally:
            await server.close()

    result = asyncio.run(scenario())
    assert isinstance(result, e.TaskCompleted) and result.task_scheduled_id == 7
    body = json.loads(result.result or "")
    assert body["statusCode"] == 201 and body["content"] == "POST hi x,y"
    assert body["headers"]["Set-Cookie"] == ["a=1", "b=2"]


def test_a_refused_connection_fails_the_activity_with_the_error_text():
    with socket.socket() as sock:  # a loopback port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    request = {"method": "GET", "uri": f"http://127.0.0.1:{port}/"}
    result = asyncio.run(call_http(_scheduled(request), lambda: NOW, AiohttpTransport()))
    assert isinstance(result, e.TaskFailed) and result.task_scheduled_id == 7
    assert result.reason.startswith("Activity function 'BuiltIn::HttpActivity' failed: ClientConnectorError")
    assert json.loads(result.details or "")["Message"].startswith("ClientConnectorError")


def test_a_managed_identity_token_source_is_refused():
    request = {"method": "GET", "uri": "http://127.0.0.1:1/", "tokenSource": {"resource": "https://x"}}
    result = asyncio.run(call_http(_scheduled(request), lambda: NOW, AiohttpTransport()))
    assert isinstance(result, e.TaskFailed)
    assert "managed identity token sources are not available outside Azure" in result.reason
