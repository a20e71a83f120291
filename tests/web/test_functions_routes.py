"""The fixture app's HTTP functions served by the web app."""

import json
import logging

from durable_ext.core.status import RuntimeStatus
from tests.web.harness import Harness, start_harness


def test_plain_sync_function(harness: Harness):
    reply = harness.call("GET", "/api/hello?name=Ada&name=Bob", headers={"X-Test": "t1"})
    assert reply.status == 200
    assert reply.headers["X-Custom"] == "yes"
    assert reply.headers["Content-Type"] == "application/json"
    body = reply.json()
    assert body["name"] == "Ada,Bob"  # repeated query names are joined, as the host does
    assert body["url"] == f"{harness.base_url}/api/hello?name=Ada&name=Bob"
    assert body["method"] == "GET" and body["header"] == "t1" and body["route_params"] == {}
    assert harness.call("GET", "/API/Hello/").status == 200  # routes match case-insensitively


def test_methods_bodies_and_return_types(harness: Harness):
    assert harness.call("POST", "/api/hello").status == 404  # method not allowed → 404, as the host does
    echoed = harness.call("PUT", "/api/echo", data=b"\x00\x01binary")
    assert echoed.status == 201 and echoed.body == b"\x00\x01binary"
    assert echoed.headers["Content-Type"] == "application/octet-stream"
    text = harness.call("DELETE", "/api/text")  # no methods listed: every method
    assert text.status == 200 and text.body == b"plain text"
    assert text.headers["Content-Type"].startswith("text/plain")
    redirect = harness.call("GET", "/api/redirect")
    assert redirect.status == 302 and redirect.headers["Location"] == "/api/hello"
    assert harness.call("GET", "/api/nothing").status == 404
    assert harness.call("GET", "/hello").status == 404


def test_route_templates(harness: Harness):
    assert harness.call("GET", "/api/items/42").json() == {"function": "items", "route_params": {"id": "42"}}
    assert harness.call("GET", "/api/items/42/blue%20one").json()["route_params"] == {"id": "42", "x": "blue one"}
    assert harness.call("GET", "/api/items/latest").json()["function"] == "latest_item"
    assert harness.call("GET", "/api/items/abc").status == 404
    assert harness.call("GET", "/api/files/a/b/c.txt").json() == {"route_params": {"path": "a/b/c.txt"}}


def test_failing_function_is_empty_500(harness: Harness, caplog):
    with caplog.at_level(logging.INFO, logger="durable_ext"):
        reply = harness.call("GET", "/api/fail")
    assert reply.status == 500 and reply.body == b""
    lines = [r.getMessage() for r in caplog.records]
    assert any(line.startswith("Executing 'Functions.fail'") for line in lines)
    assert any(line.startswith("Executed 'Functions.fail' (Failed") for line in lines)
    assert any("ValueError: kaboom" in line for line in lines)


def test_durable_starter(harness: Harness, caplog):
    with caplog.at_level(logging.INFO, logger="durable_ext"):
        reply = harness.call("POST", "/api/orchestrators/hello_orchestrator", json={"city": "Tokyo"})
    assert reply.status == 202, reply.body
    links = reply.json()
    instance_id = links["id"]
    assert reply.headers["Location"] == links["statusQueryGetUri"]
    assert links["statusQueryGetUri"].startswith(f"{harness.base_url}/runtime/webhooks/durabletask/instances/")
    assert any(r.getMessage().startswith("Executed 'Functions.http_start' (Succeeded") for r in caplog.records)
    status = harness.call("GET", links["statusQueryGetUri"])
    assert status.status == 202 and status.json()["input"] == '{"city": "Tokyo"}'
    state = harness.run(harness.client.get_status(instance_id))
    assert state.runtime_status is RuntimeStatus.Pending and state.name == "hello_orchestrator"


def test_client_binding_given_to_functions(harness: Harness):
    body = harness.call("GET", "/api/binding").json()
    assert body["task_hub"] == "OtherHub"
    # The SDK sends most calls without taskHub: the RPC base selects the binding's hub.
    assert body["rpc_base_url"] == f"{harness.base_url}/runtime/webhooks/durabletask/taskHubs/OtherHub/connections/MyStorage/"
    assert body["management_urls"]["statusQueryGetUri"].endswith("?taskHub=OtherHub&connection=MyStorage")
    assert len(body["invocation_id"]) == 36 and body["client_invocation_id"] == body["invocation_id"]


def test_empty_route_prefix_and_builtins_win(loop, tmp_path, registry):
    h = start_harness(
        loop, tmp_path, registry, host_json={"version": "2.0", "extensions": {"http": {"routePrefix": ""}}}
    )
    try:
        assert h.call("GET", "/hello").status == 200
        assert h.call("GET", "/api/hello").status == 404
        listed = h.call("GET", "/runtime/webhooks/durabletask/instances")
        assert listed.status == 200 and listed.json() == []  # the built-in list, not the app's "shadow"
        assert json.loads(h.call("GET", "/admin/host/status").body)["state"] == "Running"
    finally:
        loop.run_until_complete(h.close())
