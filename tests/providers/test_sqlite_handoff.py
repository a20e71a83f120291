"""The SQLite hub's hand-off (providers.base.HandsOffWork): follow-up work locked in the commit that
creates it is locked exactly as a fetch would lock it — nobody else gets it, it comes back when
its lock expires, and nothing is handed over that a fetch could not have taken; an activity result
committed together with the episode it woke only when the instance is exactly as that episode
assumed, else nothing at all is written."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from durable_ext.core import events as e
from durable_ext.core.messages import OrchestrationCommit, OrchestrationWorkItem, TaskMessage
from durable_ext.core.status import RuntimeStatus
from durable_ext.errors import HandOffDeclined, InstanceExistsError, LockLostError
from durable_ext.providers.base import HandsOffWork, Lease
from durable_ext.providers.sqlite import SqliteProvider
from durable_ext.testing.clock import VirtualClock
from tests.providers.test_contract import LOCK, episode, lock, scheduled, start_message, start_running, state_after

T0 = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
LATER = T0 + LOCK + timedelta(seconds=1)


@pytest.fixture
def provider(tmp_path: Path, run):
    opened = SqliteProvider(tmp_path / "hub.sqlite", "hubA", clock=VirtualClock(T0))
    run(opened.create_hub())
    yield opened
    run(opened.close())


def first_episode(run, provider: SqliteProvider, instance_id: str, activities: int, lease: Lease):
    """Create ``instance_id`` and commit its first episode, scheduling ``activities``, with ``lease``."""
    run(provider.create_instance(start_message(instance_id, T0), now=T0))
    item = lock(run, provider, T0, worker=lease.worker_id)  # the instance is then this worker's (affinity)
    state = state_after(item, T0, RuntimeStatus.Running)
    tasks = [scheduled(i, T0) for i in range(activities)]
    commit = OrchestrationCommit(
        state=state,
        new_history=episode(T0, item.messages[0][1].event, *tasks),
        activities=[TaskMessage(instance_id, t, state.execution_id) for t in tasks],
    )
    return run(provider.complete_orchestration_leasing(item, commit, now=T0, lease=lease))


def fetch_tasks(run, provider, at, worker="other"):
    return run(provider.lock_next_activities(now=at, lock_timeout=LOCK, worker_id=worker, limit=10))


def completed(instance_id: str, task_id: int) -> TaskMessage:
    return TaskMessage(instance_id, e.TaskCompleted(timestamp=T0, task_scheduled_id=task_id, result='"ok"'))


def test_the_sqlite_hub_hands_off_work(provider):
    assert isinstance(provider, HandsOffWork)


def test_an_episode_leases_up_to_the_limit_of_its_activities_and_queues_the_rest(provider, run):
    leased = first_episode(run, provider, "a", 3, Lease("me", LOCK, 2))
    assert [t.message.event.event_id for t in leased] == [0, 1]
    assert len({t.lock_token for t in leased}) == 1 and all(t.dequeue_count == 1 for t in leased)
    # Only the third is in the queue; the leased two come back once their lease expires (as does
    # the third's, taken by the fetch).
    assert [t.message.event.event_id for t in fetch_tasks(run, provider, T0)] == [2]
    assert [t.message.event.event_id for t in fetch_tasks(run, provider, LATER)] == [0, 1, 2]


def test_a_leased_task_completes_like_a_fetched_one_and_a_stale_lease_cannot(provider, run):
    leased = first_episode(run, provider, "a", 1, Lease("me", LOCK, 5))
    [again] = fetch_tasks(run, provider, LATER)  # the lease expired: another worker took it
    with pytest.raises(LockLostError):
        run(provider.complete_activity(leased[0], completed("a", 0)))
    run(provider.complete_activity(again, completed("a", 0)))
    assert lock(run, provider, LATER).messages[0][1].event.task_scheduled_id == 0


def test_an_activity_result_locks_its_idle_instance_with_all_its_messages(provider, run):
    [task] = first_episode(run, provider, "a", 1, Lease("me", LOCK, 1))
    run(provider.send_message(TaskMessage("a", e.EventRaised(timestamp=T0, name="go", input="1"))))
    item = run(provider.complete_activity_locking(task, completed("a", 0), now=T0, lease=Lease("me", LOCK, 1)))
    assert item is not None and item.instance_id == "a" and item.state.runtime_status is RuntimeStatus.Running
    assert [type(m.event) for _, m in item.messages] == [e.EventRaised, e.TaskCompleted]
    assert [type(ev) for ev in item.history][:2] == [e.OrchestratorStarted, e.ExecutionStarted]
    assert lock(run, provider, T0) is None  # locked for us: no fetch gets it
    assert lock(run, provider, LATER) is not None  # until the lock expires


def test_a_result_for_a_locked_instance_is_only_queued(provider, run):
    [task] = first_episode(run, provider, "a", 1, Lease("me", LOCK, 1))
    run(provider.send_message(TaskMessage("a", e.EventRaised(timestamp=T0, name="go", input="1"))))
    busy = lock(run, provider, T0, worker="me")
    assert run(provider.complete_activity_locking(task, completed("a", 0), now=T0, lease=Lease("me", LOCK, 1))) is None
    run(provider.abandon_orchestration(busy))
    assert [type(m.event) for _, m in lock(run, provider, T0).messages] == [e.EventRaised, e.TaskCompleted]


def test_a_result_for_a_suspended_instance_waits_for_the_resume(provider, run):
    start_running(run, provider, "a", T0, activities=1)
    [task] = fetch_tasks(run, provider, T0)
    run(provider.send_message(TaskMessage("a", e.ExecutionSuspended(timestamp=T0, reason="wait"))))
    item = lock(run, provider, T0)
    commit = OrchestrationCommit(
        state=state_after(item, T0, RuntimeStatus.Suspended),
        new_history=episode(T0, item.messages[0][1].event),
    )
    run(provider.complete_orchestration(item, commit, now=T0))
    assert run(provider.complete_activity_locking(task, completed("a", 0), now=T0, lease=Lease("me", LOCK, 1))) is None
    assert lock(run, provider, T0) is None  # as a fetch: the result waits for ExecutionResumed


def test_a_lost_activity_lease_hands_over_nothing_and_sends_nothing(provider, run):
    [task] = first_episode(run, provider, "a", 1, Lease("me", LOCK, 1))
    fetch_tasks(run, provider, LATER)
    with pytest.raises(LockLostError):
        run(provider.complete_activity_locking(task, completed("a", 0), now=LATER, lease=Lease("me", LOCK, 1)))
    assert lock(run, provider, LATER) is None


def test_while_a_fan_out_runs_its_results_are_queued_and_the_last_one_hands_over(provider, run):
    # An episode per result would replay the fan-in once per result: the fetch takes them in batches.
    tasks = first_episode(run, provider, "a", 3, Lease("me", LOCK, 3))
    lease = Lease("me", LOCK, 1)
    handed = [
        run(provider.complete_activity_locking(t, completed("a", t.message.event.event_id), now=T0, lease=lease))
        for t in tasks
    ]
    assert handed[:2] == [None, None]
    assert [m.event.task_scheduled_id for _, m in handed[2].messages] == [0, 1, 2]


# -- an activity result and the episode it wakes, committed at once ----------------------------


def continued(run, provider, task, *, state=None, history=None, lease=None, now=T0):
    """Commit ``task``'s result with an episode that consumed it and schedules activity 1."""
    instance = run(provider.get_instance("a"))
    state = state or instance
    history = history if history is not None else run(provider.get_history("a"))
    response = completed("a", task.message.event.event_id)
    item = OrchestrationWorkItem("a", "", state, history, [("", response)])
    nxt = scheduled(1, now)
    commit = OrchestrationCommit(
        state=replace(state, last_updated_time=now + timedelta(seconds=1)),
        new_history=episode(now, response.event, nxt),
        activities=[TaskMessage("a", nxt, state.execution_id)],
    )
    return run(provider.complete_activity_with_episode(task, response, item, commit, now=now, lease=lease))


def test_a_result_and_the_episode_it_woke_commit_together_and_nothing_is_queued(provider, run):
    [task] = first_episode(run, provider, "a", 1, Lease("me", LOCK, 1))
    before = run(provider.get_history("a"))
    [leased] = continued(run, provider, task, lease=Lease("me", LOCK, 1))
    assert leased.message.event.event_id == 1 and fetch_tasks(run, provider, T0) == []
    history = run(provider.get_history("a"))
    assert history[: len(before)] == before
    assert [type(ev) for ev in history[len(before) :]] == [
        e.OrchestratorStarted, e.TaskCompleted, e.TaskScheduled, e.OrchestratorCompleted
    ]  # fmt: skip
    assert lock(run, provider, T0) is None  # no message was queued, no lock left behind
    with pytest.raises(LockLostError):  # the result's task is gone
        run(provider.complete_activity(task, completed("a", 0)))


@pytest.mark.parametrize("interference", ["event", "locked", "committed", "other task", "suspended"])
def test_an_instance_that_changed_is_not_continued_and_nothing_is_written(provider, run, interference):
    tasks = first_episode(run, provider, "a", 2 if interference == "other task" else 1, Lease("me", LOCK, 2))
    task = tasks[0]
    state, history = run(provider.get_instance("a")), run(provider.get_history("a"))
    if interference == "event":
        run(provider.send_message(TaskMessage("a", e.EventRaised(timestamp=T0, name="go", input="1"))))
    elif interference in ("locked", "committed", "suspended"):
        run(provider.send_message(TaskMessage("a", e.EventRaised(timestamp=T0, name="go", input="1"))))
        other = lock(run, provider, T0, worker="me")  # another episode of it, since ours
        if interference != "locked":
            status = RuntimeStatus.Suspended if interference == "suspended" else RuntimeStatus.Running
            changed = replace(state, runtime_status=status, last_updated_time=T0 + timedelta(seconds=5))
            ep = episode(T0, other.messages[0][1].event)
            run(provider.complete_orchestration(other, OrchestrationCommit(state=changed, new_history=ep), now=T0))
    with pytest.raises(HandOffDeclined):
        continued(run, provider, task, state=state, history=history)
    assert run(provider.get_history("a"))[: len(history)] == history
    run(provider.complete_activity(task, completed("a", 0)))  # the task is still ours: nothing was written


def test_a_lost_task_lease_continues_nothing(provider, run):
    [task] = first_episode(run, provider, "a", 1, Lease("me", LOCK, 1))
    history = run(provider.get_history("a"))
    fetch_tasks(run, provider, LATER)
    with pytest.raises(LockLostError):
        continued(run, provider, task, now=LATER)
    assert run(provider.get_history("a")) == history


# -- an instance created already locked for this process ----------------------------------------


def test_a_new_instance_is_created_locked_for_the_process_that_starts_it(provider, run):
    start = start_message("b", T0)
    item = run(provider.create_instance_locking(start, now=T0, lease=Lease("me", LOCK, 1)))
    assert item.instance_id == "b" and item.state.runtime_status is RuntimeStatus.Pending and item.history == []
    assert [m.event for _, m in item.messages] == [start.event]
    assert lock(run, provider, T0) is None  # locked for us: no fetch gets it
    assert lock(run, provider, LATER).instance_id == "b"  # until the lock expires


def test_a_start_with_a_running_instances_id_writes_nothing(provider, run):
    start_running(run, provider, "b", T0)
    history = run(provider.get_history("b"))
    with pytest.raises(InstanceExistsError):
        run(provider.create_instance_locking(start_message("b", T0), now=T0, lease=Lease("me", LOCK, 1)))
    assert run(provider.get_history("b")) == history
    assert lock(run, provider, T0) is None


# -- an instance created together with its first episode ----------------------------------------


def first_commit(item: OrchestrationWorkItem, activities: int = 1) -> OrchestrationCommit:
    state = state_after(item, T0, RuntimeStatus.Running)
    tasks = [scheduled(i, T0) for i in range(activities)]
    return OrchestrationCommit(
        state=state,
        new_history=episode(T0, item.messages[0][1].event, *tasks),
        activities=[TaskMessage(item.instance_id, t, state.execution_id) for t in tasks],
    )


def test_the_first_episode_is_decided_on_what_a_locking_create_would_hand_over(provider, run):
    start = start_message("c", T0)
    before = provider.first_episode_item(start, now=T0)
    created = run(provider.create_instance_locking(start, now=T0, lease=Lease("me", LOCK, 1)))
    assert before.state == created.state and before.history == created.history == []
    assert [m for _, m in before.messages] == [m for _, m in created.messages]


def test_an_instance_is_created_with_its_first_episode_in_one_commit(provider, run):
    start = start_message("c", T0)
    item = provider.first_episode_item(start, now=T0)
    commit = first_commit(item, activities=2)
    leased = run(
        provider.create_instance_with_episode(start, item, commit, now=T0, worker_id="me", lease=Lease("me", LOCK, 1))
    )
    assert run(provider.get_instance("c")) == commit.state  # never seen Pending
    assert run(provider.get_history("c")) == commit.new_history
    assert [t.message.event.event_id for t in leased] == [0]  # leased as any checkpoint leases
    assert [t.message.event.event_id for t in fetch_tasks(run, provider, T0)] == [1]
    assert lock(run, provider, LATER) is None  # the start message was consumed, never queued
    # Afterwards the instance is this worker's, as after any of its commits (affinity).
    run(provider.send_message(TaskMessage("c", e.EventRaised(timestamp=T0, name="go", input="1"))))
    assert lock(run, provider, T0, worker="other") is None
    assert lock(run, provider, T0, worker="me").instance_id == "c"


def test_a_first_episode_for_a_running_instances_id_writes_nothing(provider, run):
    start_running(run, provider, "c", T0)
    history, state = run(provider.get_history("c")), run(provider.get_instance("c"))
    start = start_message("c", T0)
    item = provider.first_episode_item(start, now=T0)
    with pytest.raises(InstanceExistsError):
        run(provider.create_instance_with_episode(start, item, first_commit(item), now=T0, worker_id="me", lease=None))
    assert run(provider.get_history("c")) == history and run(provider.get_instance("c")) == state
    assert fetch_tasks(run, provider, T0) == []


def test_a_first_episode_replaces_a_finished_instance_of_that_id(provider, run):
    start_running(run, provider, "c", T0)
    run(provider.send_message(TaskMessage("c", e.ExecutionTerminated(timestamp=T0, input='"stop"'))))
    item = lock(run, provider, T0)
    done = state_after(item, T0, RuntimeStatus.Terminated)
    run(provider.complete_orchestration(item, OrchestrationCommit(state=done, new_history=episode(T0)), now=T0))
    start = start_message("c", T0)
    fresh = provider.first_episode_item(start, now=T0)
    commit = first_commit(fresh, activities=0)
    run(provider.create_instance_with_episode(start, fresh, commit, now=T0, worker_id="me", lease=None))
    assert run(provider.get_instance("c")) == commit.state
    assert run(provider.get_history("c")) == commit.new_history


def test_messages_sent_to_the_id_before_it_existed_stay_queued_for_the_next_episode(provider, run):
    run(provider.send_message(TaskMessage("c", e.EventRaised(timestamp=T0, name="early", input="1"))))
    start = start_message("c", T0)
    item = provider.first_episode_item(start, now=T0)
    run(provider.create_instance_with_episode(start, item, first_commit(item), now=T0, worker_id="me", lease=None))
    nxt = lock(run, provider, T0, worker="me")
    assert [m.event.name for _, m in nxt.messages] == ["early"]
