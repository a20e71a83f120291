"""Untrusted callers (issue #10): internal URLs never follow the request, bad input is a 4xx, a 500
tells the caller nothing about the host, stored strings never break reads, long polls end."""

import logging

from tests.web.harness import Harness

WH = "/runtime/webhooks/durabletask"


# -- finding 2: the durable client binding never follows the Host header -----------------------


def test_rpc_base_url_comes_from_the_bound_address_not_the_host_header(harness: Harness):
    body = harness.call("GET", "/api/binding", headers={"Host": "127.0.0.1:7299"}).json()
    assert body["rpc_base_url"] == f"{harness.base_url}/runtime/webhooks/durabletask/"
    for url in body["creation_urls"].values():
        assert url.startswith(f"{harness.base_url}/"), url
    for name, url in body["management_urls"].items():
        assert name == "id" or url.startswith(f"{harness.base_url}/"), url


def test_sdk_start_new_with_a_forged_host_header_starts_here(harness: Harness):
    reply = harness.call(
        "POST", "/api/orchestrators/hello_orchestrator", json="x", headers={"Host": "127.0.0.1:7299"}
    )
    assert reply.status == 202, reply.body
    instance_id = reply.json()["id"]
    state = harness.run(harness.client.get_status(instance_id))
    assert state is not None and state.name == "hello_orchestrator"


# -- finding 8: bad input is a 4xx; a 500 says nothing about the host ---------------------------


def test_huge_top_is_not_a_server_error(harness: Harness):
    harness.run(harness.client.start_new("hello_orchestrator", "a", '"x"'))
    for top in ("99999999999999999999", "-99999999999999999999", "1e9", "9223372036854775808"):
        reply = harness.call("GET", f"{WH}/instances?top={top}")
        assert reply.status == 200, (top, reply.body)
        assert [s["instanceId"] for s in reply.json()] == ["a"]
        reply = harness.call("GET", f"{WH}/entities?top={top}")
        assert reply.status == 200, (top, reply.body)


def test_bogus_continuation_tokens_are_a_400(harness: Harness):
    import base64

    harness.run(harness.client.start_new("hello_orchestrator", "a", '"x"'))
    bogus = [
        "[99999999999999999999999999, \"a\"]",
        "[1e400, \"a\"]",
        "[1, \"\\ud800\"]",
        "5",
        "{}",
        "null",
        "[1, 2, 3]",
        "not json",
    ]
    for text in bogus:
        token = base64.urlsafe_b64encode(text.encode()).decode()
        for path in (f"{WH}/instances", f"{WH}/entities"):
            reply = harness.call("GET", path, headers={"x-ms-continuation-token": token})
            assert reply.status == 400, (text, path, reply.status, reply.body)
            assert "continuation" in reply.json()["Message"].lower()


def test_a_500_body_carries_no_exception_text_and_names_a_request_id(harness: Harness, caplog):
    async def broken(*args, **kwargs):
        raise RuntimeError("/secret/path/taskhub.sqlite is on fire")

    harness.client.query = broken  # a bug we do not own stands in for any unexpected failure
    with caplog.at_level(logging.ERROR):
        reply = harness.call("GET", f"{WH}/instances")
    assert reply.status == 500
    body = reply.json()
    assert "/secret" not in reply.body.decode() and "fire" not in reply.body.decode()
    assert "RuntimeError" not in reply.body.decode()
    request_id = reply.headers["x-ms-request-id"]
    assert request_id and request_id in body["Message"]
    logged = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    assert request_id in logged
    assert any(r.exc_info and "on fire" in str(r.exc_info[1]) for r in caplog.records)


def test_admin_status_shows_no_paths_hostname_or_pid(harness: Harness):
    import os
    import socket

    text = harness.call("GET", "/admin/host/status").body.decode()
    assert str(harness.config.app_dir) not in text
    assert socket.gethostname() not in text
    assert f'"{os.getpid()}' not in text and f"{os.getpid()}" not in text.split('"processUptime"')[0]
