"""History events, as the Durable Task Framework records them.

One frozen record per event type (DTFx ``DurableTask.Core.History``). Field names are the
snake_case of DTFx's ``[DataMember]`` names; ``core.wire`` is the only place that knows the
PascalCase JSON shapes. ``event_id`` is the sequence id for scheduling events (TaskScheduled,
TimerCreated, SubOrchestrationInstanceCreated, EventSent) and -1 for every other event.

``IsPlayed`` is not stored: an event is "played" when it belongs to an earlier episode, which
the episode builder knows when it serialises the history for the SDK.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum
from typing import ClassVar

from durable_ext.core.status import RuntimeStatus


class EventType(IntEnum):
    """DTFx ``EventType``; the numbers are part of the wire protocol (append only)."""

    ExecutionStarted = 0
    ExecutionCompleted = 1
    ExecutionFailed = 2
    ExecutionTerminated = 3
    TaskScheduled = 4
    TaskCompleted = 5
    TaskFailed = 6
    SubOrchestrationInstanceCreated = 7
    SubOrchestrationInstanceCompleted = 8
    SubOrchestrationInstanceFailed = 9
    TimerCreated = 10
    TimerFired = 11
    OrchestratorStarted = 12
    OrchestratorCompleted = 13
    EventSent = 14
    EventRaised = 15
    ContinueAsNew = 16
    GenericEvent = 17
    HistoryState = 18
    ExecutionSuspended = 19
    ExecutionResumed = 20
    ExecutionRewound = 21


@dataclass(frozen=True, slots=True, kw_only=True)
class ParentInstance:
    """Who started a sub-orchestration, and with which task id it waits for the result."""

    name: str
    instance_id: str
    execution_id: str
    task_scheduled_id: int
    version: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TraceContext:
    """DTFx ``DistributedTraceContext``: the W3C trace context an event carries through history.

    ``trace_parent`` / ``trace_state`` are the W3C ``traceparent`` / ``tracestate`` of the span the
    event continues (the parent of the work it starts). On an ``ExecutionStarted``, ``id``,
    ``span_id`` and ``activity_start_time`` are the orchestration's own span, fixed by its first
    episode, so every later episode — after a restart, on another worker — reports to that one span.
    """

    trace_parent: str
    trace_state: str | None = None
    id: str | None = None
    span_id: str | None = None
    activity_start_time: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class HistoryEvent:
    """Base of every event: the id and the time it was recorded."""

    TYPE: ClassVar[EventType]
    event_id: int = -1
    timestamp: datetime

    @property
    def event_type(self) -> EventType:
        return self.TYPE


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutionStarted(HistoryEvent):
    TYPE = EventType.ExecutionStarted
    name: str
    instance_id: str
    execution_id: str
    input: str | None = None
    version: str | None = None
    parent: ParentInstance | None = None
    tags: dict[str, str] | None = None
    scheduled_start_time: datetime | None = None
    generation: int = 0
    parent_trace_context: TraceContext | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutionCompleted(HistoryEvent):
    TYPE = EventType.ExecutionCompleted
    status: RuntimeStatus
    result: str | None = None
    failure_details: FailureDetails | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutionTerminated(HistoryEvent):
    TYPE = EventType.ExecutionTerminated
    input: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskScheduled(HistoryEvent):
    TYPE = EventType.TaskScheduled
    name: str
    input: str | None = None
    version: str | None = ""
    parent_trace_context: TraceContext | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskCompleted(HistoryEvent):
    TYPE = EventType.TaskCompleted
    task_scheduled_id: int
    result: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskFailed(HistoryEvent):
    TYPE = EventType.TaskFailed
    task_scheduled_id: int
    reason: str | None = None
    details: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SubOrchestrationInstanceCreated(HistoryEvent):
    TYPE = EventType.SubOrchestrationInstanceCreated
    name: str
    instance_id: str
    input: str | None = None
    version: str | None = None
    #: The span id of the parent's client span for this sub-orchestration (DTFx ``ClientSpanId``).
    client_span_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SubOrchestrationInstanceCompleted(HistoryEvent):
    TYPE = EventType.SubOrchestrationInstanceCompleted
    task_scheduled_id: int
    result: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SubOrchestrationInstanceFailed(HistoryEvent):
    TYPE = EventType.SubOrchestrationInstanceFailed
    task_scheduled_id: int
    reason: str | None = None
    details: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TimerCreated(HistoryEvent):
    TYPE = EventType.TimerCreated
    fire_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class TimerFired(HistoryEvent):
    TYPE = EventType.TimerFired
    timer_id: int
    fire_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class OrchestratorStarted(HistoryEvent):
    TYPE = EventType.OrchestratorStarted


@dataclass(frozen=True, slots=True, kw_only=True)
class OrchestratorCompleted(HistoryEvent):
    TYPE = EventType.OrchestratorCompleted


@dataclass(frozen=True, slots=True, kw_only=True)
class EventSent(HistoryEvent):
    TYPE = EventType.EventSent
    instance_id: str
    name: str
    input: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class EventRaised(HistoryEvent):
    TYPE = EventType.EventRaised
    name: str
    input: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class GenericEvent(HistoryEvent):
    TYPE = EventType.GenericEvent
    data: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutionSuspended(HistoryEvent):
    TYPE = EventType.ExecutionSuspended
    reason: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutionResumed(HistoryEvent):
    TYPE = EventType.ExecutionResumed
    reason: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutionRewound(HistoryEvent):
    TYPE = EventType.ExecutionRewound
    reason: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FailureDetails:
    """DTFx ``FailureDetails``: why an orchestration or task failed."""

    error_type: str
    error_message: str
    stack_trace: str | None = None


EVENT_CLASSES: dict[EventType, type[HistoryEvent]] = {
    cls.TYPE: cls
    for cls in (
        ExecutionStarted,
        ExecutionCompleted,
        ExecutionTerminated,
        TaskScheduled,
        TaskCompleted,
        TaskFailed,
        SubOrchestrationInstanceCreated,
        SubOrchestrationInstanceCompleted,
        SubOrchestrationInstanceFailed,
        TimerCreated,
        TimerFired,
        OrchestratorStarted,
        OrchestratorCompleted,
        EventSent,
        EventRaised,
        GenericEvent,
        ExecutionSuspended,
        ExecutionResumed,
        ExecutionRewound,
    )
}
