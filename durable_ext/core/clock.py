"""Time and ids, injected so tests can be deterministic."""

from __future__ import annotations

import random
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


def new_token() -> str:
    """A fresh 32-hex-digit token that only has to be unique (lock tokens, invocation ids).

    Drawn from ``random`` rather than ``os.urandom``: these are made several times per episode on
    the event loop, and a system call there releases the GIL, which another busy thread then holds
    for up to a switch interval. ``random`` is reseeded in forked children, so processes differ.
    Not for anything secret, nor for instance ids (users may treat those as unguessable).
    """
    return f"{random.getrandbits(128):032x}"
