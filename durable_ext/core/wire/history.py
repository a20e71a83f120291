"""History events as JSON, and the date-time formats of every payload.

History events are written as DTFx writes them: PascalCase ``[DataMember]`` names, ``EventType``
as its number, timestamps as ISO-8601 UTC with a ``Z``. The same dict shape serves storage and
the SDK's orchestration context (which additionally wants ``IsPlayed``: :mod:`.orchestration`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

from durable_ext.core.events import (
    EVENT_CLASSES,
    EventType,
    ExecutionStarted,
    FailureDetails,
    HistoryEvent,
    ParentInstance,
    TraceContext,
)
from durable_ext.core.status import RuntimeStatus
from durable_ext.core.wire.jsontext import dumps_compact

#: The SDK formats datetimes this way; we keep microseconds so replays see byte-identical values.
DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


#: The last value :func:`format_datetime` formatted, and its text: the events of one episode share
#: one timestamp (the reference kept makes the identity check safe).
_last_formatted: tuple[datetime, str] = (datetime(2000, 1, 1), "2000-01-01T00:00:00.000000Z")


def format_datetime(value: datetime) -> str:
    """UTC ISO-8601 with microseconds and ``Z`` (naive values are taken as UTC)."""
    global _last_formatted
    last = _last_formatted  # (one read: other threads replace the pair, never change it)
    if last[0] is value:
        return last[1]
    utc = value
    if utc.tzinfo is not None and utc.tzinfo is not UTC:
        utc = utc.astimezone(UTC)
    if utc.year < 1000:
        text = utc.strftime(DATETIME_FORMAT)  # glibc's %Y does not pad: keep what was always written
    else:
        # The same text as DATETIME_FORMAT at half strftime's cost (every event's timestamp goes through here).
        text = utc.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
    _last_formatted = (value, text)
    return text


def format_datetime_seconds(value: datetime) -> str:
    """``yyyy-MM-ddTHH:mm:ssZ``: the status API's format (no fraction)."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_datetime(text: str) -> datetime:
    """Parse ISO-8601 (``Z`` or offset, up to 7 fraction digits) into an aware UTC datetime."""
    text = text.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    # .NET writes 7 fraction digits; Python takes at most 6.
    dot = text.find(".")
    if dot != -1:
        end = dot + 1
        while end < len(text) and text[end].isdigit():
            end += 1
        if end - dot - 1 > 6:
            text = text[: dot + 7] + text[end:]
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _pascal(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


# Our field names whose DTFx names are not the plain PascalCase of ours.
_RENAMES = {"status": "OrchestrationStatus", "parent": "ParentInstance", "instance_id": "InstanceId"}


# Trace fields are written only when set: most histories have none, and the SDK reads every event.
_OPTIONAL = frozenset({"parent_trace_context", "client_span_id"})

_FieldMap = tuple[tuple[str, str, bool, Callable[[Any], Any] | None], ...]
_FIELD_MAPS: dict[type[HistoryEvent], _FieldMap] = {}


def _field_map(cls: type[HistoryEvent]) -> _FieldMap:
    """(our name, DTFx name, written only when not None, what turns a value that is not None
    into JSON — None: it is JSON already) of each field but the common ones."""
    found = _FIELD_MAPS.get(cls)
    if found is None:
        skip = ("event_id", "timestamp")
        found = _FIELD_MAPS[cls] = tuple(
            (f.name, _RENAMES.get(f.name, _pascal(f.name)), f.name in _OPTIONAL, _encoder(str(f.type)))
            for f in fields(cls)
            if f.name not in skip
        )
    return found


def _encoder(annotation: str) -> Callable[[Any], Any] | None:
    """What turns a value of a field so annotated into JSON (``_ENCODERS``); None: nothing does."""
    for name, encode in _ENCODERS:
        if name in annotation:
            return encode
    return None


def trace_context_to_dict(value: TraceContext) -> dict[str, Any]:
    """DTFx ``DistributedTraceContext`` as JSON (``ActivityStartTime`` is a DateTimeOffset there)."""
    return {
        "TraceParent": value.trace_parent,
        "TraceState": value.trace_state,
        "Id": value.id,
        "SpanId": value.span_id,
        "ActivityStartTime": format_datetime(value.activity_start_time) if value.activity_start_time else None,
    }


def trace_context_from_dict(data: Any) -> TraceContext | None:
    """Inverse of :func:`trace_context_to_dict`; None for anything without a ``TraceParent``."""
    if not isinstance(data, dict) or not isinstance(data.get("TraceParent"), str):
        return None
    start = data.get("ActivityStartTime")
    return TraceContext(
        trace_parent=data["TraceParent"],
        trace_state=data.get("TraceState"),
        id=data.get("Id"),
        span_id=data.get("SpanId"),
        activity_start_time=parse_datetime(start) if isinstance(start, str) and start else None,
    )


def _parent_to_dict(value: ParentInstance) -> dict[str, Any]:
    return {
        "Name": value.name,
        "Version": value.version,
        "TaskScheduleId": value.task_scheduled_id,
        "OrchestrationInstance": {"InstanceId": value.instance_id, "ExecutionId": value.execution_id},
    }


def _failure_to_dict(value: FailureDetails) -> dict[str, Any]:
    return {"ErrorType": value.error_type, "ErrorMessage": value.error_message, "StackTrace": value.stack_trace}


def _status_value(value: RuntimeStatus) -> str:
    return value.value


_ENCODERS: tuple[tuple[str, Callable[[Any], Any]], ...] = (
    ("datetime", format_datetime),
    ("RuntimeStatus", _status_value),
    ("ParentInstance", _parent_to_dict),
    ("FailureDetails", _failure_to_dict),
    ("TraceContext", trace_context_to_dict),
)


def event_to_dict(event: HistoryEvent) -> dict[str, Any]:
    """DTFx-shaped dict of one event (without ``IsPlayed``)."""
    out: dict[str, Any] = {
        "EventType": int(event.TYPE),
        "EventId": event.event_id,
        "Timestamp": format_datetime(event.timestamp),
    }
    if isinstance(event, ExecutionStarted):
        out["OrchestrationInstance"] = {"InstanceId": event.instance_id, "ExecutionId": event.execution_id}
        out["ParentInstance"] = _parent_to_dict(event.parent) if event.parent is not None else None
        out["Name"] = event.name
        # The SDK requires the key, null allowed (SDK ``models/history/HistoryEvent.py``).
        out["Version"] = event.version
        out["Input"] = event.input
        out["Tags"] = event.tags
        if event.scheduled_start_time is not None:
            out["ScheduledStartTime"] = format_datetime(event.scheduled_start_time)
        out["Generation"] = event.generation
        if event.parent_trace_context is not None:
            out["ParentTraceContext"] = trace_context_to_dict(event.parent_trace_context)
        return out
    for attr, key, optional, encode in _field_map(type(event)):
        value = getattr(event, attr)
        if value is None:
            if optional:
                continue
        elif encode is not None:
            value = encode(value)
        out[key] = value
    return out


def event_from_dict(data: dict[str, Any]) -> HistoryEvent:
    """Inverse of :func:`event_to_dict`; raises ``ValueError`` for an unknown or malformed event."""
    try:
        event_type = EventType(int(data["EventType"]))
        cls = EVENT_CLASSES[event_type]
    except (KeyError, ValueError) as exc:
        raise ValueError(f"unknown history event type: {data.get('EventType')!r}") from exc
    common: dict[str, Any] = {"event_id": int(data.get("EventId", -1)), "timestamp": parse_datetime(data["Timestamp"])}
    if cls is ExecutionStarted:
        inst = data.get("OrchestrationInstance") or {}
        parent = data.get("ParentInstance")
        return ExecutionStarted(
            **common,
            name=data["Name"],
            instance_id=inst.get("InstanceId", ""),
            execution_id=inst.get("ExecutionId", ""),
            input=data.get("Input"),
            version=data.get("Version"),
            parent=_decode_parent(parent) if parent else None,
            tags=data.get("Tags"),
            scheduled_start_time=parse_datetime(data["ScheduledStartTime"]) if data.get("ScheduledStartTime") else None,
            generation=int(data.get("Generation") or 0),
            parent_trace_context=trace_context_from_dict(data.get("ParentTraceContext")),
        )
    kwargs: dict[str, Any] = {}
    for attr, key, _, _ in _field_map(cls):
        if key not in data:
            continue
        value = data[key]
        if attr == "fire_at" and value is not None:
            value = parse_datetime(value)
        elif attr == "status":
            value = RuntimeStatus.parse(value)
        elif attr == "failure_details" and value is not None:
            value = FailureDetails(
                error_type=value.get("ErrorType", ""),
                error_message=value.get("ErrorMessage", ""),
                stack_trace=value.get("StackTrace"),
            )
        elif attr == "parent_trace_context":
            value = trace_context_from_dict(value)
        kwargs[attr] = value
    return cls(**common, **kwargs)


def _decode_parent(data: dict[str, Any]) -> ParentInstance:
    inst = data.get("OrchestrationInstance") or {}
    return ParentInstance(
        name=data.get("Name") or "",
        version=data.get("Version"),
        task_scheduled_id=int(data.get("TaskScheduleId", -1)),
        instance_id=inst.get("InstanceId", ""),
        execution_id=inst.get("ExecutionId", ""),
    )


def dumps_event(event: HistoryEvent) -> str:
    return dumps_compact(event_to_dict(event))


def loads_event(text: str) -> HistoryEvent:
    return event_from_dict(json.loads(text))
