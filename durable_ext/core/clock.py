"""Time and ids, injected so tests can be deterministic."""

from __future__ import annotations

import random
import secrets
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def new_id() -> str:
    """A new instance or execution id: a GUID in .NET's "N" format (32 hex digits).

    What ``uuid.uuid4().hex`` gives (random bits from ``os.urandom``, version 4, RFC 4122 variant),
    without building a ``UUID`` on the way: two are made for every instance started."""
    raw = bytearray(secrets.token_bytes(16))
    raw[6] = raw[6] & 0x0F | 0x40
    raw[8] = raw[8] & 0x3F | 0x80
    return raw.hex()


def new_token() -> str:
    """A fresh 32-hex-digit token that only has to be unique (lock tokens, invocation ids).

    Drawn from ``random`` rather than ``os.urandom``: these are made several times per episode on
    the event loop, and a system call there releases the GIL, which another busy thread then holds
    for up to a switch interval. ``random`` is reseeded in forked children, so processes differ.
    Not for anything secret, nor for instance ids (users may treat those as unguessable).
    """
    return f"{random.getrandbits(128):032x}"


def new_guid_text() -> str:
    """A token as :func:`new_token` (not for anything secret), in a GUID's hyphenated shape with
    version 4 — what ``str(uuid.UUID(int=random.getrandbits(128), version=4))`` gives, without
    building a ``UUID`` (an invocation id: the Functions host logs one per function execution)."""
    h = f"{random.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


_VARIANT = "89ab"
