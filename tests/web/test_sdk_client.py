"""The official SDK client (``df.DurableOrchestrationClient``) against the RPC surface of the server."""

import json
from datetime import datetime

import azure.durable_functions as df
import azure.functions as func
import pytest
from azure.durable_functions.models.OrchestrationRuntimeStatus import OrchestrationRuntimeStatus as SdkStatus

from durable_ext.core import events as e
from durable_ext.core.status import RuntimeStatus
from durable_ext.functions.invoke import use_client_session
from durable_ext.web import client_binding_json
from durable_ext.web.local_rpc import LocalFirstSession, local_addresses
from tests.web.harness import Harness, start_harness


@pytest.fixture(params=["over HTTP", "in-process"])
def harness(request, loop, tmp_path, registry):
    """Every test twice: the SDK's calls over loopback HTTP, and answered in-process as ``durable-ext
    start`` answers the app's own client (web.local_rpc) — the same answers either way."""
    h = start_harness(loop, tmp_path, registry)
    session = None
    if request.param == "in-process":
        session = LocalFirstSession(h.server.app, local_addresses([("127.0.0.1", h.server.port)]))
        use_client_session(session)
    yield h
    if session is not None:
        assert session.local_calls > 0 and session.remote_calls == 0
    loop.run_until_complete(h.close())


def _sdk(h: Harness) -> df.DurableOrchestrationClient:
    return df.DurableOrchestrationClient(
        client_binding_json(h.base_url, h.config), "0f8fad5b-d9cb-469f-a165-70867728950e"
    )


def test_start_new_and_get_status(harness: Harness):
    async def scenario():
        client = _sdk(harness)
        instance_id = await client.start_new("hello_orchestrator", client_input={"a": 1})
        named = await client.start_new("Hello_Orchestrator", "named-1", "Tokyo")
        status = await client.get_status(instance_id)
        missing = await client.get_status("nobody")
        return instance_id, named, status, missing

    instance_id, named, status, missing = harness.run(scenario())
    assert len(instance_id) == 32 and named == "named-1"
    assert status.runtime_status is SdkStatus.Pending
    assert status.name == "hello_orchestrator" and status.instance_id == instance_id
    assert status.input_ == '{"a": 1}'  # the SDK's double encoding, shown as in real Azure
    assert isinstance(status.created_time, datetime)
    assert not missing
    # What reaches the orchestrator: ExecutionStarted.Input = json.dumps(df_dumps(input)).
    assert harness.run(harness.client.get_status(instance_id)).input == json.dumps('{"a": 1}')


def test_start_new_errors(harness: Harness):
    client = _sdk(harness)
    with pytest.raises(Exception, match="The function 'nope' doesn't exist"):
        harness.run(client.start_new("nope"))
    with pytest.raises(Exception, match="must not start with '@'"):
        harness.run(client.start_new("hello_orchestrator", "@bad"))
    harness.run(client.start_new("hello_orchestrator", "twice"))
    with pytest.raises(Exception, match="twice"):
        harness.run(client.start_new("hello_orchestrator", "twice"))


def test_get_status_with_history_and_failed(harness: Harness):
    client = _sdk(harness)
    harness.run(client.start_new("hello_orchestrator", "hist", "Tokyo"))
    now = harness.run(harness.client.get_status("hist")).created_time
    events = [
        e.TaskScheduled(event_id=0, timestamp=now, name="say_hello", input='"Tokyo"'),
        e.TaskFailed(timestamp=now, task_scheduled_id=0, reason="Activity function 'say_hello' failed: boom"),
    ]
    harness.run(
        harness.settle("hist", RuntimeStatus.Failed, output="Orchestrator function 'x' failed: boom", events=events)
    )
    status = harness.run(client.get_status("hist", show_history=True, show_history_output=True))
    assert status.runtime_status is SdkStatus.Failed
    assert status.output == "Orchestrator function 'x' failed: boom"
    assert status.history is None  # the SDK reads "history"; the API's key is historyEvents
    kinds = [h["EventType"] for h in status.historyEvents]
    assert kinds == ["ExecutionStarted", "TaskFailed", "ExecutionCompleted"]
    assert status.historyEvents[1]["FunctionName"] == "say_hello"


def test_get_status_all_and_by(harness: Harness):
    client = _sdk(harness)

    async def create():
        for i in range(3):
            await client.start_new("hello_orchestrator", f"all-{i}")

    harness.run(create())
    harness.run(harness.settle("all-0", RuntimeStatus.Completed, output='"done"'))
    everything = harness.run(client.get_status_all())
    assert sorted(s.instance_id for s in everything) == ["all-0", "all-1", "all-2"]
    pending = harness.run(
        client.get_status_by(
            created_time_from=datetime(2000, 1, 1), runtime_status=[SdkStatus.Pending, SdkStatus.Running]
        )
    )
    assert sorted(s.instance_id for s in pending) == ["all-1", "all-2"]
    completed = harness.run(client.get_status_by(runtime_status=[SdkStatus.Completed]))
    assert [(s.instance_id, s.output) for s in completed] == [("all-0", "done")]
    assert harness.run(client.get_status_by(created_time_to=datetime(2000, 1, 1))) == []


def test_raise_event_terminate_suspend_resume(harness: Harness):
    client = _sdk(harness)
    harness.run(client.start_new("hello_orchestrator", "ev"))
    harness.run(client.raise_event("ev", "Approve", {"ok": True}))
    harness.run(client.raise_event("ev", "Flag", True, task_hub_name="TestHubName", connection_name="Storage"))
    harness.run(client.suspend("ev", "pause please"))
    harness.run(client.resume("ev", "go on"))
    harness.run(client.terminate("ev", "stop & go"))
    messages = harness.run(harness.pending_messages("ev"))
    raised = [(m.name, m.input) for m in messages if isinstance(m, e.EventRaised)]
    assert raised == [("Approve", json.dumps('{"ok": true}')), ("Flag", '"true"')]
    assert [m.reason for m in messages if isinstance(m, e.ExecutionSuspended | e.ExecutionResumed)] == [
        "pause please",
        "go on",
    ]
    assert [m.input for m in messages if isinstance(m, e.ExecutionTerminated)] == ["stop & go"]

    with pytest.raises(Exception, match="No instance with ID nobody found"):
        harness.run(client.raise_event("nobody", "Approve", 1))
    with pytest.raises(Exception, match="nobody"):
        harness.run(client.terminate("nobody", "r"))

    harness.run(harness.settle("ev", RuntimeStatus.Terminated, output="stop & go"))
    with pytest.raises(Exception, match="is gone"):
        harness.run(client.raise_event("ev", "Approve", 1))
    harness.run(client.terminate("ev", "again"))  # 410 is fine for terminate
    harness.run(client.suspend("ev", "again"))
    harness.run(client.resume("ev", "again"))


def test_purge(harness: Harness):
    client = _sdk(harness)

    async def create():
        for i in range(4):
            await client.start_new("hello_orchestrator", f"p-{i}")

    harness.run(create())
    assert harness.run(client.purge_instance_history("p-0")).instances_deleted == 1
    assert harness.run(client.purge_instance_history("p-0")).instances_deleted == 0
    result = harness.run(client.purge_instance_history_by(created_time_from=datetime(2000, 1, 1)))
    assert result.instances_deleted == 3
    again = harness.run(
        client.purge_instance_history_by(created_time_from=datetime(2000, 1, 1), runtime_status=[SdkStatus.Pending])
    )
    assert again.instances_deleted == 0


def test_rewind_and_restart(harness: Harness):
    client = _sdk(harness)
    harness.run(client.start_new("hello_orchestrator", "rw", "Oslo"))
    with pytest.raises(Exception, match="only supported on failed"):
        harness.run(client.rewind("rw", "not failed"))
    harness.run(harness.settle("rw", RuntimeStatus.Failed, output="boom"))
    harness.run(client.rewind("rw", "try again"))
    rewound = [m for m in harness.run(harness.pending_messages("rw")) if isinstance(m, e.ExecutionRewound)]
    assert [m.reason for m in rewound] == ["try again"]
    with pytest.raises(Exception, match="No instance with ID nobody found"):
        harness.run(client.rewind("nobody", "x"))
    harness.run(harness.client.purge("rw"))  # its inbox would otherwise be locked first below

    harness.run(client.start_new("hello_orchestrator", "rs", "Rome"))
    harness.run(harness.settle("rs", RuntimeStatus.Completed, output='"ok"'))
    restarted = harness.run(client.restart("rs"))
    # SDK quirk: restart() returns the response body (the check-status payload) when there is one.
    assert isinstance(restarted, dict) and restarted["id"] != "rs"
    assert harness.run(harness.client.get_status(restarted["id"])).input == json.dumps(json.dumps("Rome"))
    in_place = harness.run(client.restart("rs", restart_with_new_instance_id=False))
    assert in_place["id"] == "rs"
    with pytest.raises(Exception, match="400"):
        harness.run(client.restart("nobody"))


def test_create_check_status_response_links_work(harness: Harness):
    client = _sdk(harness)
    instance_id = harness.run(client.start_new("hello_orchestrator"))
    request = func.HttpRequest("POST", f"{harness.base_url}/api/orchestrators/hello_orchestrator", body=b"")
    response = client.create_check_status_response(request, instance_id)
    assert response.status_code == 202
    links = json.loads(response.get_body())
    assert links["id"] == instance_id
    assert response.headers["Location"] == links["statusQueryGetUri"]
    assert links["statusQueryGetUri"].startswith(
        f"{harness.base_url}/runtime/webhooks/durabletask/instances/{instance_id}?"
    )
    assert harness.call("GET", links["statusQueryGetUri"]).status == 202
    send = links["sendEventPostUri"].replace("{eventName}", "Go")
    assert harness.call("POST", send, json=1).status == 202
    terminate = links["terminatePostUri"].replace("{text}", "bye")
    assert harness.call("POST", terminate).status == 202
    # Another origin in the request: links follow it (what a reverse proxy would need).
    other = func.HttpRequest("GET", "https://example.org:8443/api/x", body=b"")
    assert json.loads(client.create_check_status_response(other, instance_id).get_body())[
        "purgeHistoryDeleteUri"
    ].startswith("https://example.org:8443/runtime/webhooks/durabletask/instances/")
