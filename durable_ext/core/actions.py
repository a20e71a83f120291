"""Actions an orchestrator returns (SDK ``models/actions``), parsed into typed records.

The SDK returns the *cumulative* action list of the execution on every episode (schema V3:
``actions`` is ``[[...flat list...]]``); ``parse_actions`` accepts that and the older V1 shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from durable_ext.errors import DurableExtError


class ActionType(IntEnum):
    CallActivity = 0
    CallActivityWithRetry = 1
    CallSubOrchestrator = 2
    CallSubOrchestratorWithRetry = 3
    ContinueAsNew = 4
    CreateTimer = 5
    WaitForExternalEvent = 6
    CallEntity = 7
    CallHttp = 8
    SignalEntity = 9
    ScheduledSignalEntity = 10
    WhenAny = 11
    WhenAll = 12


@dataclass(frozen=True, slots=True)
class RetryOptions:
    first_retry_interval_ms: int
    max_attempts: int


@dataclass(frozen=True, slots=True)
class CallActivity:
    name: str
    input: str | None
    retry: RetryOptions | None = None


@dataclass(frozen=True, slots=True)
class CallSubOrchestrator:
    name: str
    input: str | None
    instance_id: str | None
    version: str | None
    retry: RetryOptions | None = None


@dataclass(frozen=True, slots=True)
class CallHttp:
    """``request`` is the SDK's ``httpRequest`` object, kept as JSON-ready data."""

    request: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CreateTimer:
    fire_at: str
    is_canceled: bool


@dataclass(frozen=True, slots=True)
class WaitForExternalEvent:
    name: str


@dataclass(frozen=True, slots=True)
class CallEntity:
    instance_id: str
    operation: str
    input: str | None


@dataclass(frozen=True, slots=True)
class SignalEntity:
    instance_id: str
    operation: str
    input: str | None


@dataclass(frozen=True, slots=True)
class ContinueAsNew:
    input: Any


@dataclass(frozen=True, slots=True)
class WhenAll:
    children: tuple[Action, ...]


@dataclass(frozen=True, slots=True)
class WhenAny:
    children: tuple[Action, ...]


Action = (
    CallActivity
    | CallSubOrchestrator
    | CallHttp
    | CreateTimer
    | WaitForExternalEvent
    | CallEntity
    | SignalEntity
    | ContinueAsNew
    | WhenAll
    | WhenAny
)


class ActionParseError(DurableExtError, ValueError):
    """The orchestrator returned an action this runtime does not understand."""


def _retry(data: dict[str, Any]) -> RetryOptions:
    opts = data.get("retryOptions") or {}
    return RetryOptions(
        first_retry_interval_ms=int(opts.get("firstRetryIntervalInMilliseconds", 0)),
        max_attempts=int(opts.get("maxNumberOfAttempts", 1)),
    )


def parse_action(data: dict[str, Any]) -> Action:
    try:
        kind = ActionType(int(data["actionType"]))
    except (KeyError, ValueError) as exc:
        raise ActionParseError(f"unknown action: {data!r}") from exc
    match kind:
        case ActionType.CallActivity:
            return CallActivity(data["functionName"], data.get("input"))
        case ActionType.CallActivityWithRetry:
            return CallActivity(data["functionName"], data.get("input"), _retry(data))
        case ActionType.CallSubOrchestrator | ActionType.CallSubOrchestratorWithRetry:
            return CallSubOrchestrator(
                data["functionName"],
                data.get("input"),
                data.get("instanceId"),
                data.get("version"),
                _retry(data) if kind is ActionType.CallSubOrchestratorWithRetry else None,
            )
        case ActionType.CallHttp:
            return CallHttp(data.get("httpRequest") or {})
        case ActionType.CreateTimer:
            return CreateTimer(data["fireAt"], bool(data.get("isCanceled", False)))
        case ActionType.WaitForExternalEvent:
            return WaitForExternalEvent(data["externalEventName"])
        case ActionType.CallEntity:
            return CallEntity(data["instanceId"], data["operation"], data.get("input"))
        case ActionType.SignalEntity:
            return SignalEntity(data["instanceId"], data["operation"], data.get("input"))
        case ActionType.ContinueAsNew:
            return ContinueAsNew(data.get("input"))
        case ActionType.WhenAll:
            return WhenAll(tuple(parse_action(c) for c in data.get("compoundActions", ())))
        case ActionType.WhenAny:
            return WhenAny(tuple(parse_action(c) for c in data.get("compoundActions", ())))
    raise ActionParseError(f"unsupported action type {kind.name}")


def parse_actions(raw: Any, schema_version: int | None) -> list[Action]:
    """Flatten the SDK's ``actions`` into one ordered list of top-level actions."""
    if not raw:
        return []
    if schema_version is not None and schema_version >= 1:
        if len(raw) != 1:
            raise ActionParseError(f"expected one action list in schema V{schema_version + 1}, got {len(raw)}")
        groups = raw
    else:
        groups = raw  # V1: one list per yield; order across lists is the order of yields
    return [parse_action(a) for group in groups for a in group]
