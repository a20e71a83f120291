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
