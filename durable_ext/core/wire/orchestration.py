"""The SDK's orchestrator protocol: the trigger JSON we send, the ``OrchestratorState`` it answers.

One episode is one call of the SDK's orchestrator wrapper (``Orchestrator.create(fn)``'s
``handle``, SDK ``orchestrator.py``): it takes the orchestration-trigger JSON the Durable
Functions host sends (SDK ``DurableOrchestrationContext.from_json``) and returns the
``OrchestratorState`` JSON (SDK ``models/OrchestratorState.py``: ``isDone``, ``schemaVersion``,
``actions``, ``output``, ``error``, ``customStatus``). When the orchestrator function raises, the
wrapper raises too, with that state JSON appended to the message after ``$OutOfProcData$:``.

Actions (SDK ``models/actions``) are parsed into the typed records of :mod:`core.actions`. The SDK
returns the *cumulative* action list of the execution on every episode (schema V3: ``actions``
is ``[[...flat list...]]``); :func:`parse_actions` accepts that and the older V1 shape.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from durable_ext.core import actions as a
from durable_ext.core.events import HistoryEvent
from durable_ext.core.wire.history import event_to_dict
from durable_ext.core.wire.jsontext import dumps

# -- the trigger JSON --------------------------------------------------------------------------


def event_json(event: HistoryEvent, *, played: bool) -> str:
    """One history entry of the trigger JSON, exactly as ``json.dumps`` writes it inside the list."""
    d = event_to_dict(event)
    d["IsPlayed"] = played
    return dumps(d)


def trigger_event(event: HistoryEvent, *, played: bool) -> dict[str, Any]:
    """One history entry as the SDK reads it from the trigger JSON (JSON text → dict), for code that
    hands events to the SDK without the text in between.

    ``event_to_dict`` builds only JSON values (str, int, bool, None, dicts of them), so the dict is
    what ``json.loads(event_json(...))`` gives, without the round trip; it shares nothing with the
    event (``Tags``, the one value taken from it by reference, is copied)."""
    d = event_to_dict(event)
    d["IsPlayed"] = played
    tags = d.get("Tags")
    if tags is not None:
        d["Tags"] = json.loads(json.dumps(tags))
    return d


def context_input(execution_input: str | None) -> Any:
    """The ``input`` value of the trigger JSON for a stored ``ExecutionStarted.Input``.

    The host sends the parsed JSON token; the SDK turns a dict back into text and ``df_loads``
    everything else, so a number or a list would break it. Those are passed as their JSON text,
    which decodes to the same value.
    """
    if execution_input is None:
        return None
    try:
        value = json.loads(execution_input)
    except ValueError:
        return execution_input
    if isinstance(value, str | dict) or value is None:
        return value
    return execution_input


def context_json(
    history: list[str],
    *,
    instance_id: str,
    parent_instance_id: str | None,
    execution_input: str | None,
    replaying: bool,
) -> str:
    """The orchestration-trigger JSON around ``history`` (entries already written by :func:`event_json`)."""
    rest = dumps(_context_fields(instance_id, parent_instance_id, execution_input, replaying))
    # The same text json.dumps would write for {"history": [...], **rest}, without re-encoding history.
    return '{"history": [' + ", ".join(history) + "], " + rest[1:]


def context_dict(
    events: list[HistoryEvent],
    *,
    instance_id: str,
    parent_instance_id: str | None,
    execution_input: str | None,
) -> dict[str, Any]:
    """What the SDK's ``from_json`` reads from :func:`context_json` for ``events``, all of them new
    (a first episode), without the text in between (see :func:`trigger_event`)."""
    fields = _context_fields(instance_id, parent_instance_id, execution_input, replaying=False)
    fields["history"] = [trigger_event(event, played=False) for event in events]
    return fields


def _context_fields(
    instance_id: str, parent_instance_id: str | None, execution_input: str | None, replaying: bool
) -> dict[str, Any]:
    return {
        "input": context_input(execution_input),
        "instanceId": instance_id,
        "isReplaying": replaying,
        "parentInstanceId": parent_instance_id,
        # What the extension sends so the SDK emits schema V3 actions.
        "upperSchemaVersion": 1,
        "upperSchemaVersionNew": 2,
        # Null keeps the SDK from splitting long timers into chains of its own.
        "longRunningTimerIntervalDuration": None,
        "maximumShortTimerDuration": None,
        "defaultHttpAsyncRequestSleepTimeMillseconds": 30000,
    }


def stored_input(text: str | None) -> str | None:
    """A ``df_dumps`` text an action carries (a sub-orchestration's or an entity operation's input),
    JSON-encoded again: the host stores and forwards it as a JSON string."""
    return json.dumps(text) if text is not None else None


# -- what the orchestrator returns -------------------------------------------------------------

_ERROR_LABEL = "\n\n$OutOfProcData$:"


@dataclass(frozen=True, slots=True)
class OrchestratorState:
    """The SDK's ``OrchestratorState``. ``output`` and ``custom_status`` are JSON texts (None when
    absent); ``actions`` is the raw list, parsed by :func:`parse_actions` once the state is known to
    carry no error."""

    is_done: bool
    output: str | None
    custom_status: str | None
    error: str | None
    actions: Any
    schema_version: int | None


def parse_orchestrator_state(raw: str) -> OrchestratorState:
    """Raises ``ValueError`` when ``raw`` is not a JSON object."""
    state = json.loads(raw)
    if not isinstance(state, dict):
        raise ValueError(f"orchestrator returned {type(state).__name__}, expected an object")
    custom = state.get("customStatus")
    error = state.get("error")
    return OrchestratorState(
        is_done=bool(state.get("isDone")),
        output=json.dumps(state["output"]) if "output" in state else None,
        custom_status=json.dumps(custom) if custom is not None else None,
        error=str(error) if error else None,
        actions=state.get("actions"),
        schema_version=state.get("schemaVersion"),
    )


def split_failure(message: str) -> tuple[str, str | None]:
    """The text of the SDK's orchestrator failure and the ``OrchestratorState`` JSON appended to it
    (None when there is none)."""
    cut = message.rfind(_ERROR_LABEL)
    if cut == -1:
        return message, None
    return message[:cut], message[cut + len(_ERROR_LABEL) :]


# -- actions -----------------------------------------------------------------------------------


def _retry(data: dict[str, Any]) -> a.RetryOptions:
    opts = data.get("retryOptions") or {}
    return a.RetryOptions(
        first_retry_interval_ms=int(opts.get("firstRetryIntervalInMilliseconds", 0)),
        max_attempts=int(opts.get("maxNumberOfAttempts", 1)),
    )


def parse_action(data: dict[str, Any]) -> a.Action:
    try:
        kind = a.ActionType(int(data["actionType"]))
    except (KeyError, ValueError) as exc:
        raise a.ActionParseError(f"unknown action: {data!r}") from exc
    match kind:
        case a.ActionType.CallActivity:
            return a.CallActivity(data["functionName"], data.get("input"))
        case a.ActionType.CallActivityWithRetry:
            return a.CallActivity(data["functionName"], data.get("input"), _retry(data))
        case a.ActionType.CallSubOrchestrator | a.ActionType.CallSubOrchestratorWithRetry:
            return a.CallSubOrchestrator(
                data["functionName"],
                data.get("input"),
                data.get("instanceId"),
                data.get("version"),
                _retry(data) if kind is a.ActionType.CallSubOrchestratorWithRetry else None,
            )
        case a.ActionType.CallHttp:
            return a.CallHttp(data.get("httpRequest") or {})
        case a.ActionType.CreateTimer:
            return a.CreateTimer(data["fireAt"], bool(data.get("isCanceled", False)))
        case a.ActionType.WaitForExternalEvent:
            return a.WaitForExternalEvent(data["externalEventName"])
        case a.ActionType.CallEntity:
            return a.CallEntity(data["instanceId"], data["operation"], data.get("input"))
        case a.ActionType.SignalEntity:
            return a.SignalEntity(data["instanceId"], data["operation"], data.get("input"))
        case a.ActionType.ContinueAsNew:
            new_input = data.get("input")
            return a.ContinueAsNew(json.dumps(new_input) if new_input is not None else None)
        case a.ActionType.WhenAll:
            return a.WhenAll(tuple(parse_action(c) for c in data.get("compoundActions", ())))
        case a.ActionType.WhenAny:
            return a.WhenAny(tuple(parse_action(c) for c in data.get("compoundActions", ())))
    raise a.ActionParseError(f"unsupported action type {kind.name}")


def parse_actions(raw: Any, schema_version: int | None) -> list[a.Action]:
    """Flatten the SDK's ``actions`` into one ordered list of top-level actions."""
    if not raw:
        return []
    if schema_version is not None and schema_version >= 1:
        if len(raw) != 1:
            raise a.ActionParseError(f"expected one action list in schema V{schema_version + 1}, got {len(raw)}")
        groups = raw
    else:
        groups = raw  # V1: one list per yield; order across lists is the order of yields
    return [parse_action(action) for group in groups for action in group]
