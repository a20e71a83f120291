"""Runtime statuses of an orchestration instance (DTFx ``OrchestrationStatus``)."""

from __future__ import annotations

from enum import Enum


class RuntimeStatus(Enum):
    """The status names are what the HTTP API, the SDK and storage tables show."""

    Running = "Running"
    Completed = "Completed"
    ContinuedAsNew = "ContinuedAsNew"
    Failed = "Failed"
    Canceled = "Canceled"
    Terminated = "Terminated"
    Pending = "Pending"
    Suspended = "Suspended"

    # Members are singletons: identity hashing (C) instead of Enum's hash of the name (Python),
    # for the sets below and every dict keyed by a status.
    __hash__ = object.__hash__

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES

    @property
    def is_running(self) -> bool:
        """Running in the DTFx dedupe sense: re-creating the instance is refused."""
        return self in RUNNING_STATUSES

    @classmethod
    def parse(cls, name: str) -> RuntimeStatus:
        """Parse a status name case-insensitively; raises ``ValueError`` naming the bad value."""
        for member in cls:
            if member.value.lower() == name.strip().lower():
                return member
        raise ValueError(f"'{name}' is not a runtime status; expected one of {', '.join(m.value for m in cls)}")


TERMINAL_STATUSES = frozenset(
    {RuntimeStatus.Completed, RuntimeStatus.Failed, RuntimeStatus.Terminated, RuntimeStatus.Canceled}
)
RUNNING_STATUSES = frozenset(
    {RuntimeStatus.Running, RuntimeStatus.Pending, RuntimeStatus.Suspended, RuntimeStatus.ContinuedAsNew}
)
