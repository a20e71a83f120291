"""Messages between instances, activities and clients, and the instance records a hub keeps.

A ``TaskMessage`` (DTFx ``TaskMessage``) carries one history event to one instance: a start, a
task result, a timer, a raised event, a terminate request… Activity work items are
``TaskMessage``s whose event is the ``TaskScheduled`` that asked for them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from durable_ext.core.events import ExecutionStarted, HistoryEvent
from durable_ext.core.status import RuntimeStatus


@dataclass(frozen=True, slots=True)
class TaskMessage:
    """One event addressed to an instance.

    ``execution_id`` is None for management messages (raise event, terminate, …): they go to
    whatever execution is current. A message naming another execution is stale and dropped.
    """

    instance_id: str
    event: HistoryEvent
    execution_id: str | None = None


@dataclass(frozen=True, slots=True)
class InstanceState:
    """What a hub knows about an instance without reading its history (the Instances row)."""

    instance_id: str
    name: str
    runtime_status: RuntimeStatus
    created_time: datetime
    last_updated_time: datetime
    execution_id: str | None = None
    version: str | None = None
    input: str | None = None
    output: str | None = None
    custom_status: str | None = None
    completed_time: datetime | None = None
    parent_instance_id: str | None = None

    def evolve(self, **changes: Any) -> InstanceState:
        """``dataclasses.replace(self, **changes)`` without its walk over the field objects (an
        episode makes one or two)."""
        values = {name: getattr(self, name) for name in _STATE_FIELDS}
        values.update(changes)
        return InstanceState(**values)


_STATE_FIELDS = tuple(InstanceState.__dataclass_fields__)


def pending_state(instance_id: str, started: ExecutionStarted, at: datetime) -> InstanceState:
    """A new instance as its ``ExecutionStarted`` describes it, Pending since ``at``."""
    return InstanceState(
        instance_id=instance_id,
        name=started.name,
        runtime_status=RuntimeStatus.Pending,
        created_time=at,
        last_updated_time=at,
        execution_id=started.execution_id,
        version=started.version,
        input=started.input,
        parent_instance_id=started.parent.instance_id if started.parent else None,
    )


@dataclass(frozen=True, slots=True)
class InstanceQuery:
    """Filter and page for listing or purging instances (the HTTP API's query parameters)."""

    created_from: datetime | None = None
    created_to: datetime | None = None
    statuses: frozenset[RuntimeStatus] | None = None
    instance_id_prefix: str | None = None
    #: Only instances of this orchestrator (or entity) name, exactly as stored.
    name: str | None = None
    page_size: int = 100
    continuation_token: str | None = None
    include_entities: bool = False
    include_input: bool = True


@dataclass(frozen=True, slots=True)
class InstancePage:
    instances: list[InstanceState]
    continuation_token: str | None = None


@dataclass(slots=True)
class OrchestrationWorkItem:
    """A locked instance with its current execution's history and the messages to process.

    ``lock_token`` identifies this lock to the provider that issued it; ``messages`` pairs each
    message with the provider's id for it, so the commit can delete exactly what was consumed.
    ``provider_state`` is what the issuing provider read along with the item and needs to commit
    it (ETags, the row as read): a frozen record of that provider's own type, opaque to everyone
    else — the dispatcher only hands the item back.
    """

    instance_id: str
    lock_token: str
    state: InstanceState | None
    history: list[HistoryEvent]
    messages: list[tuple[str, TaskMessage]]
    locked_until: datetime | None = None
    provider_state: object = None


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """A message a checkpoint sends; ``visible_at`` delays it (timers)."""

    message: TaskMessage
    visible_at: datetime | None = None


@dataclass(slots=True)
class OrchestrationCommit:
    """Everything one episode changes, committed atomically (or not at all).

    * ``new_history`` is appended after the work item's history, unless ``replace_history``
      is set (continue-as-new, rewind), in which case it replaces the stored history of the
      instance and ``state.execution_id`` names the new execution.
    * ``state`` is the instance row after the episode, or None to leave the row as it is (an
      episode that only dropped stale messages); the provider unlocks the instance either way.
    * ``messages`` go to instance inboxes (timers, sub-orchestration starts and results, events
      to other instances); a start message to an instance that does not exist creates it
      (Pending).
    * ``activities`` are new activity work items.
    * every message of the work item counts as consumed.
    """

    state: InstanceState | None
    new_history: list[HistoryEvent]
    messages: list[OutboundMessage] = field(default_factory=list)
    activities: list[TaskMessage] = field(default_factory=list)
    replace_history: bool = False


@dataclass(slots=True)
class ActivityWorkItem:
    """A locked activity task: the ``TaskScheduled`` event and the orchestration that wants it."""

    id: str
    lock_token: str
    message: TaskMessage
    dequeue_count: int = 1
    locked_until: datetime | None = None
