"""The status payload of the built-in HTTP API and its ``historyEvents`` transform.

Mirrors EXT ``HttpApiHandler.ConvertFrom`` and ``DurableClient.GetDurableOrchestrationStatusAsync``
(EXT ``StatusResponsePayload.cs``, ``HttpApiHandler.ConvertFrom``): stored payload strings are shown as parsed JSON (raw text when they are not
JSON, e.g. a terminate reason), times without fractions, and the history in the extension's
"friendly" form: event type names, scheduling events merged into their completions, no replay
bookkeeping.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

from durable_ext.core.events import EventType, HistoryEvent
from durable_ext.core.messages import InstanceState
from durable_ext.core.wire import event_to_dict, format_datetime_seconds


def parse_token(text: str | None) -> Any:
    """EXT ``ParseToJToken``: None stays null, blank is ``""``, JSON is parsed, anything else is kept raw."""
    if text is None:
        return None
    text = text.strip()
    if not text:
        return ""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return text


def json_safe(value: Any) -> Any:
    """``value`` with every NaN or infinite float replaced by its Newtonsoft string form."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else "Infinity" if value > 0 else "-Infinity"
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    return value


def status_payload(
    state: InstanceState, *, show_input: bool = True, history: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """EXT ``StatusResponsePayload``; ``historyEvents`` only when a history is given."""
    body: dict[str, Any] = {
        "name": state.name,
        "instanceId": state.instance_id,
        "runtimeStatus": state.runtime_status.value,
        "input": parse_token(state.input) if show_input else None,
        "customStatus": parse_token(state.custom_status),
        "output": parse_token(state.output),
        "createdTime": format_datetime_seconds(state.created_time),
        "lastUpdatedTime": format_datetime_seconds(state.last_updated_time),
    }
    if history is not None:
        body["historyEvents"] = history
    return body


# Completion event type -> the scheduling event type it is merged with.
_SCHEDULED_BY = {
    EventType.TaskCompleted: EventType.TaskScheduled,
    EventType.TaskFailed: EventType.TaskScheduled,
    EventType.SubOrchestrationInstanceCompleted: EventType.SubOrchestrationInstanceCreated,
    EventType.SubOrchestrationInstanceFailed: EventType.SubOrchestrationInstanceCreated,
}
# Events whose Result is an output: shown (parsed) only with showHistoryOutput.
_RESULT_EVENTS = frozenset(
    {EventType.TaskCompleted, EventType.SubOrchestrationInstanceCompleted, EventType.ExecutionCompleted}
)
_DROPPED_EVENTS = frozenset({EventType.OrchestratorStarted, EventType.OrchestratorCompleted})
_EXECUTION_STARTED_DROPPED = ("OrchestrationInstance", "ParentInstance", "Version", "Tags")


def history_events(events: Iterable[HistoryEvent], *, show_input: bool, show_output: bool) -> list[dict[str, Any]]:
    """The ``historyEvents`` array for one execution's history."""
    rows: list[dict[str, Any]] = []
    removed: set[int] = set()
    scheduled: dict[tuple[EventType, int], int] = {}  # (scheduling type, EventId) -> row index
    for index, event in enumerate(events):
        kind = event.TYPE
        row = event_to_dict(event)
        row["EventType"] = kind.name
        if kind in _DROPPED_EVENTS:
            removed.add(index)
        elif kind in (EventType.TaskScheduled, EventType.SubOrchestrationInstanceCreated):
            scheduled[(kind, event.event_id)] = index
            row.pop("Version", None)
        elif kind in _SCHEDULED_BY:
            source = scheduled.get((_SCHEDULED_BY[kind], row.pop("TaskScheduledId", None)))
            _merge_scheduling(row, rows, source, removed)
        elif kind is EventType.ExecutionStarted:
            row["FunctionName"] = row.pop("Name", None)
            for key in _EXECUTION_STARTED_DROPPED:
                row.pop(key, None)
        elif kind is EventType.TimerFired:
            row.pop("TimerId", None)
        if kind in _RESULT_EVENTS:
            if show_output:
                row["Result"] = parse_token(row.get("Result"))
            else:
                row.pop("Result", None)
        row.pop("EventId", None)
        rows.append(row)
    if not show_input:
        for row in rows:
            row.pop("Input", None)
    return [row for index, row in enumerate(rows) if index not in removed]


def _merge_scheduling(row: dict[str, Any], rows: list[dict[str, Any]], source: int | None, removed: set[int]) -> None:
    """Copy name, time and input of the scheduling row into its completion and drop the former."""
    if source is None:
        return
    origin = rows[source]
    row["ScheduledTime"] = origin["Timestamp"]
    row["FunctionName"] = origin.get("Name")
    row["Input"] = origin.get("Input")
    removed.add(source)
