"""Payloads over the queue and table limits travel through ``{hub}-largemessages``.

A several-MB value goes in as the orchestration input, comes back as an activity result and
leaves as the output: each hop through a queue or a table row is a gzip blob named as DTFx
names it, read back transparently; a purge removes the instance's blobs.
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime, timedelta

from durable_ext.core import events as e
from durable_ext.core.messages import InstanceState, OrchestrationCommit, TaskMessage
from durable_ext.core.status import RuntimeStatus
from durable_ext.providers.azure_storage import envelope

LOCK = timedelta(seconds=30)


def big_json(megabytes: float) -> str:
    """A JSON string literal of about ``megabytes`` MB that gzip cannot shrink much."""
    return json.dumps(os.urandom(int(megabytes * 1024 * 1024 / 2)).hex())


async def blob_names(provider) -> list[str]:
    return sorted([b.name async for b in provider.storage.store.container.list_blobs()])


async def peek_one(provider, queue: str) -> dict:
    [message] = await provider.storage.queues.client(queue).peek_messages()
    return envelope.from_body(message.content)


def test_a_several_megabyte_payload_round_trips_as_input_result_and_output(hubs, run):
    provider = hubs.open()
    storage, names = provider.storage, provider.names
    t0 = datetime.now(UTC)
    big_in, big_out = big_json(3), big_json(2.5)
    execution_id = uuid.uuid4().hex
    started = e.ExecutionStarted(timestamp=t0, name="Orch", instance_id="big", execution_id=execution_id, input=big_in)

    # Input: the start message is a wrapper naming a blob; the Pending row points at that blob.
    run(provider.create_instance(TaskMessage("big", started, execution_id), now=t0))
    wrapper = run(peek_one(provider, names.control_queue_of("big")))
    assert wrapper["TaskMessage"] is None and wrapper["ActivityId"] == envelope.EMPTY_ACTIVITY_ID
    assert wrapper["CompressedBlobName"].startswith("big/message-")
    assert wrapper["CompressedBlobName"].endswith("-ExecutionStarted.json.gz")
    row = run(storage.instances.get_entity("big", ""))
    assert row["Input"].startswith("http") and row["Input"].endswith("-ExecutionStarted.json.gz")
    assert run(provider.get_instance("big")).input == big_in

    item = run(provider.lock_next_orchestration(now=t0, lock_timeout=LOCK, worker_id="w"))
    assert item.messages[0][1].event.input == big_in
    scheduled = e.TaskScheduled(event_id=0, timestamp=t0, name="Echo", input=big_in)
    state = InstanceState("big", "Orch", RuntimeStatus.Running, t0, t0, execution_id=execution_id, input=big_in)
    first = [e.OrchestratorStarted(timestamp=t0), started, scheduled, e.OrchestratorCompleted(timestamp=t0)]
    activity = TaskMessage("big", scheduled, execution_id)
    run(provider.complete_orchestration(item, OrchestrationCommit(state, first, activities=[activity]), now=t0))

    # History: oversized properties are "" plus a {Prop}BlobName column.
    rows = {r["RowKey"]: r for r in run(_rows(storage.history, "big"))}
    for key, kind in (("0000000000000001", "ExecutionStarted"), ("0000000000000002", "TaskScheduled")):
        assert rows[key]["Input"] == ""
        assert rows[key]["InputBlobName"].startswith(f"big/history-{key}-{kind}-")
        assert rows[key]["InputBlobName"].endswith("-Input.json.gz")
    row = run(storage.instances.get_entity("big", ""))
    assert row["Input"].endswith(rows["0000000000000001"]["InputBlobName"])  # the history blob, as DTFx
    assert run(provider.get_instance("big")).input == big_in

    # Result: the activity gets the big input and answers with a big result.
    wrapper = run(peek_one(provider, names.workitem_queue))
    assert wrapper["CompressedBlobName"].endswith("-TaskScheduled.json.gz")
    task = run(provider.lock_next_activity(now=t0, lock_timeout=LOCK, worker_id="w"))
    assert task.message.event.input == big_in
    done = e.TaskCompleted(timestamp=t0, task_scheduled_id=0, result=big_out)
    run(provider.complete_activity(task, TaskMessage("big", done, execution_id)))
    assert not any("-TaskScheduled.json.gz" in n for n in run(blob_names(provider)))  # consumed → deleted

    # Output.
    item = run(provider.lock_next_orchestration(now=t0, lock_timeout=LOCK, worker_id="w"))
    assert item.messages[0][1].event.result == big_out and item.history == first
    finished = e.ExecutionCompleted(timestamp=t0, status=RuntimeStatus.Completed, result=big_out)
    final = InstanceState(
        "big",
        "Orch",
        RuntimeStatus.Completed,
        t0,
        t0,
        execution_id=execution_id,
        input=big_in,
        output=big_out,
        completed_time=t0,
    )
    second = [e.OrchestratorStarted(timestamp=t0), done, finished, e.OrchestratorCompleted(timestamp=t0)]
    run(provider.complete_orchestration(item, OrchestrationCommit(final, second), now=t0))
    assert run(provider.get_instance("big")) == final
    assert run(provider.get_history("big")) == first + second
    row = run(storage.instances.get_entity("big", ""))
    assert row["Output"].startswith("http") and row["Output"].endswith("-Result.json.gz")

    assert run(provider.purge_instance("big")) == 1
    assert run(blob_names(provider)) == []


def test_values_just_over_the_table_limit_but_under_the_queue_limit(hubs, run):
    """A 31,000-character input fits a queue message (45 KiB) but not a table property (60 KiB UTF-16)."""
    provider = hubs.open()
    t0 = datetime.now(UTC)
    text = json.dumps("x" * 31_000)  # 31 KB of UTF-8 in the message, 62 KB of UTF-16 in a row
    execution_id = uuid.uuid4().hex
    started = e.ExecutionStarted(timestamp=t0, name="Orch", instance_id="mid", execution_id=execution_id, input=text)
    run(provider.create_instance(TaskMessage("mid", started, execution_id), now=t0))
    wrapper = run(peek_one(provider, provider.names.control_queue_of("mid")))
    assert wrapper["CompressedBlobName"] is None
    row = run(provider.storage.instances.get_entity("mid", ""))
    assert "/mid/instance-" in row["Input"]
    assert run(provider.get_instance("mid")).input == text


async def _rows(table, partition: str) -> list[dict]:
    return [dict(row) async for row in table.query_entities(f"PartitionKey eq '{partition}'")]
