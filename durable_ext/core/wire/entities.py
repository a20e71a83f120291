"""The JSON of durable entities: request and response messages, and the SDK's entity batch.

- Request messages (``EventRaised{Name: "op"}.Input``, and ``EventSent.Input`` in the caller's
  history) are the extension's ``RequestMessage`` (EXT ``EntityScheduler/RequestMessage.cs``).
- Responses to a calling orchestration (``EventRaised{Name: <request id>}.Input``) are its
  ``ResponseMessage`` (EXT ``EntityScheduler/ResponseMessage.cs``).
- One batch is one call of the SDK's entity wrapper (SDK ``entity.py``): the batch JSON is what
  ``DurableEntityContext.from_json`` reads, the result what ``EntityState.to_json`` writes
  (SDK ``models/entities/EntityState.py``).
- An entity's instance row keeps the ids of the last operations it applied in its
  ``custom_status`` as ``{"recentRequests": [...]}`` (our own record, see :mod:`core.entities`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from durable_ext.core.wire.orchestration import stored_input

# -- request and response messages -------------------------------------------------------------


@dataclass(slots=True)
class EntityRequest:
    """One operation asked of an entity (a ``RequestMessage``)."""

    operation: str
    input: str | None
    id: str
    signal: bool
    parent: str | None
    parent_execution: str | None


def request_message(
    operation: str,
    input_text: str | None,
    request_id: str,
    *,
    signal: bool,
    parent: str | None = None,
    parent_execution: str | None = None,
) -> str:
    """The C# ``RequestMessage`` JSON (keys omitted when default)."""
    message: dict[str, Any] = {"op": operation}
    if signal:
        message["signal"] = True
    if input_text is not None:
        message["input"] = input_text
    message["id"] = request_id
    if parent is not None:
        message["parent"] = parent
    if parent_execution is not None:
        message["parentExecution"] = parent_execution
    return json.dumps(message)


def parse_request_message(text: str | None) -> EntityRequest:
    """Raises ``ValueError``, ``KeyError`` or ``TypeError`` for a malformed message."""
    data = json.loads(text or "")
    return EntityRequest(
        operation=str(data["op"]),
        input=data.get("input"),
        id=str(data.get("id", "")),
        signal=bool(data.get("signal", False)),
        parent=data.get("parent"),
        parent_execution=data.get("parentExecution"),
    )


def entity_request_id(text: str | None) -> str | None:
    """The ``id`` of an entity request message (``EventSent.Input``), or None if it has none."""
    try:
        found = json.loads(text or "")["id"]
    except (ValueError, KeyError, TypeError):
        return None
    return found if isinstance(found, str) else None


def response_message(result: Any, *, is_error: bool) -> str:
    """A ``ResponseMessage``; ``result`` must reach the SDK as a string (it calls ``.strip()`` on
    it), so anything else is sent as its JSON text."""
    body: dict[str, Any] = {"result": result if isinstance(result, str) else json.dumps(result)}
    if is_error:
        body["exceptionType"] = "Error"
    return json.dumps(body)


def error_response_message(error: str) -> str:
    """The ``ResponseMessage`` of an operation that never ran: the error text as its result."""
    return response_message(json.dumps(error), is_error=True)


def is_entity_error_response(text: str | None) -> bool:
    """Whether an entity's response message (``EventRaised.Input``) reports a failed operation."""
    try:
        return "exceptionType" in json.loads(text or "")
    except (ValueError, TypeError):
        return False


# -- one batch through the SDK -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OperationResult:
    result: Any
    is_error: bool


@dataclass(frozen=True, slots=True)
class EntityBatchResult:
    """The SDK's ``EntityState``: one result per operation, whether the entity exists afterwards,
    and its state (JSON text)."""

    results: list[OperationResult]
    entity_exists: bool
    entity_state: str | None


def entity_batch_json(
    name: str, key: str, *, exists: bool, state: str | None, requests: Sequence[EntityRequest]
) -> str:
    """The batch the SDK's entity wrapper takes: the entity, its state, the operations in order."""
    batch = {
        "self": {"name": name, "key": key},
        "exists": exists,
        "state": state,
        # The request input is the caller's df_dumps text; the SDK wants it JSON-encoded again.
        "batch": [{"name": r.operation, "input": stored_input(r.input), "isSignal": r.signal} for r in requests],
    }
    return json.dumps(batch)


def parse_entity_batch_result(text: str, operations: int) -> EntityBatchResult:
    """Raises (``ValueError``, ``KeyError``, ``TypeError``, ``AttributeError``) when ``text`` is not
    an ``EntityState`` with one result per operation."""
    result = json.loads(text)
    results = result["results"]
    if len(results) != operations:
        raise ValueError(f"the entity returned {len(results)} results for {operations} operations")
    return EntityBatchResult(
        results=[OperationResult(res.get("result"), bool(res.get("isError"))) for res in results],
        entity_exists=bool(result.get("entityExists")),
        entity_state=result.get("entityState"),
    )


# -- the entity's own record -------------------------------------------------------------------


def recent_requests_status(recent: list[str]) -> str:
    return json.dumps({"recentRequests": recent})


def parse_recent_requests(custom_status: str | None) -> list[str]:
    """The ids in an entity's ``custom_status``; [] when it has none or it is not ours."""
    if not custom_status:
        return []
    try:
        recent = json.loads(custom_status).get("recentRequests", [])
    except (ValueError, AttributeError):
        return []
    return [r for r in recent if isinstance(r, str)]
