"""The built-in HTTP API over real HTTP: routes, status codes, headers and payloads (EXT ``HttpApiHandler``)."""

import asyncio
import json
from datetime import UTC, datetime, timedelta

from durable_ext.core import events as e
from durable_ext.core.status import RuntimeStatus
from durable_ext.web import responses
from tests.web.harness import Harness, start_harness

WH = "/runtime/webhooks/durabletask"


def _start(h: Harness, instance_id: str, input_text: str | None = '"Tokyo"') -> str:
    return h.run(h.client.start_new("hello_orchestrator", instance_id, input_text))


# -- start ------------------------------------------------------------------------------------


def test_start_returns_check_status_links(harness: Harness):
    reply = harness.call("POST", f"{WH}/orchestrators/hello_orchestrator", json={"a": 1})
    assert reply.status == 202
    body = reply.json()
    instance_id = body["id"]
    assert len(instance_id) == 32
    assert list(body) == [
        "id",
        "statusQueryGetUri",
        "sendEventPostUri",
        "terminatePostUri",
        "purgeHistoryDeleteUri",
        "restartPostUri",
        "suspendPostUri",
        "resumePostUri",
    ]
    status_url = f"{harness.base_url}{WH}/instances/{instance_id}?taskHub=TestHubName&connection=Storage"
    assert body["statusQueryGetUri"] == status_url
    assert reply.headers["Location"] == status_url
    assert reply.headers["Retry-After"] == "10"
    assert reply.headers["Content-Type"].startswith("application/json")
    # Stored input is json.dumps(json.loads(body)); the status shows it parsed.
    state = harness.run(harness.client.get_status(instance_id))
    assert state.input == '{"a": 1}' and state.runtime_status is RuntimeStatus.Pending
    status = harness.call("GET", body["statusQueryGetUri"])
    assert status.status == 202
    assert status.json()["input"] == {"a": 1}


def test_start_with_id_version_and_sdk_double_encoding(harness: Harness):
    # What the SDK sends for client_input={"a": 1}: a JSON string holding df_dumps text.
    reply = harness.call(
        "POST", f"{WH}/Orchestrators/HELLO_orchestrator/my-id?version=2.0", data=json.dumps('{"a": 1}')
    )
    assert reply.status == 202 and reply.json()["id"] == "my-id"
    state = harness.run(harness.client.get_status("my-id"))
    assert state.name == "hello_orchestrator"  # resolved to its declared spelling
    assert state.version == "2.0"
    assert state.input == '"{\\"a\\": 1}"'
    assert harness.call("GET", f"{WH}/instances/my-id").json()["input"] == '{"a": 1}'


def test_start_without_body_stores_no_input(harness: Harness):
    reply = harness.call("POST", f"{WH}/orchestrators/hello_orchestrator/")
    assert reply.status == 202
    assert harness.run(harness.client.get_status(reply.json()["id"])).input is None


def test_start_errors(harness: Harness):
    bad_json = harness.call("POST", f"{WH}/orchestrators/hello_orchestrator", data=b"{not json")
    assert bad_json.status == 400
    assert bad_json.json()["Message"] == "Invalid JSON content" and bad_json.json()["ExceptionMessage"]

    unknown = harness.call("POST", f"{WH}/orchestrators/nope", json=1)
    assert unknown.status == 400
    body = unknown.json()
    assert body["Message"] == "One or more of the arguments submitted is incorrect"
    assert body["ExceptionMessage"].startswith("The function 'nope' doesn't exist")
    assert body["ExceptionType"] == "System.ArgumentException" and body["StackTrace"] == ""

    bad_id = harness.call("POST", f"{WH}/orchestrators/hello_orchestrator/@bad")
    assert bad_id.status == 400 and "must not start with '@'" in bad_id.json()["ExceptionMessage"]
    too_long = harness.call("POST", f"{WH}/orchestrators/hello_orchestrator/{'x' * 257}")
    assert too_long.status == 400
    encoded_slash = harness.call("POST", f"{WH}/orchestrators/hello_orchestrator/a%2Fb")
    assert encoded_slash.status == 400

    assert harness.call("GET", f"{WH}/orchestrators/hello_orchestrator").status == 404

    assert harness.call("POST", f"{WH}/orchestrators/hello_orchestrator/dup").status == 202
    dup = harness.call("POST", f"{WH}/orchestrators/hello_orchestrator/dup")
    assert dup.status == 500 and "'dup'" in dup.json()["ExceptionMessage"]


def test_start_and_wait(harness: Harness):
    async def scenario():
        async def settle_soon():
            for _ in range(200):
                if await harness.client.get_status("waited") is not None:
                    break
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.1)
            await harness.settle("waited", RuntimeStatus.Completed, output='"Hello Tokyo!"')

        reply, _ = await asyncio.gather(
            harness.http(
                "POST", f"{WH}/orchestrators/hello_orchestrator/waited?timeout=10&pollingInterval=0.05", json="Tokyo"
            ),
            settle_soon(),
        )
        return reply

    reply = harness.run(scenario())
    assert reply.status == 200 and reply.json() == "Hello Tokyo!"

    timed_out = harness.call("POST", f"{WH}/orchestrators/hello_orchestrator/slow?timeout=0.2&pollingInterval=0.05")
    assert timed_out.status == 202 and timed_out.json()["id"] == "slow"
    assert harness.call("POST", f"{WH}/orchestrators/hello_orchestrator?timeout=1&pollingInterval=5").status == 400


def test_start_and_wait_answers_when_this_process_commits_not_at_the_next_poll(harness: Harness):
    """The dispatcher calls ``work_signal.changed`` after each commit; a waiting request reads the
    instance again at once, so with an hour-long polling interval it still answers on completion."""

    async def scenario():
        async def settle_soon():
            for _ in range(500):
                if await harness.client.get_status("woken") is not None:
                    break
                await asyncio.sleep(0.01)
            await harness.settle("woken", RuntimeStatus.Completed, output='"Hello Lima!"')
            harness.provider.work_signal.changed("woken")  # as OrchestrationDispatcher does

        request = harness.http(
            "POST", f"{WH}/orchestrators/hello_orchestrator/woken?timeout=3600&pollingInterval=3600", json="Lima"
        )
        # The bound only turns a lost wake-up into a failure instead of an hour's hang.
        reply, _ = await asyncio.wait_for(asyncio.gather(request, settle_soon()), 120)
        return reply

    reply = harness.run(scenario())
    assert reply.status == 200 and reply.json() == "Hello Lima!"


# -- status -----------------------------------------------------------------------------------


def test_get_status_codes(harness: Harness):
    missing = harness.call("GET", f"{WH}/instances/nobody")
    assert missing.status == 404 and missing.body == b""

    _start(harness, "p1")
    pending = harness.call("GET", f"{WH}/instances/p1?showHistory=true")
    assert pending.status == 202
    assert pending.headers["Retry-After"] == "5"
    assert pending.headers["Location"] == f"{harness.base_url}{WH}/instances/p1?showHistory=true"
    assert "historyEvents" not in pending.json()  # nothing for Pending instances

    harness.run(harness.settle("p1", RuntimeStatus.Running, custom_status='"step 1"'))
    running = harness.call("GET", f"{WH}/instances/p1")
    assert running.status == 202 and running.json()["customStatus"] == "step 1"

    _start(harness, "f1")
    harness.run(
        harness.settle("f1", RuntimeStatus.Failed, output="Orchestrator function 'hello_orchestrator' failed: boom")
    )
    failed = harness.call("GET", f"{WH}/instances/f1")
    assert failed.status == 200 and "Location" not in failed.headers
    assert failed.json()["output"] == "Orchestrator function 'hello_orchestrator' failed: boom"
    assert harness.call("GET", f"{WH}/instances/f1?returnInternalServerErrorOnFailure=True").status == 500

    _start(harness, "t1")
    harness.run(harness.settle("t1", RuntimeStatus.Terminated, output="stopped by admin"))
    terminated = harness.call("GET", f"{WH}/instances/t1")
    assert terminated.status == 200 and terminated.json()["output"] == "stopped by admin"


def test_get_status_payload_and_history(harness: Harness):
    _start(harness, "c1")
    t = datetime.now(UTC)
    events = [
        e.TaskScheduled(event_id=0, timestamp=t, name="say_hello", input='"Tokyo"'),
        e.TaskCompleted(timestamp=t, task_scheduled_id=0, result='"Hello Tokyo!"'),
    ]
    harness.run(harness.settle("c1", RuntimeStatus.Completed, output='"Hello Tokyo!"', events=events))
    reply = harness.call("GET", f"{WH}/instances/c1")
    assert reply.status == 200
    body = reply.json()
    assert list(body) == [
        "name",
        "instanceId",
        "runtimeStatus",
        "input",
        "customStatus",
        "output",
        "createdTime",
        "lastUpdatedTime",
    ]
    assert body["name"] == "hello_orchestrator" and body["runtimeStatus"] == "Completed"
    assert body["input"] == "Tokyo" and body["output"] == "Hello Tokyo!" and body["customStatus"] is None
    assert datetime.strptime(body["createdTime"], "%Y-%m-%dT%H:%M:%SZ")
    assert body["lastUpdatedTime"].endswith("Z") and len(body["lastUpdatedTime"]) == 20

    no_input = harness.call("GET", f"{WH}/instances/c1?showInput=FALSE").json()
    assert no_input["input"] is None

    full = harness.call("GET", f"{WH}/instances/c1?showHistory=True&showHistoryOutput=true").json()
    history = full["historyEvents"]
    assert [h["EventType"] for h in history] == ["ExecutionStarted", "TaskCompleted", "ExecutionCompleted"]
    assert history[0]["FunctionName"] == "hello_orchestrator" and history[0]["Input"] == '"Tokyo"'
    assert history[1]["FunctionName"] == "say_hello" and history[1]["Result"] == "Hello Tokyo!"
    assert history[1]["Input"] == '"Tokyo"' and "ScheduledTime" in history[1]
    assert history[2]["OrchestrationStatus"] == "Completed" and history[2]["Result"] == "Hello Tokyo!"
    assert all("EventId" not in h and "IsPlayed" not in h for h in history)

    quiet = harness.call("GET", f"{WH}/instances/c1?showhistory=true&showInput=false").json()["historyEvents"]
    assert all("Result" not in h and "Input" not in h for h in quiet)


def test_paths_are_case_insensitive(harness: Harness):
    _start(harness, "CaseId")
    reply = harness.call("GET", "/Runtime/Webhooks/durableTask/Instances/CaseId/")
    assert reply.status == 202 and reply.json()["instanceId"] == "CaseId"
    assert harness.call("GET", f"{WH}/instances/caseid").status == 404  # ids stay case-sensitive


# -- list ---------------------------------------------------------------------------------------


def test_list_pages_with_continuation_token(harness: Harness):
    async def create_many():
        for i in range(250):
            await harness.client.start_new("hello_orchestrator", f"page-{i:03d}", None)

    harness.run(create_many())
    seen: list[str] = []
    headers = {}
    pages = 0
    while True:
        reply = harness.call("GET", f"{WH}/instances/", headers=headers)
        assert reply.status == 200
        pages += 1
        seen.extend(s["instanceId"] for s in reply.json())
        token = reply.headers.get("x-ms-continuation-token")
        if not token:
            break
        headers = {"x-ms-continuation-token": token}
    assert pages == 3
    assert sorted(seen) == [f"page-{i:03d}" for i in range(250)]

    small = harness.call("GET", f"{WH}/instances?top=7&instanceIdPrefix=page-1")
    assert len(small.json()) == 7 and small.headers.get("x-ms-continuation-token")
    assert all(s["instanceId"].startswith("page-1") for s in small.json())


def test_list_filters(harness: Harness):
    _start(harness, "done")
    harness.run(harness.settle("done", RuntimeStatus.Completed, output="1"))
    _start(harness, "waiting")
    listed = harness.call("GET", f"{WH}/instances?runtimeStatus=Completed,Failed").json()
    assert [s["instanceId"] for s in listed] == ["done"]
    both = harness.call("GET", f"{WH}/instances?runtimeStatus=completed&runtimeStatus=Pending").json()
    assert {s["instanceId"] for s in both} == {"done", "waiting"}
    assert harness.call("GET", f"{WH}/instances?showInput=false").json()[0]["input"] is None
    future = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert harness.call("GET", f"{WH}/instances?createdTimeFrom={future}").json() == []
    past = "2000-01-01T00:00:00.0000000Z"
    assert len(harness.call("GET", f"{WH}/instances?createdTimeFrom={past}").json()) == 2

    bad_status = harness.call("GET", f"{WH}/instances?runtimeStatus=Sleeping")
    assert bad_status.status == 400 and "Sleeping" in bad_status.json()["Message"]
    bad_date = harness.call("GET", f"{WH}/instances?createdTimeFrom=yesterday")
    assert bad_date.status == 400 and "createdTimeFrom" in bad_date.json()["Message"]
    bad_token = harness.call("GET", f"{WH}/instances", headers={"x-ms-continuation-token": "%%%"})
    assert bad_token.status == 400


# -- purge ------------------------------------------------------------------------------------


def test_purge(harness: Harness):
    _start(harness, "gone")
    harness.run(harness.settle("gone", RuntimeStatus.Completed, output="1"))
    reply = harness.call("DELETE", f"{WH}/instances/gone")
    assert reply.status == 200 and reply.json() == {"instancesDeleted": 1}
    again = harness.call("DELETE", f"{WH}/instances/gone")
    assert again.status == 404 and again.body == b""

    missing_from = harness.call("DELETE", f"{WH}/instances/")
    assert missing_from.status == 400
    assert missing_from.json() == "Please provide value for 'createdTimeFrom' parameter."

    for i in range(3):
        _start(harness, f"old-{i}")
    reply = harness.call("DELETE", f"{WH}/instances?createdTimeFrom=2000-01-01T00:00:00Z&runtimeStatus=Pending")
    assert reply.status == 200 and reply.json() == {"instancesDeleted": 3}
    assert harness.call("DELETE", f"{WH}/instances?createdTimeFrom=2000-01-01T00:00:00Z").status == 404


# -- events and lifecycle ---------------------------------------------------------------------


def test_raise_event(harness: Harness):
    assert harness.call("POST", f"{WH}/instances/nobody/raiseEvent/Approve", json=True).status == 404
    _start(harness, "ev")
    wrong_type = harness.call("POST", f"{WH}/instances/ev/raiseEvent/Approve", data=b"true")
    assert wrong_type.status == 400
    assert wrong_type.json() == {"Message": "Only application/json request content is supported"}
    bad_json = harness.call(
        "POST", f"{WH}/instances/ev/raiseEvent/Approve", data=b"{", headers={"Content-Type": "application/json"}
    )
    assert bad_json.status == 400 and bad_json.json()["Message"] == "Invalid JSON content"

    ok = harness.call("POST", f"{WH}/instances/ev/raiseEvent/Approve", json={"ok": True})
    assert ok.status == 202 and ok.body == b""
    # What the SDK sends for raise_event(data=True): the JSON string "true".
    sdk = harness.call("POST", f"{WH}/instances/ev/raiseEvent/Second%20Event", json=json.dumps(True))
    assert sdk.status == 202
    raised = [ev for ev in harness.run(harness.pending_messages("ev")) if isinstance(ev, e.EventRaised)]
    assert [(ev.name, ev.input) for ev in raised] == [("Approve", '{"ok": true}'), ("Second Event", '"true"')]

    harness.run(harness.settle("ev", RuntimeStatus.Completed, output="1"))
    assert harness.call("POST", f"{WH}/instances/ev/raiseEvent/Approve", json=1).status == 410


def test_terminate_suspend_resume_rewind(harness: Harness):
    for op in ("terminate", "suspend", "resume", "rewind"):
        assert harness.call("POST", f"{WH}/instances/nobody/{op}?reason=x").status == 404
    _start(harness, "life")
    for op in ("suspend", "resume", "terminate"):
        reply = harness.call("POST", f"{WH}/instances/life/{op}?reason=because%20I%20said")
        assert reply.status == 202 and reply.body == b"", op
    assert harness.call("POST", f"{WH}/instances/life/rewind").status == 410  # only Failed instances
    messages = harness.run(harness.pending_messages("life"))
    kinds = [type(ev).__name__ for ev in messages]
    assert kinds == ["ExecutionStarted", "ExecutionSuspended", "ExecutionResumed", "ExecutionTerminated"]
    assert messages[-1].input == "because I said"

    harness.run(harness.settle("life", RuntimeStatus.Failed, output="boom"))
    for op in ("terminate", "suspend", "resume"):
        assert harness.call("POST", f"{WH}/instances/life/{op}").status == 410, op
    assert harness.call("POST", f"{WH}/instances/life/rewind?reason=retry").status == 202
    assert harness.call("POST", f"{WH}/instances/life/explode").status == 404


def test_restart(harness: Harness):
    missing = harness.call("POST", f"{WH}/instances/nobody/restart")
    assert missing.status == 400
    assert missing.json()["Message"] == "InstanceId does not match a valid orchestration instance."
    _start(harness, "r1", '"Paris"')
    in_place_running = harness.call("POST", f"{WH}/instances/r1/restart?restartWithNewInstanceId=false")
    assert in_place_running.status == 500
    harness.run(harness.settle("r1", RuntimeStatus.Completed, output="1"))

    fresh = harness.call("POST", f"{WH}/instances/r1/restart")
    assert fresh.status == 202
    new_id = fresh.json()["id"]
    assert new_id != "r1" and fresh.headers["Location"].startswith(f"{harness.base_url}{WH}/instances/{new_id}?")
    restarted = harness.run(harness.client.get_status(new_id))
    assert restarted.name == "hello_orchestrator" and restarted.input == '"Paris"'

    same = harness.call("POST", f"{WH}/instances/r1/restart?restartWithNewInstanceId=False")
    assert same.status == 202 and same.json()["id"] == "r1"
    assert harness.run(harness.client.get_status("r1")).runtime_status is RuntimeStatus.Pending


# -- odds and ends ------------------------------------------------------------------------------


def test_unknown_routes(harness: Harness):
    assert harness.call("GET", f"{WH}/nothing-here").status == 404
    assert harness.call("PUT", f"{WH}/instances/x").status == 404
    assert harness.call("PUT", f"{WH}/entities/counter/k1").status == 404


def test_entity_signal_is_queued_and_unknown_entity_reads_404(harness: Harness):
    assert harness.call("POST", f"{WH}/entities/counter/k1?op=add", json=1).status == 202
    assert harness.call("POST", f"{WH}/entities/counter/k1").status == 400
    assert harness.call("DELETE", f"{WH}/entities/counter/k1").status == 202
    assert harness.call("GET", f"{WH}/entities/counter/k1").status == 404
    listing = harness.call("GET", f"{WH}/entities/counter")
    assert listing.status == 200 and listing.json() == []


def test_unexpected_error_is_json_500(harness: Harness, monkeypatch):
    async def broken(instance_id):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(harness.client, "get_status", broken)
    reply = harness.call("GET", f"{WH}/instances/x")
    assert reply.status == 500
    assert reply.json()["Message"].startswith("Something went wrong while processing your request. Request id: ")
    assert "disk on fire" not in reply.body.decode()  # details go to the log only


def test_oversize_body_is_json_413(loop, tmp_path, registry, monkeypatch):
    monkeypatch.setattr(responses, "MAX_BODY_BYTES", 1024)
    h = start_harness(loop, tmp_path, registry)
    try:
        reply = h.call("POST", f"{WH}/orchestrators/hello_orchestrator", data=b'"' + b"x" * 4096 + b'"')
        assert reply.status == 413 and "1024" in reply.json()["ExceptionMessage"]
        small = h.call("POST", f"{WH}/orchestrators/hello_orchestrator", json="x")
        assert small.status == 202
    finally:
        loop.run_until_complete(h.close())


def test_admin_endpoints(harness: Harness):
    status = harness.call("GET", "/admin/host/status")
    assert status.status == 200
    body = status.json()
    assert body["state"] == "Running" and len(body["id"]) == 32 and body["extensionBundle"] is None
    assert body["durableTask"]["hubName"] == "TestHubName"
    assert isinstance(body["processUptime"], int)
    assert harness.call("GET", "/").json() == {"status": "Running"}
