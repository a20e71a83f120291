"""Trace context in Azure Storage history rows (a JSON string column, as DTFx's TableEntityConverter
writes a complex DataMember) and in queue messages (a typed nested object)."""

from __future__ import annotations

import json

from durable_ext.core import events as e
from durable_ext.providers.azure_storage.envelope import event_json
from durable_ext.providers.azure_storage.history import entity_to_event, event_to_entity
from tests.core.test_trace_wire import EVENTS, PARENT


def test_azure_history_rows_and_queue_messages_carry_it():
    for event in EVENTS:
        entity = event_to_entity(event, "i", "0000000000000000", "x")
        if isinstance(event, e.SubOrchestrationInstanceCreated):
            assert entity["ClientSpanId"] == "aa" * 8
        else:
            assert json.loads(entity["ParentTraceContext"])["TraceParent"] == PARENT  # a JSON string column
        assert entity_to_event(entity) == event
    message = event_json(EVENTS[0])
    assert message["ParentTraceContext"]["$type"] == "DurableTask.Core.Tracing.DistributedTraceContext"
