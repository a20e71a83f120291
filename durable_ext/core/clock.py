"""Time and ids, injected so tests can be deterministic."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def new_id() -> str:
    """A new instance or execution id: a GUID in .NET's "N" format (32 hex digits)."""
    return uuid.uuid4().hex
