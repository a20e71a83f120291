"""Control-queue screening on Azure Storage: out-of-order responses, duplicates, poison messages.

DTFx commits send → history → delete, so an activity result can reach the control queue before
the checkpoint that scheduled it; such a message waits (DTFx ``OrchestrationSession``). Redelivered starts and responses
already in history are deleted. Unreadable or repeatedly failing messages back off, are logged
with their instance id, and never hold up the other instances of their partition.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from durable_ext.core import events as e
from durable_ext.core.messages import InstanceState, OrchestrationCommit, TaskMessage
from durable_ext.core.status import RuntimeStatus
from durable_ext.providers.azure_storage import envelope
from tests.azurite import new_hub

LOCK = timedelta(seconds=30)


def lock(run, provider, at, timeout=LOCK):
    return run(provider.lock_next_orchestration(now=at, lock_timeout=timeout, worker_id="w"))


def begin(run, provider, instance_id: str, at: datetime, *tasks: e.HistoryEvent) -> str:
    """Create ``instance_id`` and commit its first episode (with ``tasks`` scheduled); returns the execution id."""
    execution_id = uuid.uuid4().hex
    started = e.ExecutionStarted(timestamp=at, name="Orch", instance_id=instance_id, execution_id=execution_id)
    run(provider.create_instance(TaskMessage(instance_id, started, execution_id), now=at))
    item = lock(run, provider, at)
    assert item.instance_id == instance_id
    state = InstanceState(instance_id, "Orch", RuntimeStatus.Running, at, at, execution_id=execution_id)
    history = [e.OrchestratorStarted(timestamp=at), started, *tasks, e.OrchestratorCompleted(timestamp=at)]
    activities = [TaskMessage(instance_id, t, execution_id) for t in tasks if isinstance(t, e.TaskScheduled)]
    run(provider.complete_orchestration(item, OrchestrationCommit(state, history, activities=activities), now=at))
    return execution_id


def send_as_worker(run, provider, message: TaskMessage, episode: int) -> None:
    """Send as an activity worker would: with the scheduling episode and a sender."""
    sent = run(provider.storage.queues.send(message, episode=episode, sender=(message.instance_id, "x")))
    provider.sessions.remember(sent)


def wait_for_item(run, provider, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        item = lock(run, provider, datetime.now(UTC))
        if item is not None:
            return item
        run(asyncio.sleep(0.1))
    return None


def queue_length(run, provider, queue: str) -> int:
    return run(provider.storage.queues.approximate_count(queue))


def test_a_response_that_overtakes_its_scheduling_checkpoint_waits_for_it(hubs, run):
    provider = hubs.open()
    t0 = datetime.now(UTC)
    execution_id = begin(run, provider, "ooo", t0)
    done = e.TaskCompleted(timestamp=t0, task_scheduled_id=5, result='"r"')
    send_as_worker(run, provider, TaskMessage("ooo", done, execution_id), episode=2)
    assert lock(run, provider, t0) is None  # TaskScheduled 5 has not landed yet

    run(provider.send_message(TaskMessage("ooo", e.EventRaised(timestamp=t0, name="go"))))
    item = wait_for_item(run, provider)
    assert [m.event.name for _, m in item.messages] == ["go"]
    scheduled = e.TaskScheduled(event_id=5, timestamp=t0, name="Hello")
    state = InstanceState("ooo", "Orch", RuntimeStatus.Running, t0, t0, execution_id=execution_id)
    episode = [
        e.OrchestratorStarted(timestamp=t0),
        item.messages[0][1].event,
        scheduled,
        e.OrchestratorCompleted(timestamp=t0),
    ]
    run(provider.complete_orchestration(item, OrchestrationCommit(state, episode), now=t0))

    item = wait_for_item(run, provider)
    assert [m.event for _, m in item.messages] == [done]


def test_redelivered_starts_and_responses_already_in_history_are_deleted(hubs, run):
    provider = hubs.open()
    t0 = datetime.now(UTC)
    scheduled = e.TaskScheduled(event_id=0, timestamp=t0, name="Hello")
    execution_id = begin(run, provider, "dup", t0, scheduled)
    started = run(provider.get_history("dup"))[1]
    run(provider.send_message(TaskMessage("dup", started, execution_id)))  # the start, once more
    assert lock(run, provider, t0) is None

    done = e.TaskCompleted(timestamp=t0, task_scheduled_id=0, result='"r"')
    for _ in range(2):  # an activity that ran twice (at least once)
        send_as_worker(run, provider, TaskMessage("dup", done, execution_id), episode=1)
    item = lock(run, provider, t0)
    assert [m.event for _, m in item.messages] == [done]
    state = InstanceState("dup", "Orch", RuntimeStatus.Running, t0, t0, execution_id=execution_id)
    episode = [e.OrchestratorStarted(timestamp=t0), done, e.OrchestratorCompleted(timestamp=t0)]
    run(provider.complete_orchestration(item, OrchestrationCommit(state, episode), now=t0))
    send_as_worker(run, provider, TaskMessage("dup", done, execution_id), episode=1)
    assert lock(run, provider, t0) is None
    assert queue_length(run, provider, provider.names.control_queue_of("dup")) == 0


def test_unreadable_messages_back_off_are_reported_and_do_not_block_their_partition(hubs, run, caplog):
    caplog.set_level(logging.INFO, logger="durable_ext.azure_storage")
    provider = hubs.open(partition_count=1, poison_threshold=2)
    queue = provider.names.control_queue(0)
    client = provider.storage.queues.client(queue)
    run(client.send_message("this is not a MessageData"))
    broken = envelope.encode(TaskMessage("victim", e.EventRaised(timestamp=datetime.now(UTC), name="x")))
    broken["TaskMessage"]["Event"]["EventType"] = 99
    run(client.send_message(envelope.to_body(envelope.dumps(broken), base64_encode=True)))

    t0 = datetime.now(UTC)
    begin(run, provider, "healthy", t0)  # the partition keeps working
    assert "Unreadable" in caplog.text and "'victim'" in caplog.text and "Poison" not in caplog.text

    deadline = time.monotonic() + 6  # first back-off: 2^1 s, then the next poll
    while "Poison message" not in caplog.text and time.monotonic() < deadline:
        assert lock(run, provider, datetime.now(UTC)) is None
        run(asyncio.sleep(0.1))
    assert "Poison message" in caplog.text and "'victim'" in caplog.text
    assert queue_length(run, provider, queue) == 2  # kept (hidden), never deleted


def test_a_work_item_that_keeps_failing_backs_off_and_is_reported(hubs, run, caplog):
    caplog.set_level(logging.INFO, logger="durable_ext.azure_storage")
    provider = hubs.open(partition_count=1, poison_threshold=2)
    t0 = datetime.now(UTC)
    short = timedelta(seconds=1)
    for instance_id in ("flaky", "fine"):
        started = e.ExecutionStarted(timestamp=t0, name="Orch", instance_id=instance_id, execution_id="x" + instance_id)
        run(provider.create_instance(TaskMessage(instance_id, started, started.execution_id), now=t0))
    assert lock(run, provider, t0, short).instance_id == "flaky"  # ... and its worker crashes
    assert lock(run, provider, t0 + 2 * short, short).instance_id == "flaky"  # first retry: at once
    assert "Poison message detected: instance 'flaky'" in caplog.text
    assert lock(run, provider, t0 + 4 * short, short).instance_id == "fine"  # flaky backs off 2 s
    assert lock(run, provider, t0 + 4 * short, short) is None
    # The back-off runs on the caller's clock: advancing it is enough, no waiting.
    assert lock(run, provider, t0 + 6 * short, short).instance_id == "flaky"


def test_a_worker_dying_between_history_and_row_does_not_leave_an_ended_instance_running(hubs, run, caplog):
    """DurableTask issue #1252: the final episode's history lands, the worker dies before the
    Instances row; its messages come back as duplicates of history, and the next worker must
    still bring the row to Completed."""
    hub = new_hub()
    crashed = hubs.open(hub, worker_id="crashed", control_visibility=timedelta(seconds=2))
    t0 = datetime.now(UTC)
    scheduled = e.TaskScheduled(event_id=0, timestamp=t0, name="Hello")
    execution_id = begin(run, crashed, "ended", t0, scheduled)
    done = e.TaskCompleted(timestamp=t0, task_scheduled_id=0, result='"r"')
    send_as_worker(run, crashed, TaskMessage("ended", done, execution_id), episode=1)
    item = wait_for_item(run, crashed)
    assert [m.event for _, m in item.messages] == [done]

    async def dies_here(*args, **kwargs):
        raise SystemExit("killed between the history append and the row write")

    crashed.storage.write_instance = dies_here
    t1 = datetime.now(UTC)
    final = InstanceState(
        "ended", "Orch", RuntimeStatus.Completed, t0, t1, execution_id=execution_id, output='"r"', completed_time=t1
    )
    finished = e.ExecutionCompleted(timestamp=t1, status=RuntimeStatus.Completed, result='"r"')
    episode = [e.OrchestratorStarted(timestamp=t1), done, finished, e.OrchestratorCompleted(timestamp=t1)]
    with pytest.raises(SystemExit):
        run(crashed.complete_orchestration(item, OrchestrationCommit(final, episode), now=t1))
    run(crashed.sessions.stop(release=True))  # the partitions go to the next worker; the message stays
    assert run(crashed.get_instance("ended")).runtime_status is RuntimeStatus.Running

    survivor = hubs.open(hub, worker_id="survivor")
    caplog.set_level(logging.WARNING, logger="durable_ext.azure_storage")
    deadline = time.monotonic() + 15  # the dead worker's dequeue hides the message until its visibility lapses
    while run(survivor.get_instance("ended")).runtime_status is not RuntimeStatus.Completed:
        assert time.monotonic() < deadline, "the row was not repaired"
        assert lock(run, survivor, datetime.now(UTC)) is None  # a duplicate: no episode to run
        run(asyncio.sleep(0.2))
    state = run(survivor.get_instance("ended"))
    assert state.output == '"r"' and state.completed_time == t1 and state.execution_id == execution_id
    assert "the row was repaired" in caplog.text and "'ended'" in caplog.text
    assert queue_length(run, survivor, survivor.names.control_queue_of("ended")) == 0
