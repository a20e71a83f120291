"""Task hub addressing on SQLite: ``taskHub``/``connection`` on every webhook and the client
binding's ``task_hub``/``connection_name`` reach the named hub, never silently the app's own."""

import json
from dataclasses import replace
from datetime import datetime
from types import MappingProxyType

import azure.durable_functions as df
import pytest
from azure.durable_functions.models.OrchestrationRuntimeStatus import OrchestrationRuntimeStatus as SdkStatus

from durable_ext.config import load_config
from durable_ext.core.status import RuntimeStatus
from durable_ext.functions.registry import FunctionInfo, FunctionKind
from durable_ext.hubs import HubAddressError, HubResolver
from durable_ext.providers.sqlite import SqliteProvider
from durable_ext.web import client_binding_json
from durable_ext.web.state import STATE
from tests.web.harness import Harness

WH = "/runtime/webhooks/durabletask"
OTHER = "taskHub=OtherHub"


def _other(h: Harness, hub: str = "OtherHub", path=None) -> SqliteProvider:
    provider = SqliteProvider(path or h.config.storage.sqlite_path, hub)
    h.closers.append(provider)
    return provider


def _ids(reply) -> list[str]:
    assert reply.status == 200, reply.body
    return sorted(item["instanceId"] for item in reply.json())


def _close(h: Harness) -> None:
    for provider in h.closers:
        h.run(provider.close())


def test_webhooks_reach_the_named_hub_in_the_same_file(harness: Harness):
    try:
        # Not an orchestrator of this app: only a client of the app's own hub checks that.
        started = harness.call("POST", f"{WH}/orchestrators/remote_orch/r1?{OTHER}", json={"x": 1})
        assert started.status == 202, started.body
        links = started.json()
        assert links["statusQueryGetUri"] == f"{harness.base_url}{WH}/instances/r1?taskHub=OtherHub&connection=Storage"
        own_start = harness.call("POST", f"{WH}/orchestrators/remote_orch")
        assert own_start.status == 400 and "remote_orch" in own_start.json()["ExceptionMessage"]

        other = _other(harness)
        state = harness.run(other.get_instance("r1"))
        assert state is not None and state.name == "remote_orch" and state.runtime_status is RuntimeStatus.Pending
        assert harness.run(harness.provider.get_instance("r1")) is None

        harness.run(harness.client.start_new("hello_orchestrator", "mine"))
        assert _ids(harness.call("GET", f"{WH}/instances")) == ["mine"]
        assert _ids(harness.call("GET", f"{WH}/instances?{OTHER}")) == ["r1"]
        assert _ids(harness.call("GET", f"{WH}/instances?taskHub=otherhub")) == ["r1"]  # hub names ignore case
        assert _ids(harness.call("GET", f"{WH}/instances?taskHub=testhubname")) == ["mine"]

        status = harness.call("GET", links["statusQueryGetUri"])
        assert status.status == 202 and status.json()["name"] == "remote_orch"
        assert harness.call("GET", f"{WH}/instances/r1").status == 404  # not in the app's own hub

        assert harness.call("POST", f"{WH}/instances/r1/raiseEvent/Go?{OTHER}", json=1).status == 202
        assert harness.call("POST", f"{WH}/instances/r1/suspend?{OTHER}").status == 202
        assert harness.call("POST", f"{WH}/instances/r1/resume?{OTHER}").status == 202
        assert harness.call("POST", f"{WH}/instances/r1/terminate?reason=no&{OTHER}").status == 202
        assert harness.call("POST", f"{WH}/instances/r1/raiseEvent/Go").status == 404
        assert harness.call("POST", f"{WH}/entities/counter/k1?op=add&{OTHER}", json=5).status == 202
        assert harness.run(other.get_instance("@counter@k1")) is None  # signalled, not yet run
        assert harness.call("GET", f"{WH}/entities/counter/k1?{OTHER}").status == 404
        assert harness.call("DELETE", f"{WH}/instances/r1?{OTHER}").json() == {"instancesDeleted": 1}
        assert harness.run(other.get_instance("r1")) is None
        assert harness.run(harness.provider.get_instance("mine")) is not None
    finally:
        _close(harness)


def test_connection_parameter_selects_another_file(harness: Harness):
    try:
        # local.settings.json of the harness: MyStorage = other.sqlite (relative to the app directory)
        path = harness.config.app_dir / "other.sqlite"
        for query in ("taskHub=OtherHub&connection=MyStorage", "taskHub=OtherHub&connectionName=MyStorage"):
            instance_id = query.split("&")[1].split("=")[0]
            reply = harness.call("POST", f"{WH}/orchestrators/remote/{instance_id}?{query}")
            assert reply.status == 202, reply.body
            assert reply.json()["statusQueryGetUri"].endswith("taskHub=OtherHub&connection=MyStorage")
        assert path.exists()
        other = _other(harness, path=path)
        assert {s.instance_id for s in harness.run(other.query_instances(_query())).instances} == {
            "connection",
            "connectionName",
        }
        # The app's own hub in the other file is another hub: no orchestrator check, nothing shared.
        own_name = harness.call("POST", f"{WH}/orchestrators/remote/x?connection=MyStorage")
        assert own_name.status == 202
        assert harness.run(harness.provider.get_instance("x")) is None
        # "Storage" (what links carry) and the app's own setting name mean the app's own storage.
        for name in ("Storage", "AzureWebJobsStorage"):
            assert _ids(harness.call("GET", f"{WH}/instances?connection={name}")) == []
            assert harness.call("POST", f"{WH}/orchestrators/remote?connection={name}").status == 400
    finally:
        _close(harness)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "orchestrators/hello_orchestrator"),
        ("GET", "instances"),
        ("DELETE", "instances?createdTimeFrom=2000-01-01"),
        ("GET", "instances/abc"),
        ("DELETE", "instances/abc"),
        ("POST", "instances/abc/raiseEvent/E"),
        ("POST", "instances/abc/terminate"),
        ("POST", "instances/abc/suspend"),
        ("POST", "instances/abc/resume"),
        ("POST", "instances/abc/rewind"),
        ("POST", "instances/abc/restart"),
        ("GET", "entities/e/k"),
        ("POST", "entities/e/k?op=x"),
        ("GET", "entities"),
    ],
)
def test_bad_hub_or_connection_is_a_400_on_every_route(harness: Harness, method: str, path: str):
    join = "&" if "?" in path else "?"
    for query, named in (
        ("taskHub=no-dashes", "'no-dashes'"),
        ("taskHub=ab", "'ab'"),
        ("taskHub=1Hub", "'1Hub'"),
        ("taskHub=OtherHub&connection=Nowhere", "'Nowhere'"),
        ("connectionName=Nowhere", "'Nowhere'"),
    ):
        reply = harness.call(method, f"{WH}/{path}{join}{query}")
        assert reply.status == 400, (query, reply.status, reply.body)
        assert named in reply.json()["Message"], reply.json()
    # Nothing fell back to the app's own hub.
    assert harness.run(harness.provider.query_instances(_query())).instances == []


def test_rpc_base_of_another_hub_and_per_call_parameters(harness: Harness):
    try:
        base = f"{WH}/taskHubs/OtherHub"
        assert harness.call("POST", f"{base}/orchestrators/remote/p1").status == 202
        assert _ids(harness.call("GET", f"{base}/instances/")) == ["p1"]
        assert _ids(harness.call("GET", f"{base}/connections/Storage/instances")) == ["p1"]
        # A per-call taskHub wins over the RPC base's.
        assert _ids(harness.call("GET", f"{base}/instances?taskHub=TestHubName")) == []
        assert harness.call("GET", f"{WH}/taskHubs/x-y/instances").status == 400
        assert harness.call("GET", f"{base}").status == 404
    finally:
        _close(harness)


def _sdk(h: Harness, info: FunctionInfo) -> df.DurableOrchestrationClient:
    hubs = h.server.app[STATE].hubs
    binding = client_binding_json(h.base_url, h.config, info, hubs.binding_address(info))
    return df.DurableOrchestrationClient(binding, "0f8fad5b-d9cb-469f-a165-70867728950e")


def _info(**kwargs) -> FunctionInfo:
    return FunctionInfo(
        "starter", FunctionKind.HTTP, "starter", lambda: None, "req", client_binding_name="client", **kwargs
    )


def test_sdk_client_of_a_binding_naming_another_hub(harness: Harness):
    client = _sdk(harness, _info(client_task_hub="OtherHub"))
    other = _other(harness)

    async def scenario():
        instance_id = await client.start_new("not_in_this_app", "s1", {"n": 1})
        await client.start_new("not_in_this_app", "s2")
        status = await client.get_status(instance_id)
        listed = await client.get_status_all()
        by = await client.get_status_by(runtime_status=[SdkStatus.Pending])
        await client.raise_event("s1", "Approve", True)
        await client.suspend("s1", "wait")
        await client.resume("s1", "go")
        await client.terminate("s2", "stop")
        await client.signal_entity(df.EntityId("counter", "c"), "add", 2)
        entity = await client.read_entity_state(df.EntityId("counter", "c"))
        purged = await client.purge_instance_history("s2")
        return instance_id, status, listed, by, entity, purged

    try:
        instance_id, status, listed, by, entity, purged = harness.run(scenario())
        assert instance_id == "s1" and status.name == "not_in_this_app"
        assert status.runtime_status is SdkStatus.Pending
        assert sorted(s.instance_id for s in listed) == ["s1", "s2"]
        assert sorted(s.instance_id for s in by) == ["s1", "s2"]
        assert not entity.entity_exists and purged.instances_deleted == 1
        assert harness.run(other.get_instance("s1")).name == "not_in_this_app"
        assert harness.run(other.get_instance("s2")) is None
        assert harness.run(harness.provider.query_instances(_query())).instances == []
        # The links the binding hands out carry the hub, and work.
        links = client.create_http_management_payload("s1")
        assert links["statusQueryGetUri"].endswith("/instances/s1?taskHub=OtherHub&connection=Storage")
        assert harness.call("GET", links["statusQueryGetUri"]).json()["instanceId"] == "s1"
        assert (
            harness.run(client.purge_instance_history_by(created_time_from=datetime(2000, 1, 1))).instances_deleted == 1
        )
    finally:
        _close(harness)


def test_sdk_client_of_the_own_hub_still_checks_orchestrators(harness: Harness):
    for info in (_info(), _info(client_task_hub="TestHubName"), _info(client_connection_name="Storage")):
        client = _sdk(harness, info)
        with pytest.raises(Exception, match="The function 'nope' doesn't exist"):
            harness.run(client.start_new("nope"))
        assert json.loads(client_binding_json("http://h", harness.config, info))["taskHubName"] == "TestHubName"


def test_binding_hub_from_setting_and_bad_bindings(tmp_path):
    app = tmp_path / "app"
    app.mkdir()
    (app / "local.settings.json").write_text(json.dumps({"Values": {"TargetHub": "OtherHub", "Bad": "a_b"}}))
    config = load_config(app, environ={})
    hubs = HubResolver(config, own=None, environ={"FromEnv": "EnvHub"})  # type: ignore[arg-type]
    assert hubs.binding_address(_info(client_task_hub="%TargetHub%")).hub == "OtherHub"
    assert hubs.binding_address(_info(client_task_hub="%FromEnv%")).hub == "EnvHub"
    with pytest.raises(HubAddressError, match="app setting 'Missing'"):
        hubs.binding_address(_info(client_task_hub="%Missing%"))
    with pytest.raises(HubAddressError, match=r"'a_b' \(from app setting 'Bad'\) in the durable client binding"):
        hubs.binding_address(_info(client_task_hub="%Bad%"))
    with pytest.raises(HubAddressError, match=r"Unknown connection 'Nope' \(the durable client binding of function"):
        hubs.binding_address(_info(client_connection_name="Nope"))


def test_function_with_a_bad_binding_answers_500_naming_the_problem(harness: Harness):
    hubs = harness.server.app[STATE].hubs
    # As if local.settings.json did not set MyStorage, which the fixture app's "binding" function names.
    hubs.config = replace(harness.config, values=MappingProxyType({}))
    hubs._env = {}
    reply = harness.call("GET", "/api/binding")
    assert reply.status == 500
    assert "Unknown connection 'MyStorage'" in reply.json()["Message"]
    assert "function 'binding'" in reply.json()["Message"]


def _query():
    from durable_ext.core.messages import InstanceQuery

    return InstanceQuery(page_size=100, include_entities=True)


def test_sdk_rewind_and_restart_in_another_hub(harness: Harness):
    from durable_ext.core import events as e

    client = _sdk(harness, _info(client_task_hub="OtherHub"))
    other = _other(harness)
    as_other = replace(harness, provider=other)  # settle the instance as OtherHub's worker would
    try:
        harness.run(client.start_new("remote_orch", "rw", "Oslo"))
        harness.run(as_other.settle("rw", RuntimeStatus.Failed, output="boom"))
        harness.run(client.rewind("rw", "again"))
        rewound = [m for m in harness.run(as_other.pending_messages("rw")) if isinstance(m, e.ExecutionRewound)]
        assert [m.reason for m in rewound] == ["again"]
        harness.run(other.purge_instance("rw"))

        harness.run(client.start_new("remote_orch", "rs", "Rome"))
        harness.run(as_other.settle("rs", RuntimeStatus.Completed, output='"ok"'))
        restarted = harness.run(client.restart("rs"))
        assert restarted["statusQueryGetUri"].endswith("taskHub=OtherHub&connection=Storage")
        again = harness.run(other.get_instance(restarted["id"]))
        assert again is not None and again.name == "remote_orch" and again.runtime_status is RuntimeStatus.Pending
        assert harness.run(harness.provider.query_instances(_query())).instances == []
    finally:
        _close(harness)
