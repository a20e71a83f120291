"""Task hub addressing on Azure Storage (Azurite): webhooks and the client binding reach another
hub's tables and queues in the same account, with that hub's own partition count."""

from datetime import UTC, datetime, timedelta

import azure.durable_functions as df
import pytest
from azure.durable_functions.models.OrchestrationRuntimeStatus import OrchestrationRuntimeStatus as SdkStatus

from durable_ext.core.messages import InstanceQuery
from durable_ext.core.status import RuntimeStatus
from durable_ext.functions.registry import FunctionInfo, FunctionKind
from durable_ext.web import client_binding_json
from durable_ext.web.state import STATE
from tests.azurite import azure_provider, new_hub
from tests.web.harness import Harness, start_harness

WH = "/runtime/webhooks/durabletask"


@pytest.fixture
def azure_harness(loop, tmp_path, registry, azurite):
    h = start_harness(loop, tmp_path, registry, azure_connection=azurite.connection_string)
    yield h
    for provider in h.closers:
        loop.run_until_complete(provider.close())
    loop.run_until_complete(h.close())


def _other_hub(h: Harness, connection: str, partitions: int):
    """Another app's hub, created by that app with its own partition count."""
    provider = azure_provider(connection, new_hub("Other"), partition_count=partitions)
    h.closers.append(provider)
    h.run(provider.create_hub())
    return provider


def _ids(reply) -> list[str]:
    assert reply.status == 200, reply.body
    return sorted(item["instanceId"] for item in reply.json())


def test_webhooks_reach_another_hub_in_the_account(azure_harness: Harness, azurite):
    h = azure_harness
    other = _other_hub(h, azurite.connection_string, partitions=2)  # the app's own hub has 4
    hub = other.hub
    started = h.call("POST", f"{WH}/orchestrators/remote_orch/a1?taskHub={hub}", json=[1, 2])
    assert started.status == 202, started.body
    assert started.json()["statusQueryGetUri"].endswith(f"/instances/a1?taskHub={hub}&connection=Storage")
    assert h.call("POST", f"{WH}/orchestrators/remote_orch").status == 400  # own hub: checked

    # The other hub's worker gets the start from its own control queues (2 partitions, not 4).
    item = h.run(
        other.lock_next_orchestration(now=datetime.now(UTC), lock_timeout=timedelta(seconds=30), worker_id="w")
    )
    assert item is not None and item.instance_id == "a1"
    h.run(other.abandon_orchestration(item))
    assert h.run(other.get_instance("a1")).runtime_status is RuntimeStatus.Pending
    assert h.run(h.provider.get_instance("a1")) is None

    h.run(h.client.start_new("hello_orchestrator", "own1"))
    assert _ids(h.call("GET", f"{WH}/instances")) == ["own1"]
    assert _ids(h.call("GET", f"{WH}/instances?taskHub={hub}")) == ["a1"]
    # Another connection setting naming the same account reaches the same hub.
    assert _ids(h.call("GET", f"{WH}/instances?taskHub={hub}&connection=MyStorage")) == ["a1"]
    assert h.call("GET", f"{WH}/instances/a1?taskHub={hub.lower()}").json()["input"] == [1, 2]
    assert h.call("POST", f"{WH}/instances/a1/terminate?reason=x&taskHub={hub}").status == 202
    bad = h.call("GET", f"{WH}/instances?taskHub={hub}&connection=Elsewhere")
    assert bad.status == 400 and "'Elsewhere'" in bad.json()["Message"]


def test_sdk_client_of_a_binding_naming_another_hub(azure_harness: Harness, azurite):
    h = azure_harness
    other = _other_hub(h, azurite.connection_string, partitions=4)
    info = FunctionInfo(
        "starter",
        FunctionKind.HTTP,
        "starter",
        lambda: None,
        "req",
        client_binding_name="client",
        client_task_hub=other.hub,
        client_connection_name="MyStorage",
    )
    binding = client_binding_json(h.base_url, h.config, info, h.server.app[STATE].hubs.binding_address(info))
    client = df.DurableOrchestrationClient(binding, "0f8fad5b-d9cb-469f-a165-70867728950e")

    async def scenario():
        instance_id = await client.start_new("not_here", client_input={"n": 1})
        status = await client.get_status(instance_id)
        await client.raise_event(instance_id, "Approve", True)
        listed = await client.get_status_by(runtime_status=[SdkStatus.Pending])
        return instance_id, status, listed

    instance_id, status, listed = h.run(scenario())
    assert status.name == "not_here" and status.runtime_status is SdkStatus.Pending
    assert [s.instance_id for s in listed] == [instance_id]
    assert h.run(other.get_instance(instance_id)).name == "not_here"
    assert h.run(h.provider.query_instances(InstanceQuery())).instances == []
