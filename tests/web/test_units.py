"""Pure parts of the web layer: binding JSON, route templates, status payload and history transform."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import azure.durable_functions as df
import pytest

from durable_ext.config import load_config
from durable_ext.core import events as e
from durable_ext.core.messages import InstanceState
from durable_ext.core.status import RuntimeStatus
from durable_ext.functions.registry import FunctionInfo, FunctionKind
from durable_ext.web import client_binding_json
from durable_ext.web.routes import compile_route, sort_by_precedence
from durable_ext.web.status_payload import history_events, parse_token, status_payload

T0 = datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)


def _info(**kwargs) -> FunctionInfo:
    return FunctionInfo(
        function_name="starter",
        kind=FunctionKind.HTTP,
        durable_name="starter",
        user_function=lambda req: None,
        trigger_binding_name="req",
        **kwargs,
    )


def test_client_binding_json_shape(tmp_path: Path):
    config = load_config(tmp_path, environ={})
    text = client_binding_json("http://localhost:7071", config, _info(client_binding_name="client"))
    binding = json.loads(text)
    assert list(binding) == [
        "taskHubName",
        "connectionName",
        "creationUrls",
        "managementUrls",
        "baseUrl",
        "requiredQueryStringParameters",
        "rpcBaseUrl",
        "httpBaseUrl",
    ]
    assert binding["taskHubName"] == "TestHubName"
    assert binding["connectionName"] is None
    assert binding["rpcBaseUrl"] == "http://localhost:7071/runtime/webhooks/durabletask/"
    assert binding["baseUrl"] == "http://localhost:7071/runtime/webhooks/durabletask"
    assert binding["httpBaseUrl"] is None and binding["requiredQueryStringParameters"] == ""
    urls = binding["managementUrls"]
    assert urls["id"] == "INSTANCEID"
    assert urls["statusQueryGetUri"] == (
        "http://localhost:7071/runtime/webhooks/durabletask/instances/INSTANCEID?taskHub=TestHubName&connection=Storage"
    )
    assert urls["terminatePostUri"].endswith(
        "/instances/INSTANCEID/terminate?reason={text}&taskHub=TestHubName&connection=Storage"
    )
    assert urls["sendEventPostUri"].endswith(
        "/instances/INSTANCEID/raiseEvent/{eventName}?taskHub=TestHubName&connection=Storage"
    )
    assert set(urls) == {
        "id",
        "statusQueryGetUri",
        "sendEventPostUri",
        "terminatePostUri",
        "rewindPostUri",
        "purgeHistoryDeleteUri",
        "restartPostUri",
        "suspendPostUri",
        "resumePostUri",
    }
    assert binding["creationUrls"]["createNewInstancePostUri"] == (
        "http://localhost:7071/runtime/webhooks/durabletask/orchestrators/{functionName}[/{instanceId}]?"
    )
    # The SDK accepts it and builds its links from it.
    client = df.DurableOrchestrationClient(text)
    links = client.create_http_management_payload("abc")
    assert links["statusQueryGetUri"].startswith("http://localhost:7071/runtime/webhooks/durabletask/instances/abc?")


def test_client_binding_json_uses_binding_hub_and_connection(tmp_path: Path):
    config = load_config(tmp_path, environ={})
    info = _info(client_binding_name="client", client_task_hub="OtherHub", client_connection_name="MyStorage")
    binding = json.loads(client_binding_json("http://h:1/", config, info))
    assert binding["taskHubName"] == "OtherHub"
    assert binding["connectionName"] == "MyStorage"
    assert binding["managementUrls"]["purgeHistoryDeleteUri"].endswith("?taskHub=OtherHub&connection=MyStorage")
    assert binding["rpcBaseUrl"] == "http://h:1/runtime/webhooks/durabletask/taskHubs/OtherHub/connections/MyStorage/"
    creation = binding["creationUrls"]["createNewInstancePostUri"]
    assert creation.endswith("/orchestrators/{functionName}[/{instanceId}]?taskHub=OtherHub&connection=MyStorage&")


@pytest.mark.parametrize(
    ("template", "path", "expected"),
    [
        ("hello", "/api/hello", {}),
        ("hello", "/API/Hello/", {}),
        ("hello", "/api/hello/x", None),
        ("items/{id:int}", "/api/items/42", {"id": "42"}),
        ("items/{id:int}", "/api/items/-7", {"id": "-7"}),
        ("items/{id:int}", "/api/items/x", None),
        ("items/{id:int}/{x?}", "/api/items/4", {"id": "4"}),
        ("items/{id:int}/{x?}", "/api/items/4/a%20b", {"id": "4", "x": "a b"}),
        ("names/{name:alpha}", "/api/names/Bob", {"name": "Bob"}),
        ("names/{name:alpha}", "/api/names/B0b", None),
        (
            "ids/{id:guid}",
            "/api/ids/8f1c0e2a-1111-2222-3333-444455556666",
            {"id": "8f1c0e2a-1111-2222-3333-444455556666"},
        ),
        ("ids/{id:guid}", "/api/ids/8f1c0e2a111122223333444455556666", {"id": "8f1c0e2a111122223333444455556666"}),
        ("ids/{id:guid}", "/api/ids/not-a-guid", None),
        ("files/{*rest}", "/api/files/a/b/c.txt", {"rest": "a/b/c.txt"}),
        ("files/{*rest}", "/api/files", {}),
        ("page/{n:int:min(1)}", "/api/page/0", None),
        ("page/{n:int:range(1,5)}", "/api/page/5", {"n": "5"}),
        ("code/{c:length(3)}", "/api/code/abcd", None),
        ("code/{c:regex(^[a-z]+$)}", "/api/code/abc", {"c": "abc"}),
        ("greet/{who=world}", "/api/greet", {"who": "world"}),
        ("doc/{name}.{ext}", "/api/doc/report.final.pdf", {"name": "report.final", "ext": "pdf"}),
        ("orchestrators/{functionName}", "/api/orchestrators/Hello", {"functionName": "Hello"}),
    ],
)
def test_route_templates(template, path, expected):
    assert compile_route(template, "api").match(path) == expected


def test_route_without_prefix_and_precedence():
    assert compile_route("hello", "").match("/hello") == {}
    assert compile_route("hello", "").match("/api/hello") is None
    templates = [compile_route(t, "api") for t in ("items/{*rest}", "items/{id}", "items/{id:int}", "items/latest")]
    order = [templates[i].template for i in sort_by_precedence(templates)]
    assert order == ["items/latest", "items/{id:int}", "items/{id}", "items/{*rest}"]


def test_parse_token():
    assert parse_token(None) is None
    assert parse_token("  ") == ""
    assert parse_token('{"a": 1}') == {"a": 1}
    assert parse_token('"{\\"a\\": 1}"') == '{"a": 1}'
    assert parse_token("stopped by admin") == "stopped by admin"


def test_status_payload_shape():
    state = InstanceState(
        instance_id="i1",
        name="orch",
        runtime_status=RuntimeStatus.Terminated,
        created_time=T0,
        last_updated_time=T0 + timedelta(seconds=3, microseconds=500),
        input='"{\\"a\\": 1}"',
        output="stopped by admin",
        custom_status='{"step": 2}',
    )
    assert status_payload(state) == {
        "name": "orch",
        "instanceId": "i1",
        "runtimeStatus": "Terminated",
        "input": '{"a": 1}',
        "customStatus": {"step": 2},
        "output": "stopped by admin",
        "createdTime": "2024-05-01T10:00:00Z",
        "lastUpdatedTime": "2024-05-01T10:00:03Z",
    }
    assert status_payload(state, show_input=False, history=[])["input"] is None
    assert status_payload(state, history=[])["historyEvents"] == []


def _history() -> list[e.HistoryEvent]:
    t = [T0 + timedelta(seconds=i) for i in range(8)]
    return [
        e.OrchestratorStarted(timestamp=t[0]),
        e.ExecutionStarted(
            timestamp=t[0], name="orch", instance_id="i1", execution_id="x1", input='"Tokyo"', version="1.0"
        ),
        e.TaskScheduled(event_id=0, timestamp=t[0], name="say_hello", input='"Tokyo"'),
        e.TimerCreated(event_id=1, timestamp=t[0], fire_at=t[5]),
        e.OrchestratorCompleted(timestamp=t[0]),
        e.OrchestratorStarted(timestamp=t[1]),
        e.TaskCompleted(timestamp=t[1], task_scheduled_id=0, result='"Hello Tokyo!"'),
        e.SubOrchestrationInstanceCreated(event_id=2, timestamp=t[1], name="child", instance_id="c1", input='"x"'),
        e.TaskScheduled(event_id=3, timestamp=t[1], name="never_done", input="null"),
        e.OrchestratorCompleted(timestamp=t[1]),
        e.OrchestratorStarted(timestamp=t[2]),
        e.TimerFired(timestamp=t[2], timer_id=1, fire_at=t[5]),
        e.SubOrchestrationInstanceFailed(timestamp=t[2], task_scheduled_id=2, reason="boom", details="d"),
        e.EventRaised(timestamp=t[2], name="Approve", input="true"),
        e.ExecutionCompleted(timestamp=t[2], status=RuntimeStatus.Completed, result='["Hello Tokyo!"]'),
        e.OrchestratorCompleted(timestamp=t[2]),
    ]


def test_history_events_transform_with_input_and_output():
    rows = history_events(_history(), show_input=True, show_output=True)
    assert [r["EventType"] for r in rows] == [
        "ExecutionStarted",
        "TimerCreated",
        "TaskCompleted",
        "TaskScheduled",
        "TimerFired",
        "SubOrchestrationInstanceFailed",
        "EventRaised",
        "ExecutionCompleted",
    ]
    started, timer, completed, pending, fired, sub_failed, raised, done = rows
    assert started["FunctionName"] == "orch" and started["Input"] == '"Tokyo"'
    assert not {"Name", "OrchestrationInstance", "ParentInstance", "Version", "Tags", "EventId", "IsPlayed"} & set(
        started
    )
    assert completed == {
        "EventType": "TaskCompleted",
        "Timestamp": "2024-05-01T10:00:01.000000Z",
        "Result": "Hello Tokyo!",
        "ScheduledTime": "2024-05-01T10:00:00.000000Z",
        "FunctionName": "say_hello",
        "Input": '"Tokyo"',
    }
    assert pending == {
        "EventType": "TaskScheduled",
        "Timestamp": "2024-05-01T10:00:01.000000Z",
        "Name": "never_done",
        "Input": "null",
    }
    assert "TimerId" not in fired and fired["FireAt"] == "2024-05-01T10:00:05.000000Z"
    assert timer["FireAt"] == "2024-05-01T10:00:05.000000Z"
    assert sub_failed["FunctionName"] == "child" and sub_failed["Reason"] == "boom" and sub_failed["Input"] == '"x"'
    assert "TaskScheduledId" not in sub_failed and "Result" not in sub_failed
    assert raised == {
        "EventType": "EventRaised",
        "Timestamp": "2024-05-01T10:00:02.000000Z",
        "Name": "Approve",
        "Input": "true",
    }
    assert done["OrchestrationStatus"] == "Completed" and done["Result"] == ["Hello Tokyo!"]


def test_history_events_transform_without_input_and_output():
    rows = history_events(_history(), show_input=False, show_output=False)
    assert all("Input" not in r for r in rows)
    completed = next(r for r in rows if r["EventType"] == "TaskCompleted")
    assert "Result" not in completed and completed["FunctionName"] == "say_hello"
    done = rows[-1]
    assert done["EventType"] == "ExecutionCompleted" and "Result" not in done
