"""The Azure Storage hub looks as DurableTask.AzureStorage lays it out (DTFx ``src/DurableTask.AzureStorage``).

Runs a small orchestration through the provider API and then reads storage directly: resource
names, History rows and the sentinel, the Instances row, and the MessageData queue envelope.
"""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from durable_ext.config import StorageConfig
from durable_ext.core import events as e
from durable_ext.core.messages import InstanceQuery, InstanceState, OrchestrationCommit, TaskMessage
from durable_ext.core.status import RuntimeStatus
from durable_ext.errors import LockLostError
from durable_ext.providers.azure_storage import envelope
from durable_ext.providers.azure_storage.names import (
    HubNames,
    escape_key,
    fnv1a32,
    partition_of,
    row_key,
    unescape_key,
)
from durable_ext.providers.azure_storage.settings import (
    parse_duration,
    resolve_connection_string,
    settings_from_config,
)
from tests.azurite import new_hub

LOCK = timedelta(seconds=30)


def start(instance_id: str, at: datetime, input_text: str = '"in"') -> TaskMessage:
    execution_id = uuid.uuid4().hex
    event = e.ExecutionStarted(
        timestamp=at, name="Orch", instance_id=instance_id, execution_id=execution_id, input=input_text
    )
    return TaskMessage(instance_id, event, execution_id)


async def rows(table, instance_id: str) -> list[dict]:
    return [
        dict(r) | {"_etag": r.metadata["etag"]}
        async for r in table.query_entities(f"PartitionKey eq '{escape_key(instance_id)}'")
    ]


async def peek(provider, queue: str) -> list[dict]:
    return [
        envelope.from_body(m.content) | {"_raw": m.content} async for m in _peek(provider.storage.queues.client(queue))
    ]


async def _peek(client):
    for message in await client.peek_messages(max_messages=32):
        yield message


# -- pure rules --------------------------------------------------------------------------------------


def test_fnv1a_vectors_and_partitions_from_the_doc():
    assert fnv1a32("") == 0x811C9DC5 and partition_of("", 4) == 1
    assert fnv1a32("a") == 0xE40C292C and partition_of("a", 4) == 0
    assert fnv1a32("abc") == 0x1A47E90B and partition_of("abc", 4) == 3 and partition_of("abc", 16) == 11
    assert fnv1a32("foobar") == 0xBF9CF968
    assert fnv1a32("@counter@myKey") == 0x69DFC660 and partition_of("@counter@myKey", 4) == 0
    assert fnv1a32("f71ac761454f41468d9923ac39e9bdbc") == 0x6198F775
    assert partition_of("f71ac761454f41468d9923ac39e9bdbc", 16) == 5


def test_key_sanitation_round_trips():
    assert escape_key("a/b\\c#d?e^f") == "a^0b^1c^2d^3e^^f"
    assert escape_key("x\x01y\x7f") == "x^\u00c1y^\u013f"
    for raw in ("plain", "a/b\\c#d?e^f", "tab\there", "^^", "x\x9f", "@ent@k/1"):
        assert unescape_key(escape_key(raw)) == raw
    assert row_key(0) == "0000000000000000" and row_key(10) == "000000000000000A"


def test_names_of_every_resource():
    names = HubNames("MyHub", 4)
    assert (names.instances_table, names.history_table) == ("MyHubInstances", "MyHubHistory")
    assert names.control_queues == [f"myhub-control-0{i}" for i in range(4)]
    assert (names.workitem_queue, names.leases_container, names.large_messages_container) == (
        "myhub-workitems",
        "myhub-leases",
        "myhub-largemessages",
    )
    assert names.lease_blob(2) == "default/myhub-control-02"
    for bad in ("1hub", "ab", "has-dash", "x" * 46):
        with pytest.raises(ValueError):
            HubNames(bad, 4)
    with pytest.raises(ValueError):
        HubNames("Hub", 17)


def test_settings_from_host_json_and_environment():
    storage = StorageConfig(
        kind="azure_storage",
        sqlite_path=None,
        connection_name="AzureWebJobsStorage",
        connection_string="UseDevelopmentStorage=true",
        partition_count=2,
        options={
            "type": "AzureStorage",
            "LeaseInterval": "00:00:05",
            "leaseRenewSeconds": 1,
            "queueClientMessageEncoding": "UTF8",
            "controlQueueVisibilityTimeout": "00:01:00",
        },
    )
    settings = settings_from_config(storage, environ={"DURABLE_EXT_AZURE_LEASE_ACQUIRE_INTERVAL": "0.5"})
    assert "127.0.0.1:10001/devstoreaccount1" in settings.connection_string
    assert settings.partition_count == 2 and not settings.base64_messages
    assert (settings.lease_interval, settings.lease_renew_interval, settings.lease_acquire_interval) == (
        timedelta(seconds=5),
        timedelta(seconds=1),
        timedelta(seconds=0.5),
    )
    assert settings.control_visibility == timedelta(minutes=1)
    assert parse_duration("1.02:03:04.5") == timedelta(days=1, hours=2, minutes=3, seconds=4.5)
    assert resolve_connection_string("AccountName=x;AccountKey=y") == "AccountName=x;AccountKey=y"


# -- the hub in storage ----------------------------------------------------------------------------------


def test_create_hub_makes_every_resource_with_the_exact_names(hubs, run):
    hub = new_hub("Layout")
    provider = hubs.open(hub)
    run(provider.create_hub())  # idempotent
    storage = provider.storage

    async def inventory():
        tables = {t.name async for t in storage.table_service.list_tables()}
        queues = {q.name async for q in storage.queue_service.list_queues(name_starts_with=hub.lower())}
        containers = {c.name async for c in storage.blob_service.list_containers(name_starts_with=hub.lower())}
        leases = [b.name async for b in storage.leases_container.list_blobs()]
        return tables, queues, containers, leases

    tables, queues, containers, leases = run(inventory())
    assert {f"{hub}Instances", f"{hub}History"} <= tables
    assert queues == {f"{hub.lower()}-control-0{i}" for i in range(4)} | {f"{hub.lower()}-workitems"}
    assert containers == {f"{hub.lower()}-leases", f"{hub.lower()}-largemessages"}
    assert sorted(leases) == [f"default/{hub.lower()}-control-0{i}" for i in range(4)] + ["taskhub.json"]


def test_an_orchestration_leaves_dtfx_shaped_rows_and_messages(hubs, run):
    provider = hubs.open(new_hub("Rows"))
    storage, names = provider.storage, provider.names
    t0 = datetime.now(UTC)
    begin = start("abc", t0)
    run(provider.create_instance(begin, now=t0))

    # The start is in control queue fnv1a("abc") % 4 = 3, Base64, MessageData with $type first.
    [sent] = run(peek(provider, names.control_queue(3)))
    assert not sent["_raw"].startswith("{") and json.loads(base64.b64decode(sent["_raw"]))["$type"]
    assert list(sent)[:3] == ["$type", "ActivityId", "TaskMessage"]
    assert sent["$type"] == "DurableTask.AzureStorage.MessageData"
    task = sent["TaskMessage"]
    assert next(iter(task)) == "$type" and task["$type"] == "DurableTask.Core.TaskMessage"
    assert task["Event"]["$type"] == "DurableTask.Core.History.ExecutionStartedEvent"
    assert task["Event"]["EventType"] == 0 and task["Event"]["Input"] == '"in"'
    assert task["OrchestrationInstance"] == {
        "$type": "DurableTask.Core.OrchestrationInstance",
        "InstanceId": "abc",
        "ExecutionId": begin.execution_id,
    }
    assert sent["Sender"] == {"InstanceId": "", "ExecutionId": ""} and "Episode" not in sent
    assert sent["CompressedBlobName"] is None and isinstance(sent["SequenceNumber"], int)

    item = run(provider.lock_next_orchestration(now=t0, lock_timeout=LOCK, worker_id="w"))
    scheduled = e.TaskScheduled(event_id=0, timestamp=t0, name="Hello", input='"x"')
    running = InstanceState("abc", "Orch", RuntimeStatus.Running, t0, t0, execution_id=begin.execution_id, input='"in"')
    first = [e.OrchestratorStarted(timestamp=t0), begin.event, scheduled, e.OrchestratorCompleted(timestamp=t0)]
    activity = TaskMessage("abc", scheduled, begin.execution_id)
    run(provider.complete_orchestration(item, OrchestrationCommit(running, first, activities=[activity]), now=t0))

    [work] = run(peek(provider, names.workitem_queue))
    assert work["TaskMessage"]["Event"]["$type"] == "DurableTask.Core.History.TaskScheduledEvent"
    assert work["TaskMessage"]["Event"]["EventType"] == 4 and work["Episode"] == 1
    assert work["Sender"] == {"InstanceId": "abc", "ExecutionId": begin.execution_id}

    history = run(rows(storage.history, "abc"))
    assert [r["RowKey"] for r in history] == [row_key(i) for i in range(4)] + ["sentinel"]
    assert [r["EventType"] for r in history[:4]] == [
        "OrchestratorStarted",
        "ExecutionStarted",
        "TaskScheduled",
        "OrchestratorCompleted",
    ]
    for row in history[:4]:
        assert row["ExecutionId"] == begin.execution_id and row["IsPlayed"] is False
        assert isinstance(row["_Timestamp"], datetime) and type(row["EventId"]) is int
        assert "Timestamp" not in row  # reserved: the event time is _Timestamp
    started_row = history[1]
    assert json.loads(started_row["OrchestrationInstance"]) == {"InstanceId": "abc", "ExecutionId": begin.execution_id}
    assert started_row["ParentInstance"] == "null" and started_row["Name"] == "Orch" and started_row["Generation"] == 0
    assert (history[2]["EventId"], history[2]["Name"], history[2]["Input"]) == (0, "Hello", '"x"')
    sentinel = history[4]
    assert sentinel["ExecutionId"] == begin.execution_id and sentinel["IsCheckpointComplete"] is True
    assert isinstance(sentinel["CheckpointCompletedTimestamp"], datetime)

    instance = dict(run(storage.instances.get_entity("abc", "")))
    assert instance["RuntimeStatus"] == "Running" and instance["Name"] == "Orch" and instance["Version"] == ""
    assert instance["ExecutionId"] == begin.execution_id and instance["TaskHubName"] == provider.hub
    assert instance["CustomStatus"] == "null" and instance["Tags"] == "null" and instance["Input"] == '"in"'
    assert type(instance["Generation"]) is int and isinstance(instance["CreatedTime"], datetime)
    assert "CompletedTime" not in instance and "Output" not in instance

    # Activity done → response to the control queue → second episode, ETag-chained.
    task_item = run(provider.lock_next_activity(now=t0, lock_timeout=LOCK, worker_id="w"))
    done = e.TaskCompleted(timestamp=t0, task_scheduled_id=0, result='"r"')
    run(provider.complete_activity(task_item, TaskMessage("abc", done, begin.execution_id)))
    # The worker buffers what it sends (its poller may already have dequeued it): read that body.
    [sent_back] = [m for s in provider.sessions.inbox.sessions.values() for m in s.messages.values()]
    response = envelope.from_body(sent_back.body)
    assert (
        sent_back.queue == names.control_queue(3)
        and response["Episode"] == 1
        and response["TaskMessage"]["Event"]["EventType"] == 5
    )
    item = run(provider.lock_next_orchestration(now=t0, lock_timeout=LOCK, worker_id="w"))
    finished = e.ExecutionCompleted(timestamp=t0, status=RuntimeStatus.Completed, result='"r"')
    completed = InstanceState(
        "abc",
        "Orch",
        RuntimeStatus.Completed,
        t0,
        t0,
        execution_id=begin.execution_id,
        input='"in"',
        output='"r"',
        completed_time=t0,
    )
    second = [e.OrchestratorStarted(timestamp=t0), done, finished, e.OrchestratorCompleted(timestamp=t0)]
    run(provider.complete_orchestration(item, OrchestrationCommit(completed, second), now=t0))

    history = run(rows(storage.history, "abc"))
    assert [r["EventType"] for r in history[4:8]] == [
        "OrchestratorStarted",
        "TaskCompleted",
        "ExecutionCompleted",
        "OrchestratorCompleted",
    ]
    assert history[6]["OrchestrationStatus"] == "Completed" and history[6]["FailureDetails"] == "null"
    assert history[5]["TaskScheduledId"] == 0 and history[8]["_etag"] != sentinel["_etag"]
    instance = dict(run(storage.instances.get_entity("abc", "")))
    assert (instance["RuntimeStatus"], instance["Output"]) == ("Completed", '"r"')
    assert isinstance(instance["CompletedTime"], datetime)
    assert run(provider.get_history("abc")) == first + second
    assert all(not run(peek(provider, q)) for q in [*names.control_queues, names.workitem_queue])


def test_escaped_instance_ids_in_table_keys(hubs, run):
    provider = hubs.open()
    t0 = datetime.now(UTC)
    for instance_id in ("we/ird#id", "a?b\\c"):
        run(provider.create_instance(start(instance_id, t0), now=t0))
        assert run(provider.get_instance(instance_id)).instance_id == instance_id
        row = run(provider.storage.instances.get_entity(escape_key(instance_id), ""))
        assert row["PartitionKey"] == escape_key(instance_id)
    listed = {s.instance_id for s in run(provider.query_instances(InstanceQuery())).instances}
    assert listed == {"we/ird#id", "a?b\\c"}


def test_utf8_bodies_are_written_on_request_and_both_forms_are_read(hubs, run):
    hub = new_hub("Enc")
    raw = hubs.open(hub, base64_messages=False)
    reader = hubs.open(hub)
    t0 = datetime.now(UTC)
    run(raw.send_message(TaskMessage("x", e.EventRaised(timestamp=t0, name="utf8"))))
    [body] = run(peek(raw, raw.names.control_queue_of("x")))
    assert body["_raw"].startswith('{"$type":"DurableTask.AzureStorage.MessageData"')
    run(reader.send_message(TaskMessage("x", e.EventRaised(timestamp=t0, name="b64"))))
    item = run(reader.lock_next_orchestration(now=t0, lock_timeout=LOCK, worker_id="w"))
    assert sorted(m.event.name for _, m in item.messages) == ["b64", "utf8"]


def test_a_commit_racing_another_writer_is_rejected_by_the_sentinel_etag(hubs, run):
    provider = hubs.open()
    t0 = datetime.now(UTC)
    begin = start("race", t0)
    run(provider.create_instance(begin, now=t0))
    item = run(provider.lock_next_orchestration(now=t0, lock_timeout=LOCK, worker_id="w"))
    first = [e.OrchestratorStarted(timestamp=t0), begin.event, e.OrchestratorCompleted(timestamp=t0)]
    state = InstanceState("race", "Orch", RuntimeStatus.Running, t0, t0, execution_id=begin.execution_id)
    run(provider.complete_orchestration(item, OrchestrationCommit(state, first), now=t0))
    run(provider.send_message(TaskMessage("race", e.EventRaised(timestamp=t0, name="go"))))
    item = run(provider.lock_next_orchestration(now=t0, lock_timeout=LOCK, worker_id="w"))

    # Another worker checkpoints this instance in between (it moved the sentinel's ETag).
    sentinel = {"PartitionKey": "race", "RowKey": "sentinel", "ExecutionId": begin.execution_id}
    run(provider.storage.history.upsert_entity(sentinel))
    second = [
        e.OrchestratorStarted(timestamp=t0),
        e.EventRaised(timestamp=t0, name="go"),
        e.OrchestratorCompleted(timestamp=t0),
    ]
    with pytest.raises(LockLostError):
        run(provider.complete_orchestration(item, OrchestrationCommit(state, second), now=t0))
    assert run(provider.get_history("race")) == first


def test_storage_calls_are_retried_within_seconds_not_after_the_sdk_default_of_fifteen():
    """A worker's dequeue loop and lease renewals wait behind a retried call: the storage SDKs'
    default first retry comes after 15-21 s, longer than a lease interval."""
    from azure.storage.queue import ExponentialRetry

    from durable_ext.providers.azure_storage.clients import _RETRY

    policy = ExponentialRetry(**_RETRY)
    assert policy.total_retries == 5
    assert max(policy.get_backoff_time({"count": 1}) for _ in range(50)) <= 2.1
    assert max(policy.get_backoff_time({"count": 5}) for _ in range(50)) <= 11.0
    assert min(ExponentialRetry().get_backoff_time({"count": 1}) for _ in range(50)) >= 15  # the default


def test_the_http_transport_reads_proxy_settings_only_when_a_proxy_is_configured():
    from durable_ext.providers.azure_storage.clients import proxy_configured

    assert not proxy_configured({})
    assert not proxy_configured({"HTTPS_PROXY": ""})
    assert proxy_configured({"HTTPS_PROXY": "http://127.0.0.1:3128"})
    assert proxy_configured({"all_proxy": "socks5://127.0.0.1:1080"})
