"""Trace context in history events: DTFx's field names, round trips, and nothing written when absent."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from durable_ext.core import events as e
from durable_ext.core.wire import dumps_event, event_to_dict, loads_event

NOW = datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
OWN = "00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01"
CONTEXT = e.TraceContext(
    trace_parent=PARENT, trace_state="congo=t61rcWkgMzE", id=OWN, span_id="00f067aa0ba902b7", activity_start_time=NOW
)
EVENTS = [
    e.ExecutionStarted(timestamp=NOW, name="o", instance_id="i", execution_id="x", parent_trace_context=CONTEXT),
    e.TaskScheduled(event_id=3, timestamp=NOW, name="a", parent_trace_context=e.TraceContext(trace_parent=PARENT)),
    e.SubOrchestrationInstanceCreated(event_id=4, timestamp=NOW, name="c", instance_id="j", client_span_id="aa" * 8),
]


def test_dtfx_names_and_round_trip():
    started = event_to_dict(EVENTS[0])
    assert started["ParentTraceContext"] == {
        "TraceParent": PARENT,
        "TraceState": "congo=t61rcWkgMzE",
        "Id": OWN,
        "SpanId": "00f067aa0ba902b7",
        "ActivityStartTime": "2030-01-02T03:04:05.678901Z",
    }
    assert event_to_dict(EVENTS[1])["ParentTraceContext"]["TraceParent"] == PARENT
    assert event_to_dict(EVENTS[2])["ClientSpanId"] == "aa" * 8
    for event in EVENTS:
        assert loads_event(dumps_event(event)) == event


def test_absent_context_is_not_written():
    plain = [
        e.ExecutionStarted(timestamp=NOW, name="o", instance_id="i", execution_id="x"),
        e.TaskScheduled(event_id=0, timestamp=NOW, name="a"),
        e.SubOrchestrationInstanceCreated(event_id=1, timestamp=NOW, name="c", instance_id="j"),
    ]
    for event in plain:
        text = dumps_event(event)
        assert "ParentTraceContext" not in text and "ClientSpanId" not in text
        assert loads_event(text) == event


def test_dotnet_written_context_is_read():
    """DTFx (Newtonsoft) writes DateTimeOffset with 7 digits and an offset; a null context is "null"."""
    row = event_to_dict(EVENTS[0])
    row["ParentTraceContext"] = {
        "TraceParent": PARENT,
        "TraceState": None,
        "ActivityStartTime": "2030-01-02T03:04:05.6789012+00:00",
    }
    event = loads_event(json.dumps(row))
    assert event.parent_trace_context == e.TraceContext(
        trace_parent=PARENT, activity_start_time=NOW.replace(microsecond=678901)
    )
    row["ParentTraceContext"] = None
    assert loads_event(json.dumps(row)).parent_trace_context is None


def test_the_sdks_event_dicts_and_history_rows_are_what_the_json_round_trip_gives():
    """``trigger_event`` skips the JSON text and ``dumps_event`` reuses one encoder: both must give
    exactly what the plain ``json`` calls gave, for every kind of event."""
    from durable_ext.core.status import RuntimeStatus
    from durable_ext.core.wire.orchestration import event_json, trigger_event

    parent = e.ParentInstance(name="p", instance_id="pi", execution_id="px", task_scheduled_id=2, version="v")
    failure = e.FailureDetails(error_type="ValueError", error_message="boom", stack_trace="at x")
    events = [
        *EVENTS,
        e.ExecutionStarted(
            timestamp=NOW,
            name="o",
            instance_id="i",
            execution_id="x",
            input='{"a": [1, "ü"]}',
            version="1",
            parent=parent,
            tags={"k": "v"},
            scheduled_start_time=NOW,
            generation=2,
        ),
        e.ExecutionCompleted(event_id=9, timestamp=NOW, status=RuntimeStatus.Failed, failure_details=failure),
        e.ExecutionTerminated(timestamp=NOW, input='"stop"'),
        e.TaskCompleted(timestamp=NOW, task_scheduled_id=3, result='"ok"'),
        e.TaskFailed(timestamp=NOW, task_scheduled_id=3, reason="r", details="d"),
        e.SubOrchestrationInstanceCompleted(timestamp=NOW, task_scheduled_id=4, result="1"),
        e.SubOrchestrationInstanceFailed(timestamp=NOW, task_scheduled_id=4, reason="r"),
        e.TimerCreated(event_id=5, timestamp=NOW, fire_at=NOW),
        e.TimerFired(timestamp=NOW, timer_id=5, fire_at=NOW),
        e.OrchestratorStarted(timestamp=NOW),
        e.OrchestratorCompleted(timestamp=NOW),
        e.EventSent(event_id=6, timestamp=NOW, instance_id="j", name="n", input="null"),
        e.EventRaised(timestamp=NOW, name="n", input='"\\u2603"'),
        e.GenericEvent(timestamp=NOW, data="x"),
        e.ExecutionSuspended(timestamp=NOW, reason="r"),
        e.ExecutionResumed(timestamp=NOW),
        e.ExecutionRewound(timestamp=NOW, reason="r"),
    ]
    for event in events:
        for played in (True, False):
            assert trigger_event(event, played=played) == json.loads(event_json(event, played=played))
        assert dumps_event(event) == json.dumps(event_to_dict(event), separators=(",", ":"))
    started = events[len(EVENTS)]
    assert trigger_event(started, played=True)["Tags"] is not started.tags  # the SDK may keep it


def test_a_first_episodes_parsed_trigger_is_what_the_sdk_parses_from_the_text():
    """A first episode hands the SDK ``context_dict`` instead of ``context_json``'s text: the same
    fields, for every kind of stored input (a number or a list stays its text: see context_input)."""
    from durable_ext.core.wire.orchestration import context_dict, context_json, event_json

    for execution_input in (None, '"text"', '{"a": [1, "ü"]}', "5", "[1, 2]", "null", "not json"):
        events = [
            e.OrchestratorStarted(timestamp=NOW),
            e.ExecutionStarted(
                timestamp=NOW, name="o", instance_id="i", execution_id="x", input=execution_input, tags={"k": "v"}
            ),
        ]
        for parent in (None, "p"):
            fields = {"instance_id": "i", "parent_instance_id": parent, "execution_input": execution_input}
            text = context_json([event_json(ev, played=False) for ev in events], replaying=False, **fields)
            assert context_dict(events, **fields) == json.loads(text), execution_input
