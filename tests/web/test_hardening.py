"""Untrusted callers (issue #10): internal URLs never follow the request, bad input is a 4xx, a 500
tells the caller nothing about the host, stored strings never break reads, long polls end."""

import asyncio
import json
import logging

from durable_ext.core.status import RuntimeStatus
from tests.web.harness import Harness

WH = "/runtime/webhooks/durabletask"


# -- finding 2: the durable client binding never follows the Host header -----------------------


def test_rpc_base_url_comes_from_the_bound_address_not_the_host_header(harness: Harness):
    body = harness.call("GET", "/api/binding", headers={"Host": "127.0.0.1:7299"}).json()
    assert body["rpc_base_url"].startswith(f"{harness.base_url}/runtime/webhooks/durabletask/")
    for url in body["creation_urls"].values():
        assert url.startswith(f"{harness.base_url}/"), url
    for name, url in body["management_urls"].items():
        assert name == "id" or url.startswith(f"{harness.base_url}/"), url


def test_sdk_start_new_with_a_forged_host_header_starts_here(harness: Harness):
    reply = harness.call("POST", "/api/orchestrators/hello_orchestrator", json="x", headers={"Host": "127.0.0.1:7299"})
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
        '[99999999999999999999999999, "a"]',
        '[1e400, "a"]',
        '[1, "\\ud800"]',
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


# -- finding 4: a lone surrogate is refused on the way in, and never breaks a read -------------

LONE = b'"\\ud800"'


def test_lone_surrogate_inputs_are_refused_with_400(harness: Harness):
    headers = {"Content-Type": "application/json"}
    reply = harness.call("POST", f"{WH}/orchestrators/hello_orchestrator/s1", data=LONE, headers=headers)
    assert reply.status == 400 and "surrogate" in reply.json()["ExceptionMessage"]
    reply = harness.call("POST", f"{WH}/orchestrators/hello_orchestrator", data=b'{"k": ["\\udfff"]}', headers=headers)
    assert reply.status == 400
    assert harness.call("GET", f"{WH}/instances").json() == []  # nothing was created
    # A valid pair is Unicode text (U+1F600) and is accepted.
    reply = harness.call("POST", f"{WH}/orchestrators/hello_orchestrator/ok", data=b'"\\ud83d\\ude00"', headers=headers)
    assert reply.status == 202
    assert harness.call("GET", f"{WH}/instances/ok").json()["input"] == "\U0001f600"


def test_lone_surrogate_events_and_signals_are_refused_with_400(harness: Harness):
    headers = {"Content-Type": "application/json"}
    harness.run(harness.client.start_new("hello_orchestrator", "e1", '"x"'))
    reply = harness.call("POST", f"{WH}/instances/e1/raiseEvent/go", data=LONE, headers=headers)
    assert reply.status == 400
    reply = harness.call("POST", f"{WH}/entities/counter/k?op=add", data=LONE, headers=headers)
    assert reply.status == 400
    assert harness.run(harness.pending_messages("e1"))[-1].__class__.__name__ == "ExecutionStarted"


def test_stored_lone_surrogates_from_user_code_never_break_reads(harness: Harness):
    # Outputs and custom status come from user code: whatever JSON text it produced, reads work.
    from durable_ext.core.status import RuntimeStatus

    harness.run(harness.client.start_new("hello_orchestrator", "u1", '"\\ud800"'))
    harness.run(harness.settle("u1", RuntimeStatus.Completed, output='["\\udc00"]', custom_status='"\\ud800"'))
    reply = harness.call("GET", f"{WH}/instances/u1?showHistory=true&showHistoryOutput=true")
    assert reply.status == 200
    body = json.loads(reply.body)
    assert body["output"] == ["\udc00"] and body["customStatus"] == "\ud800" and body["input"] == "\ud800"
    listed = harness.call("GET", f"{WH}/instances")
    assert listed.status == 200 and [s["instanceId"] for s in listed.json()] == ["u1"]


def _strict_json(body: bytes):
    """RFC 8259 JSON only: Python's NaN/Infinity extensions are errors (browsers and JSON.parse refuse them)."""

    def refuse(constant: str):
        raise ValueError(f"not JSON: {constant}")

    return json.loads(body, parse_constant=refuse)


def test_non_finite_numbers_never_make_a_response_invalid_json(harness: Harness):
    # Python's json reads NaN, Infinity and 1e999 (a float overflow) and would write them back as
    # bare NaN/Infinity: a status or list page holding one is no longer JSON for any other client
    # (the monitor's JSON.parse included). They are sent as strings, as Newtonsoft writes them.
    headers = {"Content-Type": "application/json"}
    reply = harness.call(
        "POST", f"{WH}/orchestrators/hello_orchestrator/nan1", data=b"[NaN, Infinity, -Infinity, 1e999]", headers=headers
    )
    assert reply.status == 202, reply.body
    harness.run(harness.settle("nan1", RuntimeStatus.Completed, output="NaN", custom_status='{"x": -1e999}'))
    reply = harness.call("GET", f"{WH}/instances/nan1?showHistory=true&showHistoryOutput=true")
    assert reply.status == 200
    body = _strict_json(reply.body)
    assert body["input"] == ["NaN", "Infinity", "-Infinity", "Infinity"]
    assert body["output"] == "NaN" and body["customStatus"] == {"x": "-Infinity"}
    listed = harness.call("GET", f"{WH}/instances")
    assert listed.status == 200 and [s["output"] for s in _strict_json(listed.body)] == ["NaN"]


def test_a_newline_in_the_path_reaches_the_api_not_the_frameworks_text_404(harness: Harness):
    # %0A decodes to a newline, which a '.*' route pattern does not match: aiohttp answered its own
    # text/plain "404: Not Found" instead of the API's answer (a 400 naming the bad character).
    reply = harness.call("POST", f"{WH}/orchestrators/hello_orchestrator/a%0Ab")
    assert reply.status == 400, reply.body
    assert "control characters" in reply.json()["ExceptionMessage"]
    reply = harness.call("GET", f"{WH}/instances/a%0Ab")
    assert reply.status == 404 and reply.body == b""


# -- finding 5: long polls end with their caller, within bounds, and at shutdown ---------------


def test_nonsense_wait_times_are_a_400(harness: Harness):
    for query in (
        "timeout=1e300&pollingInterval=1",
        "timeout=10&pollingInterval=1e300",
        "timeout=-1&pollingInterval=0",
        "timeout=nan&pollingInterval=0",
        "timeout=inf&pollingInterval=1",
        "timeout=3601&pollingInterval=1",
    ):
        reply = harness.call("POST", f"{WH}/orchestrators/hello_orchestrator?{query}", json="x")
        assert reply.status == 400, (query, reply.status, reply.body)
    assert harness.call("GET", f"{WH}/instances").json() == []


def test_a_wait_ends_when_its_caller_disconnects(harness: Harness):
    import aiohttp

    ended = asyncio.Event()
    original = harness.client.wait_for_completion
    reads = 0
    get_instance = harness.provider.get_instance

    async def counting(instance_id):
        nonlocal reads
        reads += 1
        return await get_instance(instance_id)

    async def watched(*args, **kwargs):
        try:
            return await original(*args, **kwargs)
        finally:
            ended.set()

    harness.client.wait_for_completion = watched
    harness.provider.get_instance = counting

    async def scenario():
        async with aiohttp.ClientSession() as session:
            request = asyncio.ensure_future(
                session.post(
                    f"{harness.base_url}{WH}/orchestrators/hello_orchestrator/w1?timeout=3000&pollingInterval=0",
                    json="x",
                )
            )
            while reads < 2:  # the server is polling the Pending instance
                await asyncio.sleep(0.01)
            request.cancel()  # the caller gives up: its connection closes
        await asyncio.wait_for(ended.wait(), 30)

    harness.run(scenario())
    polled = reads
    harness.run(asyncio.sleep(0.3))
    assert reads == polled  # nothing polls for the departed caller any more


def test_close_answers_waiting_requests_at_once(harness: Harness):
    async def scenario():
        waiting = asyncio.ensure_future(
            harness.http("POST", f"{WH}/orchestrators/hello_orchestrator/w2?timeout=3000&pollingInterval=1", json="x")
        )
        while await harness.client.get_status("w2") is None:
            await asyncio.sleep(0.01)
        harness.client.close()
        return await asyncio.wait_for(waiting, 30)

    reply = harness.run(scenario())
    assert reply.status == 202 and reply.json()["id"] == "w2"  # the check-status answer


def test_a_waiting_start_takes_the_final_state_from_the_commit_without_reading_it(harness: Harness):
    """Start-and-wait reads nothing while the instance runs: not its just-created Pending state,
    and not the terminal state the ending commit hands over (``on_commit``)."""
    from durable_ext.core.status import RuntimeStatus

    reads: list[str] = []
    read = harness.provider.get_instance

    async def counted(instance_id: str):
        reads.append(instance_id)
        return await read(instance_id)

    async def scenario():
        harness.provider.get_instance = counted
        waiting = asyncio.ensure_future(
            harness.http(
                "POST", f"{WH}/orchestrators/hello_orchestrator/w4?timeout=3000&pollingInterval=3000", json="x"
            )
        )
        while "w4" not in harness.client._waiters:
            await asyncio.sleep(0.01)
        await harness.settle("w4", RuntimeStatus.Completed, output='"done"')
        final = await read("w4")
        harness.client.notify("w4", final)  # what the orchestration dispatcher calls after the ending commit
        return await asyncio.wait_for(waiting, 30)

    try:
        reply = harness.run(scenario())
    finally:
        harness.provider.get_instance = read
    assert reply.status == 200 and reply.json() == "done"
    assert reads == []
    assert harness.client._waiters == {} and harness.client._finished == {}


def test_a_commit_in_this_process_wakes_the_waiter_at_once(harness: Harness):
    from durable_ext.core.status import RuntimeStatus

    async def scenario():
        waiting = asyncio.ensure_future(
            harness.http(
                "POST", f"{WH}/orchestrators/hello_orchestrator/w3?timeout=3000&pollingInterval=3000", json="x"
            )
        )
        while "w3" not in harness.client._waiters:  # the request is waiting on the instance
            await asyncio.sleep(0.01)
        await harness.settle("w3", RuntimeStatus.Completed, output='"done"')
        harness.client.notify("w3")  # what the orchestration dispatcher calls after a commit
        return await asyncio.wait_for(waiting, 30)

    reply = harness.run(scenario())
    assert reply.status == 200 and reply.json() == "done"
    assert harness.client._waiters == {}
