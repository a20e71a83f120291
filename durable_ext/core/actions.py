"""Actions an orchestrator returns (SDK ``models/actions``), as typed records.

The JSON they come from is parsed by :func:`core.wire.orchestration.parse_actions`.
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
    input: str | None  # the new execution's input, as JSON text


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
