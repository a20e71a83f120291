"""History events as DTFx JSON (core.wire.history): every event type's fields, and the timestamp text.

Each field's conversion is decided once per event class from its annotation, and the last
timestamp formatted is remembered (the events of an episode share one): neither may change a byte
of what is written.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta, timezone

from durable_ext.core import events as e
from durable_ext.core.status import RuntimeStatus
from durable_ext.core.wire.history import dumps_event, format_datetime, loads_event

T = datetime(2026, 12, 6, 15, 30, 1, 123456, tzinfo=UTC)
TRACE = e.TraceContext(trace_parent="00-abc-def-01", trace_state="k=v", id="i", span_id="s", activity_start_time=T)
TRACE_JSON = {
    "TraceParent": "00-abc-def-01",
    "TraceState": "k=v",
    "Id": "i",
    "SpanId": "s",
    "ActivityStartTime": "2026-12-06T15:30:01.123456Z",
}


def test_every_field_is_written_as_dtfx_writes_it_and_read_back():
    cases = [
        (
            e.ExecutionStarted(
                timestamp=T,
                name="orch",
                instance_id="i1",
                execution_id="x1",
                input='"in"',
                parent=e.ParentInstance(name="p", instance_id="pi", execution_id="px", task_scheduled_id=3),
                tags={"a": "b"},
                scheduled_start_time=T + timedelta(seconds=1),
                generation=2,
                parent_trace_context=TRACE,
            ),
            {
                "EventType": 0,
                "EventId": -1,
                "Timestamp": "2026-12-06T15:30:01.123456Z",
                "OrchestrationInstance": {"InstanceId": "i1", "ExecutionId": "x1"},
                "ParentInstance": {
                    "Name": "p",
                    "Version": None,
                    "TaskScheduleId": 3,
                    "OrchestrationInstance": {"InstanceId": "pi", "ExecutionId": "px"},
                },
                "Name": "orch",
                "Version": None,
                "Input": '"in"',
                "Tags": {"a": "b"},
                "ScheduledStartTime": "2026-12-06T15:30:02.123456Z",
                "Generation": 2,
                "ParentTraceContext": TRACE_JSON,
            },
        ),
        (
            e.ExecutionCompleted(
                event_id=7,
                timestamp=T,
                status=RuntimeStatus.Failed,
                failure_details=e.FailureDetails(error_type="ValueError", error_message="boom", stack_trace="tb"),
            ),
            {
                "EventType": 1,
                "EventId": 7,
                "Timestamp": "2026-12-06T15:30:01.123456Z",
                "OrchestrationStatus": "Failed",
                "Result": None,
                "FailureDetails": {"ErrorType": "ValueError", "ErrorMessage": "boom", "StackTrace": "tb"},
            },
        ),
        (
            e.TaskScheduled(event_id=0, timestamp=T, name="hello", input='"x"'),
            {
                "EventType": 4,
                "EventId": 0,
                "Timestamp": "2026-12-06T15:30:01.123456Z",
                "Name": "hello",
                "Input": '"x"',
                "Version": "",
            },
        ),
        (
            e.TaskScheduled(event_id=1, timestamp=T, name="traced", parent_trace_context=TRACE),
            {
                "EventType": 4,
                "EventId": 1,
                "Timestamp": "2026-12-06T15:30:01.123456Z",
                "Name": "traced",
                "Input": None,
                "Version": "",
                "ParentTraceContext": TRACE_JSON,
            },
        ),
        (
            e.TimerFired(timestamp=T, timer_id=4, fire_at=T + timedelta(minutes=1)),
            {
                "EventType": 11,
                "EventId": -1,
                "Timestamp": "2026-12-06T15:30:01.123456Z",
                "TimerId": 4,
                "FireAt": "2026-12-06T15:31:01.123456Z",
            },
        ),
        (
            e.SubOrchestrationInstanceCreated(timestamp=T, name="child", instance_id="c1"),
            {
                "EventType": 7,
                "EventId": -1,
                "Timestamp": "2026-12-06T15:30:01.123456Z",
                "Name": "child",
                "InstanceId": "c1",
                "Input": None,
                "Version": None,
            },
        ),
    ]
    for event, expected in cases:
        assert json.loads(dumps_event(event)) == expected, type(event).__name__
        assert loads_event(dumps_event(event)) == event


def test_the_remembered_timestamp_never_stands_for_another_value():
    later = T + timedelta(microseconds=1)
    assert [format_datetime(v) for v in (T, T, later, T, later)] == [
        "2026-12-06T15:30:01.123456Z",
        "2026-12-06T15:30:01.123456Z",
        "2026-12-06T15:30:01.123457Z",
        "2026-12-06T15:30:01.123456Z",
        "2026-12-06T15:30:01.123457Z",
    ]
    plus_two = T.astimezone(timezone(timedelta(hours=2)))  # the same instant in another zone: UTC text
    assert format_datetime(plus_two) == format_datetime(plus_two) == "2026-12-06T15:30:01.123456Z"
    assert format_datetime(T.replace(tzinfo=None)) == "2026-12-06T15:30:01.123456Z"  # naive: taken as UTC
    assert format_datetime(datetime(999, 1, 2, tzinfo=UTC)) == datetime(999, 1, 2).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_threads_formatting_at_once_each_get_their_own_values_text():
    # Episodes run on user threads too: the remembered pair is replaced whole, never mixed.
    values = [T + timedelta(seconds=i) for i in range(8)]
    expected = [v.strftime("%Y-%m-%dT%H:%M:%S.%fZ") for v in values]
    wrong: list[str] = []

    def work(k: int) -> None:
        for _ in range(2000):
            for v, text in ((values[k], expected[k]), (values[(k + 1) % 8], expected[(k + 1) % 8])):
                if format_datetime(v) != text:
                    wrong.append(text)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == []
