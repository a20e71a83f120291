"""A clock that only moves when a test (or the time-skipping waits) moves it."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta


class VirtualClock:
    """A :class:`~durable_ext.core.clock.Clock` whose time stands still until advanced.

    Episodes read it from worker threads, so moves are guarded by a lock; time never goes back,
    so ``current_utc_datetime`` in orchestrators only ever increases, as it does in production.
    """

    def __init__(self, start: datetime | None = None) -> None:
        start = start if start is not None else datetime.now(UTC)
        if start.tzinfo is None:
            raise ValueError("VirtualClock needs a timezone-aware start time (UTC)")
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> datetime:
        """Move forward by ``delta`` (>= 0); returns the new time."""
        if delta < timedelta(0):
            raise ValueError(f"time only moves forward; cannot advance by {delta}")
        with self._lock:
            self._now += delta
            return self._now

    def advance_to(self, when: datetime) -> datetime:
        """Move forward to ``when``; a time in the past leaves the clock where it is."""
        with self._lock:
            if when > self._now:
                self._now = when
            return self._now
