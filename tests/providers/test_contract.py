"""The Provider contract (providers/base.py), run against every provider kind in conftest.

Times: ``t0`` is the store's clock at the start of the test (see conftest: a virtual clock for
SQLite, the system clock for Azure Storage), so ``next_visible_time()`` (which compares with the
provider's clock) agrees with the ``now`` values the tests pass around.
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime, timedelta

import pytest

from durable_ext.core import events as e
from durable_ext.core.messages import (
    InstanceQuery,
    InstanceState,
    OrchestrationCommit,
    OrchestrationWorkItem,
    OutboundMessage,
    TaskMessage,
)
from durable_ext.core.status import RuntimeStatus
from durable_ext.errors import InstanceExistsError, InvalidContinuationTokenError, LockLostError
from durable_ext.providers.base import Provider

LOCK = timedelta(seconds=30)
S = timedelta(seconds=1)
#: A provider may keep an instance for the worker that committed it last (the one holding its session)
#: for a while before another worker gets its messages (SQLite: ``sqlite_schema.AFFINITY_GRACE_US``).
AFFINITY = timedelta(seconds=3)


@pytest.fixture
def t0(store) -> datetime:
    return store.clock.now().replace(microsecond=123456)


# -- builders --------------------------------------------------------------------------------------


def start_message(
    instance_id: str, at: datetime, *, name: str = "Orch", parent: e.ParentInstance | None = None
) -> TaskMessage:
    execution_id = uuid.uuid4().hex
    event = e.ExecutionStarted(
        timestamp=at, name=name, instance_id=instance_id, execution_id=execution_id, input='"in"', parent=parent
    )
    return TaskMessage(instance_id, event, execution_id)


def state_after(item: OrchestrationWorkItem, at: datetime, status: RuntimeStatus, **changes) -> InstanceState:
    """The instance row after an episode of ``item`` (started from its ExecutionStarted if new)."""
    if item.state is not None:
        base = item.state
    else:
        start = next(m.event for _, m in item.messages if isinstance(m.event, e.ExecutionStarted))
        base = InstanceState(
            instance_id=item.instance_id,
            name=start.name,
            runtime_status=RuntimeStatus.Pending,
            created_time=at,
            last_updated_time=at,
            execution_id=start.execution_id,
            input=start.input,
        )
    done = status.is_terminal
    return dataclasses.replace(
        base, runtime_status=status, last_updated_time=at, completed_time=at if done else None, **changes
    )


def episode(at: datetime, *middle: e.HistoryEvent) -> list[e.HistoryEvent]:
    return [e.OrchestratorStarted(timestamp=at), *middle, e.OrchestratorCompleted(timestamp=at)]


def scheduled(task_id: int, at: datetime, name: str = "Hello") -> e.TaskScheduled:
    return e.TaskScheduled(event_id=task_id, timestamp=at, name=name, input='"x"')


def lock(run, provider: Provider, at: datetime, worker: str = "w1", timeout: timedelta = LOCK, **kw):
    return run(provider.lock_next_orchestration(now=at, lock_timeout=timeout, worker_id=worker, **kw))


def lock_activity(run, provider: Provider, at: datetime, worker: str = "w1", timeout: timedelta = LOCK):
    return run(provider.lock_next_activity(now=at, lock_timeout=timeout, worker_id=worker))


def start_running(run, provider: Provider, instance_id: str, at: datetime, *, activities: int = 0) -> InstanceState:
    """Create ``instance_id`` and commit its first episode (Running, ``activities`` scheduled)."""
    run(provider.create_instance(start_message(instance_id, at), now=at))
    item = lock(run, provider, at)
    assert item is not None and item.instance_id == instance_id
    started = item.messages[0][1].event
    tasks = [scheduled(i, at) for i in range(activities)]
    state = state_after(item, at, RuntimeStatus.Running)
    commit = OrchestrationCommit(
        state=state,
        new_history=episode(at, started, *tasks),
        activities=[TaskMessage(instance_id, t, state.execution_id) for t in tasks],
    )
    run(provider.complete_orchestration(item, commit, now=at))
    return state


def events_of(item: OrchestrationWorkItem) -> list[e.HistoryEvent]:
    return [m.event for _, m in item.messages]


# -- create, lock, dedupe --------------------------------------------------------------------------


def test_nothing_to_lock_in_an_empty_hub(provider, run, t0):
    assert lock(run, provider, t0) is None
    assert lock_activity(run, provider, t0) is None
    assert run(provider.next_visible_time()) is None


def test_create_hub_is_idempotent(provider, run, t0):
    run(provider.create_instance(start_message("a", t0), now=t0))
    run(provider.create_hub())
    assert run(provider.get_instance("a")) is not None


def test_create_then_lock_returns_the_execution_started(provider, run, t0):
    start = start_message("inst1", t0)
    run(provider.create_instance(start, now=t0))

    state = run(provider.get_instance("inst1"))
    assert state.runtime_status is RuntimeStatus.Pending
    assert (state.name, state.input, state.execution_id) == ("Orch", '"in"', start.execution_id)
    assert state.created_time == t0 and state.created_time.tzinfo is not None

    item = lock(run, provider, t0)
    assert item.instance_id == "inst1"
    assert item.state == state
    assert item.history == []
    assert [m for _, m in item.messages] == [start]
    assert item.locked_until == t0 + LOCK
    assert lock(run, provider, t0, worker="w2") is None


def test_create_refuses_a_running_instance_unless_dedupe_is_off(provider, run, t0):
    start_running(run, provider, "run1", t0)
    with pytest.raises(InstanceExistsError):
        run(provider.create_instance(start_message("run1", t0), now=t0))
    run(provider.create_instance(start_message("dup", t0), now=t0))
    with pytest.raises(InstanceExistsError):
        run(provider.create_instance(start_message("dup", t0), now=t0))

    again = start_message("dup", t0 + S)
    run(provider.create_instance(again, now=t0 + S, dedupe=False))
    assert run(provider.get_instance("dup")).execution_id == again.execution_id
    item = lock(run, provider, t0 + S)
    assert [m for _, m in item.messages] == [again]


def test_recreating_a_completed_instance_purges_its_old_history(provider, run, t0):
    start_running(run, provider, "re", t0)
    assert lock(run, provider, t0) is None  # nothing left to do
    run(provider.send_message(TaskMessage("re", e.EventRaised(timestamp=t0, name="go"))))
    item = lock(run, provider, t0)
    done = e.ExecutionCompleted(timestamp=t0, status=RuntimeStatus.Completed, result='"ok"')
    state = state_after(item, t0, RuntimeStatus.Completed, output='"ok"')
    run(provider.complete_orchestration(item, OrchestrationCommit(state, episode(t0, done)), now=t0))
    assert len(run(provider.get_history("re"))) == 6

    again = start_message("re", t0 + S)
    run(provider.create_instance(again, now=t0 + S))
    state = run(provider.get_instance("re"))
    assert (state.runtime_status, state.execution_id, state.output) == (RuntimeStatus.Pending, again.execution_id, None)
    assert run(provider.get_history("re")) == []
    item = lock(run, provider, t0 + S)
    assert item.history == [] and [m for _, m in item.messages] == [again]


# -- inbox order and timers ------------------------------------------------------------------------


def test_messages_of_an_instance_are_delivered_in_send_order(provider, run, t0):
    start_running(run, provider, "fifo", t0)
    names = [f"ev{i}" for i in range(12)]
    for name in names:
        run(provider.send_message(TaskMessage("fifo", e.EventRaised(timestamp=t0, name=name, input=None))))
    item = lock(run, provider, t0)
    assert [ev.name for ev in events_of(item)] == names
    assert len({mid for mid, _ in item.messages}) == len(names)


def test_visible_at_delays_a_message_and_next_visible_time_reports_it(provider, run, t0):
    start_running(run, provider, "timer", t0)
    fire_at = t0 + timedelta(hours=1)
    fired = e.TimerFired(timestamp=t0, timer_id=0, fire_at=fire_at)
    run(provider.send_message(TaskMessage("timer", fired), visible_at=fire_at))

    assert lock(run, provider, t0) is None
    assert lock(run, provider, fire_at - timedelta(microseconds=1)) is None
    assert run(provider.next_visible_time()) == fire_at
    item = lock(run, provider, fire_at)
    assert events_of(item) == [fired]


def test_a_delayed_start_is_not_delivered_before_its_time(provider, run, t0):
    at = t0 + timedelta(minutes=5)
    run(provider.create_instance(start_message("later", t0), now=t0, visible_at=at))
    assert run(provider.get_instance("later")).runtime_status is RuntimeStatus.Pending
    assert lock(run, provider, t0) is None
    assert run(provider.next_visible_time()) == at
    assert lock(run, provider, at).instance_id == "later"


def test_instances_with_due_messages_are_all_reached(provider, run, t0):
    for i in range(5):
        run(provider.create_instance(start_message(f"i{i}", t0), now=t0))
    locked = [lock(run, provider, t0, worker=f"w{i}") for i in range(6)]
    assert sorted(item.instance_id for item in locked[:5]) == [f"i{i}" for i in range(5)]
    assert locked[5] is None


# -- orchestration locks ---------------------------------------------------------------------------


def test_a_lock_excludes_other_workers_until_it_expires(provider, run, t0):
    run(provider.create_instance(start_message("L", t0), now=t0))
    first = lock(run, provider, t0, worker="w1")
    assert lock(run, provider, t0 + LOCK - S, worker="w2") is None
    second = lock(run, provider, t0 + LOCK + S, worker="w2")
    assert second.instance_id == "L" and second.lock_token != first.lock_token
    assert [m for _, m in second.messages] == [m for _, m in first.messages]


def test_locks_of_a_dead_worker_can_be_released_at_once(provider, run, t0):
    """A restarted host takes back what a killed process held (providers with leases may skip it)."""
    start_running(run, provider, "dead", t0, activities=1)
    run(provider.create_instance(start_message("held", t0), now=t0))
    assert lock(run, provider, t0, worker="dead-worker") is not None
    assert lock_activity(run, provider, t0, worker="dead-worker") is not None
    released = run(provider.release_abandoned_locks(lambda owner: owner == "dead-worker"))
    if getattr(provider, "ownership_is_leased", False):
        assert released == 0  # ownership comes back when the dead worker's lease expires
        return
    assert released == 2
    assert lock(run, provider, t0, worker="w2").instance_id == "held"
    assert lock_activity(run, provider, t0, worker="w2") is not None


def test_abandon_releases_the_lock_and_keeps_the_messages(provider, run, t0):
    run(provider.create_instance(start_message("ab", t0), now=t0))
    first = lock(run, provider, t0)
    run(provider.abandon_orchestration(first))
    second = lock(run, provider, t0, worker="w2")
    assert second.messages == first.messages


def test_renew_extends_the_lock_and_fails_once_it_is_lost(provider, run, t0):
    run(provider.create_instance(start_message("rn", t0), now=t0))
    item = lock(run, provider, t0)
    run(provider.renew_orchestration_lock(item, now=t0 + 20 * S, lock_timeout=LOCK))
    assert item.locked_until == t0 + 50 * S
    assert lock(run, provider, t0 + 40 * S, worker="w2") is None
    assert lock(run, provider, t0 + 51 * S, worker="w2") is not None
    with pytest.raises(LockLostError):
        run(provider.renew_orchestration_lock(item, now=t0 + 52 * S, lock_timeout=LOCK))


def test_complete_appends_history_enqueues_activities_consumes_messages_and_unlocks(provider, run, t0):
    run(provider.create_instance(start_message("c", t0), now=t0))
    item = lock(run, provider, t0)
    started = events_of(item)[0]
    first = episode(t0, started, scheduled(0, t0), scheduled(1, t0))
    state = state_after(item, t0, RuntimeStatus.Running)
    tasks = [TaskMessage("c", ev, state.execution_id) for ev in first[2:4]]
    run(provider.complete_orchestration(item, OrchestrationCommit(state, first, activities=tasks), now=t0))

    assert run(provider.get_history("c")) == first
    assert run(provider.get_instance("c")) == state
    assert lock(run, provider, t0) is None  # start consumed, instance unlocked

    done = []
    for worker in ("a1", "a2"):
        task = lock_activity(run, provider, t0, worker=worker)
        result = e.TaskCompleted(timestamp=t0, task_scheduled_id=task.message.event.event_id, result='"r"')
        run(provider.complete_activity(task, TaskMessage("c", result, task.message.execution_id)))
        done.append(result)
    assert lock_activity(run, provider, t0) is None

    item = lock(run, provider, t0 + S)
    assert item.history == first and events_of(item) == done
    finished = e.ExecutionCompleted(timestamp=t0 + S, status=RuntimeStatus.Completed, result='"r"')
    second = episode(t0 + S, *done, finished)
    state = state_after(item, t0 + S, RuntimeStatus.Completed, output='"r"')
    run(provider.complete_orchestration(item, OrchestrationCommit(state, second), now=t0 + S))
    assert run(provider.get_history("c")) == first + second
    assert run(provider.get_instance("c")) == state


def test_activities_are_delivered_with_their_orchestration_and_task_id(provider, run, t0):
    state = start_running(run, provider, "acts", t0, activities=3)
    tasks = [lock_activity(run, provider, t0, worker=f"w{i}") for i in range(3)]
    assert [t.message.event.event_id for t in tasks] == [0, 1, 2]
    assert {(t.message.instance_id, t.message.execution_id) for t in tasks} == {("acts", state.execution_id)}
    assert all(t.dequeue_count == 1 and t.locked_until == t0 + LOCK for t in tasks)
    assert lock_activity(run, provider, t0) is None


def test_complete_sends_messages_and_a_sub_orchestration_start_creates_a_pending_instance(provider, run, t0):
    start_running(run, provider, "other", t0)
    run(provider.create_instance(start_message("parent", t0), now=t0))
    item = lock(run, provider, t0)
    state = state_after(item, t0, RuntimeStatus.Running)
    parent_ref = e.ParentInstance(
        name="Orch", instance_id="parent", execution_id=state.execution_id, task_scheduled_id=0
    )
    child = start_message("child", t0, name="Child", parent=parent_ref)
    raised = TaskMessage("other", e.EventRaised(timestamp=t0, name="hi", input='"x"'))
    created = e.SubOrchestrationInstanceCreated(event_id=0, timestamp=t0, name="Child", instance_id="child")
    commit = OrchestrationCommit(
        state,
        episode(t0, events_of(item)[0], created),
        messages=[OutboundMessage(child), OutboundMessage(raised)],
    )
    run(provider.complete_orchestration(item, commit, now=t0))

    pending = run(provider.get_instance("child"))
    assert pending.runtime_status is RuntimeStatus.Pending
    assert (pending.name, pending.parent_instance_id, pending.execution_id) == ("Child", "parent", child.execution_id)
    got = {}
    while (next_item := lock(run, provider, t0)) is not None:
        got[next_item.instance_id] = [m for _, m in next_item.messages]
    assert got == {"child": [child], "other": [raised]}


def test_a_start_to_an_existing_instance_does_not_overwrite_it(provider, run, t0):
    state = start_running(run, provider, "self", t0)
    run(provider.send_message(TaskMessage("self", e.EventRaised(timestamp=t0, name="x"))))
    item = lock(run, provider, t0)
    restart = start_message("self", t0)
    run(provider.complete_orchestration(item, OrchestrationCommit(None, [], [OutboundMessage(restart)]), now=t0))
    assert run(provider.get_instance("self")) == state


def test_messages_to_an_unknown_instance_lock_with_no_state(provider, run, t0):
    message = TaskMessage("ghost", e.EventRaised(timestamp=t0, name="x"))
    run(provider.send_message(message))
    item = lock(run, provider, t0)
    assert (item.instance_id, item.state, item.history) == ("ghost", None, [])
    run(provider.complete_orchestration(item, OrchestrationCommit(None, []), now=t0))
    assert run(provider.get_instance("ghost")) is None
    assert lock(run, provider, t0) is None


def test_a_commit_after_the_lock_was_taken_over_is_rejected_and_changes_nothing(provider, run, t0):
    run(provider.create_instance(start_message("split", t0), now=t0))
    stale = lock(run, provider, t0, worker="w1")
    fresh = lock(run, provider, t0 + LOCK + S, worker="w2")
    history = episode(t0, events_of(stale)[0])
    commit = OrchestrationCommit(state_after(stale, t0, RuntimeStatus.Running), history, activities=[])
    task = TaskMessage("split", scheduled(0, t0), stale.state.execution_id)
    commit.activities.append(task)

    with pytest.raises(LockLostError):
        run(provider.complete_orchestration(stale, commit, now=t0 + LOCK))
    assert run(provider.get_history("split")) == []
    assert run(provider.get_instance("split")).runtime_status is RuntimeStatus.Pending
    assert lock_activity(run, provider, t0 + LOCK) is None

    run(provider.complete_orchestration(fresh, commit, now=t0 + LOCK + S))
    assert run(provider.get_history("split")) == history
    with pytest.raises(LockLostError):  # still rejected after the new owner committed
        run(provider.complete_orchestration(stale, commit, now=t0 + LOCK + S))
    assert run(provider.get_history("split")) == history


def test_a_second_commit_of_the_same_episode_is_rejected(provider, run, t0):
    run(provider.create_instance(start_message("twice", t0), now=t0))
    item = lock(run, provider, t0)
    twin = dataclasses.replace(item, messages=list(item.messages), history=list(item.history))
    commit = OrchestrationCommit(state_after(item, t0, RuntimeStatus.Running), episode(t0, events_of(item)[0]))
    run(provider.complete_orchestration(item, commit, now=t0))
    with pytest.raises(LockLostError):
        run(provider.complete_orchestration(twin, commit, now=t0))
    assert run(provider.get_history("twice")) == commit.new_history


def test_an_expired_lock_nobody_took_can_still_commit(provider, run, t0):
    run(provider.create_instance(start_message("late", t0), now=t0))
    item = lock(run, provider, t0)
    commit = OrchestrationCommit(state_after(item, t0, RuntimeStatus.Running), episode(t0, events_of(item)[0]))
    run(provider.complete_orchestration(item, commit, now=t0 + 10 * LOCK))
    assert len(run(provider.get_history("late"))) == 3


def test_a_suspended_instance_is_locked_only_for_resume_or_terminate(provider, run, t0):
    start_running(run, provider, "sus", t0)
    run(provider.send_message(TaskMessage("sus", e.ExecutionSuspended(timestamp=t0, reason="r"))))
    item = lock(run, provider, t0)
    suspended = state_after(item, t0, RuntimeStatus.Suspended)
    run(provider.complete_orchestration(item, OrchestrationCommit(suspended, episode(t0, *events_of(item))), now=t0))

    raised = e.EventRaised(timestamp=t0, name="waits")
    run(provider.send_message(TaskMessage("sus", raised)))
    assert lock(run, provider, t0) is None
    resumed = e.ExecutionResumed(timestamp=t0, reason="go")
    run(provider.send_message(TaskMessage("sus", resumed)))
    item = lock(run, provider, t0)
    assert item is not None and resumed in events_of(item)
    # Commit (not abandon): an abandoned message comes back after a back-off on the provider's clock,
    # and a slow machine then locked "sus" again below instead of "sus2".
    running = state_after(item, t0, RuntimeStatus.Running)
    run(provider.complete_orchestration(item, OrchestrationCommit(running, episode(t0, *events_of(item))), now=t0))

    run(provider.purge_instance("sus"))
    start_running(run, provider, "sus2", t0)
    run(provider.send_message(TaskMessage("sus2", e.ExecutionSuspended(timestamp=t0))))
    item = lock(run, provider, t0)
    suspended = state_after(item, t0, RuntimeStatus.Suspended)
    run(provider.complete_orchestration(item, OrchestrationCommit(suspended, episode(t0, *events_of(item))), now=t0))
    run(provider.send_message(TaskMessage("sus2", raised)))
    terminated = e.ExecutionTerminated(timestamp=t0, input="stop")
    run(provider.send_message(TaskMessage("sus2", terminated)))
    assert terminated in events_of(lock(run, provider, t0))


def test_the_entities_filter(provider, run, t0):
    run(provider.send_message(TaskMessage("@counter@k1", e.EventRaised(timestamp=t0, name="op"))))
    run(provider.create_instance(start_message("orch", t0), now=t0))
    assert lock(run, provider, t0, entities=True).instance_id == "@counter@k1"
    assert lock(run, provider, t0, entities=True) is None
    assert lock(run, provider, t0, entities=False).instance_id == "orch"
    assert lock(run, provider, t0, entities=False) is None


def test_continue_as_new_replaces_the_history(provider, run, t0):
    start_running(run, provider, "can", t0)
    run(provider.send_message(TaskMessage("can", e.EventRaised(timestamp=t0, name="next"))))
    item = lock(run, provider, t0)
    restart = start_message("can", t0)
    state = state_after(item, t0, RuntimeStatus.ContinuedAsNew, execution_id=restart.execution_id, input='"in"')
    commit = OrchestrationCommit(state, [], messages=[OutboundMessage(restart)], replace_history=True)
    run(provider.complete_orchestration(item, commit, now=t0))
    assert run(provider.get_history("can")) == []

    item = lock(run, provider, t0)
    assert item.state == state and item.history == [] and [m for _, m in item.messages] == [restart]
    fresh = episode(t0 + S, restart.event)
    running = state_after(item, t0 + S, RuntimeStatus.Running)
    run(provider.complete_orchestration(item, OrchestrationCommit(running, fresh), now=t0 + S))
    assert run(provider.get_history("can")) == fresh


def test_replace_history_rewrites_the_current_execution(provider, run, t0):
    state = start_running(run, provider, "rw", t0)
    run(provider.send_message(TaskMessage("rw", e.ExecutionRewound(timestamp=t0))))
    item = lock(run, provider, t0)
    rewritten = [*item.history[:2], e.GenericEvent(timestamp=t0, data="Rewound"), item.history[2]]
    commit = OrchestrationCommit(state, rewritten, replace_history=True)
    run(provider.complete_orchestration(item, commit, now=t0))
    assert run(provider.get_history("rw")) == rewritten


def test_the_next_episode_sees_history_rewritten_by_another_worker(store, provider, run, t0):
    """Whatever a provider keeps between episodes must notice a rewrite it did not make."""
    state = start_running(run, provider, "rw2", t0)
    run(provider.send_message(TaskMessage("rw2", e.EventRaised(timestamp=t0, name="a"))))
    item = lock(run, provider, t0)
    grown = episode(t0 + S, e.EventRaised(timestamp=t0, name="a"))
    run(provider.complete_orchestration(item, OrchestrationCommit(state, grown), now=t0))
    full = item.history + grown

    other = store.open(provider.hub)
    run(other.send_message(TaskMessage("rw2", e.ExecutionRewound(timestamp=t0))))
    theirs = lock(run, other, t0 + S + AFFINITY, worker="w2")
    assert theirs.history == full
    rewritten = [*full[:2], e.GenericEvent(timestamp=t0, data="Rewound"), *full[2:]]
    run(other.complete_orchestration(theirs, OrchestrationCommit(state, rewritten, replace_history=True), now=t0))

    run(provider.send_message(TaskMessage("rw2", e.EventRaised(timestamp=t0, name="b"))))
    assert lock(run, provider, t0 + 2 * S + 2 * AFFINITY).history == rewritten


def test_history_survives_closing_and_reopening_the_store(store, provider, run, t0):
    start_running(run, provider, "durable", t0, activities=1)
    history = run(provider.get_history("durable"))
    state = run(provider.get_instance("durable"))
    hub = provider.hub
    store.close(provider)

    reopened = store.open(hub)
    assert run(reopened.get_history("durable")) == history
    assert run(reopened.get_instance("durable")) == state
    assert lock_activity(run, reopened, t0).message.instance_id == "durable"


# -- activities ------------------------------------------------------------------------------------


def test_an_activity_lock_expires_and_the_old_holder_cannot_complete(provider, run, t0):
    start_running(run, provider, "act", t0, activities=1)
    first = lock_activity(run, provider, t0, worker="w1")
    assert lock_activity(run, provider, t0 + LOCK - S, worker="w2") is None
    second = lock_activity(run, provider, t0 + LOCK + S, worker="w2")
    assert second.id == first.id and second.dequeue_count == 2

    result = TaskMessage("act", e.TaskCompleted(timestamp=t0, task_scheduled_id=0, result="1"))
    with pytest.raises(LockLostError):
        run(provider.complete_activity(first, result))
    with pytest.raises(LockLostError):
        run(provider.renew_activity_lock(first, now=t0 + LOCK, lock_timeout=LOCK))
    run(provider.renew_activity_lock(second, now=t0 + LOCK + 2 * S, lock_timeout=LOCK))
    assert second.locked_until == t0 + 2 * LOCK + 2 * S
    run(provider.complete_activity(second, result))
    with pytest.raises(LockLostError):
        run(provider.complete_activity(second, result))
    assert events_of(lock(run, provider, t0 + LOCK)) == [result.event]


def test_abandon_activity_with_retry_at_delays_the_retry(provider, run, t0):
    start_running(run, provider, "retry", t0, activities=1)
    task = lock_activity(run, provider, t0)
    retry_at = t0 + timedelta(minutes=10)
    run(provider.abandon_activity(task, retry_at=retry_at))
    assert lock_activity(run, provider, t0) is None
    assert run(provider.next_visible_time()) == retry_at
    again = lock_activity(run, provider, retry_at)
    assert again.id == task.id and again.dequeue_count == 2
    run(provider.abandon_activity(again))
    assert lock_activity(run, provider, retry_at).dequeue_count == 3


# -- queries and purge -----------------------------------------------------------------------------


def make_instances(run, provider: Provider, t0: datetime, count: int, prefix: str = "q") -> list[str]:
    ids = [f"{prefix}{i:04d}" for i in range(count)]
    for i, iid in enumerate(ids):
        at = t0 + timedelta(seconds=i // 2)  # pairs share a created time: the id breaks the tie
        run(provider.create_instance(start_message(iid, at), now=at))
    return ids


def test_query_pages_through_every_instance_in_order(provider, run, t0):
    ids = make_instances(run, provider, t0, 250)
    seen, token, pages = [], None, 0
    while True:
        page = run(provider.query_instances(InstanceQuery(page_size=100, continuation_token=token)))
        seen += [s.instance_id for s in page.instances]
        pages += 1
        token = page.continuation_token
        if token is None:
            break
    assert seen == ids and pages == 3
    assert run(provider.query_instances(InstanceQuery(page_size=250))).continuation_token is None


@pytest.mark.parametrize(
    "token", ["[99999999999999999999999, \"a\"]", "[1, \"\\ud800\"]", "5", "{}", "null", "not json", "~~~"]
)
def test_a_continuation_token_it_did_not_issue_is_refused_as_such(provider, run, t0, token):
    with pytest.raises(InvalidContinuationTokenError):
        run(provider.query_instances(InstanceQuery(page_size=10, continuation_token=token)))


def test_query_filters(provider, run, t0):
    start_running(run, provider, "a_run", t0)
    run(provider.send_message(TaskMessage("@ent@k", e.EventRaised(timestamp=t0, name="op"))))
    entity = lock(run, provider, t0, entities=True)
    ent_state = InstanceState("@ent@k", "ent", RuntimeStatus.Running, t0, t0, execution_id="x")
    run(provider.complete_orchestration(entity, OrchestrationCommit(ent_state, []), now=t0))
    make_instances(run, provider, t0, 10, prefix="a_")
    make_instances(run, provider, t0, 3, prefix="a%")
    make_instances(run, provider, t0, 4, prefix="b")

    def ids(**kw) -> list[str]:
        page = run(provider.query_instances(InstanceQuery(**kw)))
        return [s.instance_id for s in page.instances]

    assert sorted(ids(instance_id_prefix="a_")) == ["a_0000", "a_0001", *(f"a_{i:04d}" for i in range(2, 10)), "a_run"]
    assert ids(instance_id_prefix="a%") == ["a%0000", "a%0001", "a%0002"]
    assert ids(statuses=frozenset({RuntimeStatus.Running})) == ["a_run"]
    assert len(ids(statuses=frozenset({RuntimeStatus.Pending, RuntimeStatus.Running}))) == 18
    assert ids(statuses=frozenset()) == []
    window = ids(created_from=t0 + S, created_to=t0 + S, instance_id_prefix="b")
    assert window == ["b0002", "b0003"]  # both bounds inclusive; b0000/b0001 were created at t0
    run(provider.create_instance(start_message("named", t0, name="Other"), now=t0))
    assert ids(name="Other") == ["named"]
    assert ids(name="Other", instance_id_prefix="a") == []
    assert len(ids(name="Orch", page_size=1000)) == 18
    assert "@ent@k" not in ids(page_size=1000)
    assert "@ent@k" in ids(page_size=1000, include_entities=True)
    assert {s.input for s in run(provider.query_instances(InstanceQuery(include_input=False))).instances} == {None}
    assert {s.input for s in run(provider.query_instances(InstanceQuery())).instances} == {'"in"'}


def test_purge_one_instance_removes_its_history_and_messages(provider, run, t0):
    start_running(run, provider, "p", t0, activities=1)
    run(provider.send_message(TaskMessage("p", e.EventRaised(timestamp=t0, name="x"))))
    assert run(provider.purge_instance("p")) == 1
    assert run(provider.purge_instance("p")) == 0
    assert run(provider.get_instance("p")) is None
    assert run(provider.get_history("p")) == []
    assert lock(run, provider, t0) is None
    assert lock_activity(run, provider, t0) is None


def test_purge_by_filter_takes_every_page(provider, run, t0):
    make_instances(run, provider, t0, 130, prefix="gone")
    make_instances(run, provider, t0, 5, prefix="kept")
    query = InstanceQuery(instance_id_prefix="gone", page_size=10)
    assert run(provider.purge_instances(query)) == 130
    left = run(provider.query_instances(InstanceQuery(page_size=1000))).instances
    assert [s.instance_id for s in left] == [f"kept{i:04d}" for i in range(5)]
    assert {item.instance_id for item in iter(lambda: lock(run, provider, t0), None)} == {
        f"kept{i:04d}" for i in range(5)
    }


# -- hubs ------------------------------------------------------------------------------------------


def test_hubs_in_one_store_do_not_see_each_other(store, provider, run, t0):
    other = store.open()
    start_running(run, provider, "shared", t0, activities=1)
    run(other.create_instance(start_message("shared", t0), now=t0))
    run(other.create_instance(start_message("only-other", t0), now=t0))

    assert run(provider.get_instance("shared")).runtime_status is RuntimeStatus.Running
    assert run(other.get_instance("shared")).runtime_status is RuntimeStatus.Pending
    assert run(provider.get_instance("only-other")) is None
    assert [s.instance_id for s in run(provider.query_instances(InstanceQuery())).instances] == ["shared"]
    assert lock(run, provider, t0) is None
    assert lock_activity(run, other, t0) is None
    assert run(other.get_history("shared")) == []

    run(other.delete_hub())
    assert run(other.get_instance("shared")) is None
    assert lock(run, other, t0) is None
    assert len(run(provider.get_history("shared"))) == 4
    assert lock_activity(run, provider, t0) is not None


def test_delete_hub_removes_everything_of_the_hub(provider, run, t0):
    start_running(run, provider, "x", t0, activities=2)
    run(provider.send_message(TaskMessage("x", e.EventRaised(timestamp=t0, name="e")), visible_at=t0 + S))
    run(provider.delete_hub())
    assert run(provider.get_instance("x")) is None
    assert lock(run, provider, t0 + S) is None
    assert lock_activity(run, provider, t0) is None
    assert run(provider.next_visible_time()) is None


def test_an_entity_without_an_execution_id_keeps_its_history(provider, run, t0):
    op = e.EventRaised(timestamp=t0, name="op", input="1")
    run(provider.send_message(TaskMessage("@counter@k", op)))
    item = lock(run, provider, t0, entities=True)
    assert item.state is None
    state = InstanceState("@counter@k", "counter", RuntimeStatus.Running, t0, t0)
    run(provider.complete_orchestration(item, OrchestrationCommit(state, episode(t0, op)), now=t0))
    assert run(provider.get_history("@counter@k")) == episode(t0, op)

    run(provider.send_message(TaskMessage("@counter@k", op)))
    item = lock(run, provider, t0, entities=True)
    assert item.state == state and item.history == episode(t0, op)
