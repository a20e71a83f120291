"""The SQLite hub's instance affinity: the worker that committed an instance last keeps it.

Several host processes share one hub file (``FUNCTIONS_WORKER_PROCESS_COUNT``); each keeps the
sessions of the instances it runs in memory. A message to an instance another live worker committed
last waits ``AFFINITY_GRACE_US`` for that worker before anyone else may take it, and the owner's
commit of an episode notices a message that arrived while it held the lock (its own fetch skipped
it). Nothing here changes what any worker may eventually take: the owner dead or slow, the message
goes to whoever asks after the grace.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from durable_ext.core import events as e
from durable_ext.core.messages import OrchestrationCommit, TaskMessage
from durable_ext.core.status import RuntimeStatus
from durable_ext.providers.base import Lease, WorkSignal
from durable_ext.providers.sqlite import SqliteProvider
from durable_ext.providers.sqlite_schema import AFFINITY_GRACE_US
from durable_ext.testing.clock import VirtualClock
from tests.providers.test_contract import LOCK, episode, lock, scheduled, start_message, state_after

T0 = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
GRACE = timedelta(microseconds=AFFINITY_GRACE_US)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(T0)


@pytest.fixture
def provider(tmp_path: Path, run, clock):
    opened = SqliteProvider(tmp_path / "hub.sqlite", "hubA", clock=clock)
    run(opened.create_hub())
    yield opened
    run(opened.close())


def run_first_episode(run, provider: SqliteProvider, instance_id: str, worker: str, *, activities: int = 1):
    """Create ``instance_id``; ``worker`` locks it and commits its first episode (Running)."""
    run(provider.create_instance(start_message(instance_id, T0), now=T0))
    item = lock(run, provider, T0, worker=worker)
    state = state_after(item, T0, RuntimeStatus.Running)
    tasks = [scheduled(i, T0) for i in range(activities)]
    commit = OrchestrationCommit(
        state, episode(T0, item.messages[0][1].event, *tasks), [], [TaskMessage(instance_id, t) for t in tasks]
    )
    run(provider.complete_orchestration(item, commit, now=T0))
    return item, state


def raised(instance_id: str) -> TaskMessage:
    return TaskMessage(instance_id, e.EventRaised(timestamp=T0, name="go", input='"x"'))


def test_a_message_waits_for_the_worker_that_committed_its_instance(provider, run, clock):
    run_first_episode(run, provider, "a", "owner")
    run(provider.send_message(raised("a")))
    assert lock(run, provider, T0, worker="other") is None
    assert lock(run, provider, T0 + GRACE / 2, worker="other") is None
    mine = lock(run, provider, T0, worker="owner")
    assert mine is not None and [m.event.name for _, m in mine.messages] == ["go"]


def test_after_the_grace_any_worker_takes_it_and_becomes_the_owner(provider, run, clock):
    run_first_episode(run, provider, "a", "owner")
    run(provider.send_message(raised("a")))
    later = T0 + GRACE + timedelta(milliseconds=1)
    taken = lock(run, provider, later, worker="other")
    assert taken is not None and taken.instance_id == "a"
    run(provider.complete_orchestration(taken, OrchestrationCommit(None, [], []), now=later))
    # The new owner's commit made it the owner: the next message waits for it, not the first one.
    clock.advance_to(later)
    run(provider.send_message(raised("a")))
    assert lock(run, provider, later, worker="owner") is None
    assert lock(run, provider, later, worker="other") is not None


def test_an_instance_nobody_committed_goes_to_any_worker_at_once(provider, run):
    run(provider.create_instance(start_message("fresh", T0), now=T0))
    assert lock(run, provider, T0, worker="anyone") is not None


def test_a_dead_owner_releases_its_instances_at_once(provider, run):
    run_first_episode(run, provider, "a", "owner")
    run(provider.send_message(raised("a")))
    # An affinity is not a lock held: releasing the dead owner counts nothing ...
    assert run(provider.release_abandoned_locks(lambda worker: worker == "owner")) == 0
    # ... but frees the instance for everyone at once.
    assert lock(run, provider, T0, worker="other") is not None


def test_a_finished_instance_keeps_no_affinity_row(provider, run):
    run_first_episode(run, provider, "a", "owner", activities=0)
    run(provider.send_message(raised("a")))
    item = lock(run, provider, T0, worker="owner")
    done = state_after(item, T0, RuntimeStatus.Completed)
    run(
        provider.complete_orchestration(item, OrchestrationCommit(done, episode(T0, item.messages[0][1].event)), now=T0)
    )
    rows = run(provider._run(lambda conn: conn.execute("SELECT count(*) FROM locks").fetchone()[0]))
    assert rows == 0


def test_an_activity_result_of_another_owners_instance_is_queued_not_locked(provider, run):
    run_first_episode(run, provider, "a", "owner")
    [task] = run(provider.lock_next_activities(now=T0, lock_timeout=LOCK, worker_id="other", limit=5))
    result = TaskMessage("a", e.TaskCompleted(timestamp=T0, task_scheduled_id=0, result='"ok"'))
    locked = run(provider.complete_activity_locking(task, result, now=T0, lease=Lease("other", LOCK, 1)))
    assert locked is None  # queued for its owner, which holds the session
    item = lock(run, provider, T0, worker="owner")
    assert item is not None and [m.event for _, m in item.messages] == [result.event]


def test_a_commit_wakes_its_loop_for_a_message_that_arrived_during_the_episode(provider, run):
    run(provider.create_instance(start_message("a", T0), now=T0))
    item = lock(run, provider, T0, worker="owner")
    run(provider.send_message(raised("a")))  # while "owner" holds the lock: a fetch now skips "a"
    loop = provider.work_signal.event(WorkSignal.ORCHESTRATIONS)
    loop.clear()
    state = state_after(item, T0, RuntimeStatus.Running)
    run(
        provider.complete_orchestration(
            item, OrchestrationCommit(state, episode(T0, item.messages[0][1].event)), now=T0
        )
    )
    assert loop.is_set()
    again = lock(run, provider, T0, worker="owner")
    assert again is not None and [m.event.name for _, m in again.messages] == ["go"]


def test_a_commit_with_nothing_waiting_leaves_its_loop_asleep(provider, run):
    run(provider.create_instance(start_message("a", T0), now=T0))
    item = lock(run, provider, T0, worker="owner")
    loop = provider.work_signal.event(WorkSignal.ORCHESTRATIONS)
    loop.clear()
    state = state_after(item, T0, RuntimeStatus.Running)
    run(
        provider.complete_orchestration(
            item, OrchestrationCommit(state, episode(T0, item.messages[0][1].event)), now=T0
        )
    )
    assert not loop.is_set()
