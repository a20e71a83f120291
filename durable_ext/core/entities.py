"""Durable entities: one batch of operations per episode, state committed once per batch.

An entity is an instance whose id is ``@name@key`` (name lower-cased, as Durable Functions
does). Its inbox holds ``EventRaised{Name: "op", Input: <RequestMessage JSON>}`` messages from
orchestrations (``call_entity`` / ``signal_entity``) and clients (signals). ``process_entity_batch``
hands every queued operation, in arrival order, to the entity function in one batch
(EXT ``EntityTriggerAttributeBindingProvider.EntityContextToString``), stores the returned state, and answers each call (not signal) with an
``EventRaised{Name: <request id>}`` to the calling orchestration (EXT ``EntityScheduler/ResponseMessage.cs``).

Storage shape: the entity's state is the instance row's ``input``; ``runtime_status`` is
Running while the entity exists and Completed once deleted (or never created). Entities keep
no history. The row's ``custom_status`` remembers the ids of the last operations applied
(``{"recentRequests": [...]}``): a provider that delivers at least once (Azure Storage can
deliver a message again when a worker dies between writing the state and deleting the message)
then still applies each operation once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from durable_ext.core import events as e
from durable_ext.core.kinds import DurableKind, unknown_function
from durable_ext.core.messages import (
    InstanceState,
    OrchestrationCommit,
    OrchestrationWorkItem,
    OutboundMessage,
    TaskMessage,
)
from durable_ext.core.status import RuntimeStatus
from durable_ext.core.wire.entities import (
    EntityRequest,
    entity_batch_json,
    error_response_message,
    parse_entity_batch_result,
    parse_recent_requests,
    parse_request_message,
    recent_requests_status,
    response_message,
)

#: ``entity(batch_json) -> result_json``; raises as the SDK's ``Entity.handle`` does.
InvokeEntity = Callable[[str], str]

OPERATION_EVENT = "op"
#: How many applied request ids an entity remembers; more than one delivery batch, and small
#: enough (≈ 17 KB) for a table property.
RECENT_REQUESTS = 500


def entity_id(name: str, key: str) -> str:
    return f"@{name.lower()}@{key}"


def parse_entity_id(instance_id: str) -> tuple[str, str] | None:
    """``@name@key`` → (name, key); the key may itself contain '@' (C# splits at the second '@')."""
    if not instance_id.startswith("@"):
        return None
    cut = instance_id.find("@", 1)
    if cut == -1:
        return None
    return instance_id[1:cut], instance_id[cut + 1 :]


@dataclass(slots=True)
class EntityReport:
    commit: OrchestrationCommit
    name: str
    operations: int = 0
    failed_operations: int = 0
    error: str | None = None
    notes: list[str] = field(default_factory=list)


def _requests(item: OrchestrationWorkItem) -> tuple[list[EntityRequest], list[str]]:
    requests, notes = [], []
    for _, message in item.messages:
        event = message.event
        if not isinstance(event, e.EventRaised) or event.name != OPERATION_EVENT:
            notes.append(f"ignored a {event.TYPE.name} message sent to an entity")
            continue
        try:
            requests.append(parse_request_message(event.input))
        except (ValueError, KeyError, TypeError):
            notes.append(f"dropped a malformed entity request: {event.input!r:.200}")
    return requests, notes


def process_entity_batch(
    item: OrchestrationWorkItem, *, now: datetime, invoke: InvokeEntity | None, known_names: list[str]
) -> EntityReport:
    """Run every queued operation of one entity as one batch; never raises."""
    parsed = parse_entity_id(item.instance_id)
    name, key = parsed if parsed else (item.instance_id, "")
    requests, notes = _requests(item)
    state = item.state
    exists = state is not None and state.runtime_status is RuntimeStatus.Running
    recent = _recent_requests(state)
    seen = set(recent)
    fresh = []
    for r in requests:
        # A message sent twice (a storage write retried after it had succeeded) may arrive in the
        # same batch as its first copy, or after it: applied once either way.
        if r.id and r.id in seen:
            continue
        if r.id:
            seen.add(r.id)
        fresh.append(r)
    if len(fresh) < len(requests):
        notes.append(f"skipped {len(requests) - len(fresh)} operation(s) already applied (delivered again)")
    requests = fresh
    if not requests:
        return EntityReport(OrchestrationCommit(state=None, new_history=[]), name, notes=notes)
    if invoke is None:
        error = unknown_function(name, DurableKind.ENTITY, known_names)
        return _answer_all_with_error(item, requests, error, name, now, notes)
    batch = entity_batch_json(
        name, key, exists=exists, state=state.input if exists and state else None, requests=requests
    )
    try:
        result = parse_entity_batch_result(invoke(batch), len(requests))
    except Exception as exc:  # the entity function or the SDK broke the whole batch
        return _answer_all_with_error(item, requests, f"{type(exc).__name__}: {exc}", name, now, notes)
    messages = [
        _response(r, response_message(res.result, is_error=res.is_error), now)
        for r, res in zip(requests, result.results, strict=True)
        if not r.signal and r.parent
    ]
    recent = (recent + [r.id for r in requests if r.id])[-RECENT_REQUESTS:]
    new_state = _entity_state(item, name, now, result.entity_exists, result.entity_state, state, recent)
    return EntityReport(
        OrchestrationCommit(state=new_state, new_history=[], messages=messages),
        name,
        operations=len(requests),
        failed_operations=sum(1 for res in result.results if res.is_error),
        notes=notes,
    )


def _entity_state(
    item: OrchestrationWorkItem,
    name: str,
    now: datetime,
    exists: bool,
    entity_state: str | None,
    old: InstanceState | None,
    recent: list[str],
) -> InstanceState:
    return InstanceState(
        instance_id=item.instance_id,
        name=name,
        runtime_status=RuntimeStatus.Running if exists else RuntimeStatus.Completed,
        created_time=old.created_time if old else now,
        last_updated_time=now,
        input=entity_state if exists else None,
        custom_status=recent_requests_status(recent),
    )


def _recent_requests(state: InstanceState | None) -> list[str]:
    return parse_recent_requests(state.custom_status) if state is not None else []


def _response(request: EntityRequest, body: str, now: datetime) -> OutboundMessage:
    event = e.EventRaised(timestamp=now, name=request.id, input=body)
    return OutboundMessage(TaskMessage(request.parent or "", event, request.parent_execution))


def _answer_all_with_error(
    item: OrchestrationWorkItem, requests: list[EntityRequest], error: str, name: str, now: datetime, notes: list[str]
) -> EntityReport:
    """Nothing ran: state unchanged; callers get the error so they do not wait forever."""
    messages = [_response(r, error_response_message(error), now) for r in requests if not r.signal and r.parent]
    return EntityReport(
        OrchestrationCommit(state=None, new_history=[], messages=messages),
        name,
        operations=len(requests),
        failed_operations=len(requests),
        error=error,
        notes=notes,
    )
