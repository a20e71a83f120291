"""The history replayer: histories recorded by real runs replay cleanly; changed code is reported."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import azure.durable_functions as df
import pytest

from durable_ext.core import events as e
from durable_ext.testing import NonDeterminismError, Replayer, replay_history

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
APP = Path(__file__).parent / "apps" / "harness_app"
START = datetime(2030, 1, 1, tzinfo=UTC)


def greet_renamed_second_call(context: df.DurableOrchestrationContext):
    first = yield context.call_activity("hello", "Tokyo")
    second = yield context.call_activity("goodbye", "Seattle")
    return [first, second]


def greet_dropped_second_call(context: df.DurableOrchestrationContext):
    first = yield context.call_activity("hello", "Tokyo")
    return [first]


def greet_different_output(context: df.DurableOrchestrationContext):
    first = yield context.call_activity("hello", "Tokyo")
    second = yield context.call_activity("hello", "Seattle")
    return [second, first]


@pytest.fixture
def greet_history(durable_env):
    env = durable_env(APP)
    instance_id = env.wait_for_completion(env.start_new("greet")).instance_id
    return env.get_history(instance_id), env.get_history_json(instance_id)


def test_unchanged_code_replays_its_own_history_in_both_shapes(greet_history):
    events, rows = greet_history
    replayer = Replayer.from_app(APP)
    for history in (events, rows, {"historyEvents": rows}, json.dumps(rows)):
        result = replayer.replay(history)
        assert result.ok, result.non_determinism
        assert result.completed and result.output == ["Hello Tokyo!", "Hello Seattle!"]
        assert result.notes == []


def test_a_changed_activity_is_reported_with_the_diverging_event(greet_history):
    events, rows = greet_history
    replayer = Replayer({"greet": greet_renamed_second_call})

    from_rows = replayer.replay(rows)
    assert not from_rows.ok
    assert "scheduled an activity task with sequence number 1 named 'hello'" in from_rows.non_determinism
    assert "instead scheduled an activity task named 'goodbye'" in from_rows.non_determinism
    assert from_rows.diverging_row["FunctionName"] == "hello"
    assert from_rows.diverging_row["Input"] == '"Seattle"'

    from_events = replayer.replay(events)
    assert from_events.non_determinism == from_rows.non_determinism
    assert isinstance(from_events.diverging_event, e.TaskScheduled)
    assert (from_events.diverging_event.event_id, from_events.diverging_event.name) == (1, "hello")
    with pytest.raises(NonDeterminismError, match="goodbye"):
        from_events.raise_for_non_determinism()


def test_a_removed_activity_is_reported(greet_history):
    events, rows = greet_history
    for history in (events, rows):
        result = Replayer({"greet": greet_dropped_second_call}).replay(history)
        assert "named 'hello', but the current orchestration replay did not schedule it" in result.non_determinism


def test_a_different_output_is_a_note_not_non_determinism(greet_history):
    _, rows = greet_history
    result = Replayer({"greet": greet_different_output}).replay(rows)
    assert result.ok
    assert result.output == ["Hello Seattle!", "Hello Tokyo!"]
    assert any("output differs" in note for note in result.notes)


def test_a_new_step_after_a_finished_history_is_a_note(durable_env):
    env = durable_env(APP)
    rows = env.get_history_json(env.wait_for_completion(env.start_new("greet")).instance_id)

    def greet_with_extra_step(context):
        first = yield context.call_activity("hello", "Tokyo")
        second = yield context.call_activity("hello", "Seattle")
        third = yield context.call_activity("hello", "London")
        return [first, second, third]

    result = Replayer({"greet": greet_with_extra_step}).replay(rows)
    assert result.ok and not result.completed
    assert any("would now schedule an activity task named 'hello'" in note for note in result.notes)


@pytest.mark.parametrize(
    ("app", "name", "payload", "stubs"),
    [
        (SAMPLES / "fan_out_fan_in", "fan_out_fan_in", 12, {}),
        (SAMPLES / "monitor", "monitor", {"polls": 3, "interval_seconds": 3600}, {}),
        (SAMPLES / "sub_orchestrations", "parent", None, {}),
        (SAMPLES / "human_interaction", "approval_workflow", {"timeout_seconds": 60}, {}),
        (APP, "hourly_retry", "job", {"unreliable": "flaky"}),
        (SAMPLES / "counter_entity", "counter_orchestrator", {"key": "r1"}, {}),
    ],
)
def test_status_api_histories_of_every_pattern_replay_cleanly(durable_env, app, name, payload, stubs):
    calls: list[int] = []

    def flaky(value):
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("down")
        return "up"

    env = durable_env(app, start_time=START, activities={k: flaky for k in stubs})
    instance_id = env.start_new(name, payload)
    env.wait_for_completion(instance_id)
    # The history exactly as the status API serves it, fetched over the app's own HTTP surface.
    reply = env.http(
        "GET", f"/runtime/webhooks/durabletask/instances/{instance_id}?showHistory=true&showHistoryOutput=true"
    )
    assert reply.status == 200
    result = Replayer.from_app(app).replay(reply.json())
    assert result.ok, result.non_determinism
    assert result.notes == []
    assert result.output == reply.json()["output"]


def test_an_event_and_a_cancelled_timer_replay(durable_env):
    env = durable_env(SAMPLES / "human_interaction", start_time=START)
    instance_id = env.start_new("approval_workflow", {"timeout_seconds": 3600})
    env.raise_event(instance_id, "Approval", "yes")
    env.wait_for_completion(instance_id)
    result = replay_history(SAMPLES / "human_interaction", env.get_history_json(instance_id))
    assert result.ok and result.output == {"approved": "yes"}


def test_a_history_file_is_read_from_a_path(greet_history, tmp_path):
    _, rows = greet_history
    saved = tmp_path / "history.json"
    saved.write_text(json.dumps({"instanceId": "abc", "historyEvents": rows}))
    assert Replayer.from_app(APP).replay(saved).ok


def test_bad_input_gets_a_clear_error():
    replayer = Replayer.from_app(APP)
    with pytest.raises(ValueError, match="historyEvents"):
        replayer.replay({"runtimeStatus": "Completed"})
    with pytest.raises(ValueError, match="ExecutionStarted"):
        replayer.replay([{"EventType": "TaskCompleted", "Timestamp": "2030-01-01T00:00:00Z"}])
    with pytest.raises(KeyError, match="known"):
        replayer.replay(
            [{"EventType": "ExecutionStarted", "FunctionName": "nope", "Timestamp": "2030-01-01T00:00:00Z"}]
        )
