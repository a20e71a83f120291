"""The task hub document's example, event for event (DTFx records history this way)."""

from __future__ import annotations

import json

from durable_ext.core import events as e
from durable_ext.core.status import RuntimeStatus
from tests.core.harness import Catalog, Instance


def fan_out(context):
    tasks = [context.call_activity("MyActivity", 1), context.call_activity("MyActivity", 2)]
    results = yield context.task_all(tasks)
    return results


def _instance() -> Instance:
    return Instance("golden", Catalog({"FanOut": fan_out}, activities=["MyActivity"]))


def test_two_activities_completing_in_separate_episodes_give_twelve_events():
    inst = _instance()
    first = inst.start("FanOut")
    assert [a.event.input for a in first.commit.activities] == ["1", "2"]
    inst.deliver(e.TaskCompleted(timestamp=inst.clock, task_scheduled_id=0, result="10"))
    inst.deliver(e.TaskCompleted(timestamp=inst.clock, task_scheduled_id=1, result="20"))
    assert inst.types() == [
        "OrchestratorStarted",
        "ExecutionStarted",
        "TaskScheduled",
        "TaskScheduled",
        "OrchestratorCompleted",
        "OrchestratorStarted",
        "TaskCompleted",
        "OrchestratorCompleted",
        "OrchestratorStarted",
        "TaskCompleted",
        "ExecutionCompleted",
        "OrchestratorCompleted",
    ]
    scheduled = [ev for ev in inst.history if isinstance(ev, e.TaskScheduled)]
    assert [(s.event_id, s.name, s.input) for s in scheduled] == [(0, "MyActivity", "1"), (1, "MyActivity", "2")]
    assert all(ev.event_id == -1 for ev in inst.history if not isinstance(ev, e.TaskScheduled))
    assert inst.state.runtime_status is RuntimeStatus.Completed
    assert json.loads(inst.state.output) == [10, 20]


def test_two_activities_completing_in_one_episode_give_ten_events():
    inst = _instance()
    inst.start("FanOut")
    inst.deliver(
        e.TaskCompleted(timestamp=inst.clock, task_scheduled_id=0, result="10"),
        e.TaskCompleted(timestamp=inst.clock, task_scheduled_id=1, result="20"),
    )
    assert inst.types() == [
        "OrchestratorStarted",
        "ExecutionStarted",
        "TaskScheduled",
        "TaskScheduled",
        "OrchestratorCompleted",
        "OrchestratorStarted",
        "TaskCompleted",
        "TaskCompleted",
        "ExecutionCompleted",
        "OrchestratorCompleted",
    ]
    completed = inst.history[-2]
    assert isinstance(completed, e.ExecutionCompleted) and completed.status is RuntimeStatus.Completed
    assert json.loads(completed.result) == [10, 20]
