"""The ``MessageData`` envelope every control-queue and work-item message carries
(DTFx ``AzureStorage/MessageData.cs``, written by ``MessageManager``).

DTFx serialises it with Newtonsoft ``TypeNameHandling.Objects`` and assembly-less type names, so
``$type`` is the first property of every typed object and the event's ``EventType`` is numeric
(tables use the name). We write exactly that shape, minus runtime-specific ``$type`` values
(``System.Collections.Generic.Dictionary…``), and read it back tolerantly: raw JSON or Base64
bodies, numeric or named ``EventType``, any extra ``$type`` ignored.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import uuid
from dataclasses import dataclass
from typing import Any

from durable_ext.core.events import EventType, HistoryEvent
from durable_ext.core.messages import TaskMessage
from durable_ext.core.wire import event_from_dict, event_to_dict
from durable_ext.errors import ProviderError

MESSAGE_DATA_TYPE = "DurableTask.AzureStorage.MessageData"
TASK_MESSAGE_TYPE = "DurableTask.Core.TaskMessage"
INSTANCE_TYPE = "DurableTask.Core.OrchestrationInstance"
_NESTED_TYPES = {
    "ParentInstance": "DurableTask.Core.ParentInstance",
    "FailureDetails": "DurableTask.Core.FailureDetails",
    "ParentTraceContext": "DurableTask.Core.Tracing.DistributedTraceContext",
}
EMPTY_ACTIVITY_ID = "00000000-0000-0000-0000-000000000000"

# DTFx: Interlocked.Increment of a process-wide counter, an ordering tie-breaker only.
_sequence = itertools.count(1)


class EnvelopeError(ProviderError, ValueError):
    """A queue message that is not a readable ``MessageData`` (treated as a poison message)."""


@dataclass(frozen=True, slots=True)
class Envelope:
    """A decoded ``MessageData``; ``message`` is None only for a large-message wrapper."""

    message: TaskMessage | None
    activity_id: str
    sequence_number: int
    episode: int | None = None
    sender: tuple[str, str] | None = None
    compressed_blob_name: str | None = None


def event_class_name(event_type: EventType) -> str:
    """``DurableTask.Core.History.<Class>``: the class is the type name + "Event" (GenericEvent as is)."""
    name = event_type.name
    return f"DurableTask.Core.History.{name if name.endswith('Event') else name + 'Event'}"


def _typed(type_name: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"$type": type_name, **body}


def event_json(event: HistoryEvent) -> dict[str, Any]:
    """The polymorphic ``Event`` object: ``$type`` first, numeric ``EventType``, ``IsPlayed``."""
    body = event_to_dict(event)
    body["IsPlayed"] = False
    for key, type_name in _NESTED_TYPES.items():
        value = body.get(key)
        if isinstance(value, dict):
            if isinstance(value.get("OrchestrationInstance"), dict):
                value = {**value, "OrchestrationInstance": _typed(INSTANCE_TYPE, value["OrchestrationInstance"])}
            body[key] = _typed(type_name, value)
    if isinstance(body.get("OrchestrationInstance"), dict):
        body["OrchestrationInstance"] = _typed(INSTANCE_TYPE, body["OrchestrationInstance"])
    return _typed(event_class_name(event.TYPE), body)


def new_activity_id() -> str:
    return str(uuid.uuid4())


def encode(
    message: TaskMessage,
    *,
    activity_id: str | None = None,
    episode: int | None = None,
    sender: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """The full ``MessageData`` for ``message``. ``sender`` is (instance id, execution id); clients send none."""
    out: dict[str, Any] = {
        "$type": MESSAGE_DATA_TYPE,
        "ActivityId": activity_id or new_activity_id(),
        "TaskMessage": {
            "$type": TASK_MESSAGE_TYPE,
            "Event": event_json(message.event),
            "SequenceNumber": 0,
            "OrchestrationInstance": _typed(
                INSTANCE_TYPE, {"InstanceId": message.instance_id, "ExecutionId": message.execution_id}
            ),
        },
        "CompressedBlobName": None,
        "SequenceNumber": next(_sequence),
    }
    if episode is not None:  # EmitDefaultValue=false
        out["Episode"] = episode
    # Sender has no $type (TypeNameHandling.None); clients send the empty instance.
    instance, execution = sender or ("", "")
    out["Sender"] = {"InstanceId": instance, "ExecutionId": execution}
    out["SerializableTraceContext"] = None
    return out


def wrapper(blob_name: str) -> dict[str, Any]:
    """The queue-side stand-in for a message stored as a blob (parameterless ``MessageData``
    with ``CompressedBlobName``, as ``MessageManager.SerializeMessageDataAsync`` writes it)."""
    return {
        "$type": MESSAGE_DATA_TYPE,
        "ActivityId": EMPTY_ACTIVITY_ID,
        "TaskMessage": None,
        "CompressedBlobName": blob_name,
        "SequenceNumber": 0,
        "SerializableTraceContext": None,
    }


def dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def to_body(text: str, *, base64_encode: bool) -> str:
    """The queue message body for a serialised envelope."""
    return base64.b64encode(text.encode("utf-8")).decode("ascii") if base64_encode else text


def from_body(body: str | bytes) -> dict[str, Any]:
    """Parse a body written by any DTFx version: raw JSON if it starts with ``{``, else Base64
    (DTFx 1.x writes Base64, 2.x raw UTF-8 JSON; 2.x's
    ``MessageManager.DeserializeQueueMessageAsync`` reads both this way)."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    text = body.lstrip()
    if not text.startswith("{"):
        try:
            text = base64.b64decode(text, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise EnvelopeError(f"queue message is neither JSON nor Base64 JSON: {exc}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise EnvelopeError(f"queue message is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise EnvelopeError("queue message is not a JSON object")
    return data


def decode(data: dict[str, Any]) -> Envelope:
    """An :class:`Envelope` from a parsed ``MessageData``; raises ``EnvelopeError`` when malformed."""
    blob = data.get("CompressedBlobName") or None
    task = data.get("TaskMessage")
    sender = data.get("Sender") or None
    try:
        message = _task_message(task) if task else None
        if message is None and blob is None:
            raise EnvelopeError("MessageData has neither a TaskMessage nor a CompressedBlobName")
        return Envelope(
            message=message,
            activity_id=str(data.get("ActivityId") or EMPTY_ACTIVITY_ID),
            sequence_number=int(data.get("SequenceNumber") or 0),
            episode=int(data["Episode"]) if data.get("Episode") is not None else None,
            sender=(sender.get("InstanceId") or "", sender.get("ExecutionId") or "") if sender else None,
            compressed_blob_name=blob,
        )
    except EnvelopeError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise EnvelopeError(f"malformed MessageData: {exc}") from exc


def instance_id_of(data: dict[str, Any]) -> str | None:
    """Best-effort instance id of a (possibly malformed) envelope, for poison-message logs."""
    try:
        return data["TaskMessage"]["OrchestrationInstance"]["InstanceId"]
    except (KeyError, TypeError):
        return None


def _task_message(task: dict[str, Any]) -> TaskMessage:
    instance = task.get("OrchestrationInstance") or {}
    event = dict(task["Event"])
    event_type = event.get("EventType")
    if isinstance(event_type, str) and not event_type.lstrip("-").isdigit():
        event["EventType"] = EventType[event_type].value  # tolerate named enums
    return TaskMessage(
        instance_id=instance["InstanceId"],
        event=event_from_dict(_strip_types(event)),
        execution_id=instance.get("ExecutionId") or None,
    )


def _strip_types(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_types(v) for k, v in value.items() if k != "$type"}
    if isinstance(value, list):
        return [_strip_types(v) for v in value]
    return value
