"""The extended-session cache of one orchestration dispatcher (see core.sessions).

host.json ``extensions.durableTask``, with the meaning the .NET host gives them:

- ``extendedSessionsEnabled`` (default **true** here; the .NET host defaults to false, because
  there a session holds a concurrency slot and the worker's memory — here it is only memory,
  bounded below, and it is what makes an episode cost O(new events) instead of O(history)).
- ``extendedSessionIdleTimeoutInSeconds`` (default 30, as in .NET): a session not continued for
  that long is dropped; the instance's next episode replays in full.

The cache is bounded by ``extendedSessionMaxEvents`` (durable_ext's own setting, default
200,000): the sum over cached sessions of the history events each has consumed, which is what a
session's memory grows with (the SDK keeps every parsed event and task). Least recently used
sessions go first. A session bigger than the whole bound is not kept.

A session leaves the cache when an episode takes it and comes back only after that episode's
commit succeeded — a failed or rejected commit (another worker owns the instance) just loses it.
Losing it is always safe: the next episode replays in full. Used from the event loop only.

With a session the cache may keep what its episode committed (:class:`Committed`: the instance's
state and history), so that an activity result can run the next episode before anything is read
back from the hub (``OrchestrationDispatcher.continue_inline``).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from durable_ext.config import DEFAULT_SESSION_IDLE_SECONDS as DEFAULT_IDLE_TIMEOUT
from durable_ext.config import DEFAULT_SESSION_MAX_EVENTS as DEFAULT_MAX_EVENTS
from durable_ext.config import SessionSettings
from durable_ext.core.events import HistoryEvent
from durable_ext.core.messages import InstanceState
from durable_ext.core.sessions import EpisodeSession


@dataclass(frozen=True, slots=True)
class Committed:
    """An instance as this process's last commit of it left it: its state and its history."""

    state: InstanceState
    history: list[HistoryEvent]


class SessionCache:
    def __init__(
        self,
        *,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
        max_events: int = DEFAULT_MAX_EVENTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.idle_timeout = idle_timeout
        self.max_events = max_events
        self.clock = clock
        self._items: OrderedDict[str, tuple[EpisodeSession, float, Committed | None]] = OrderedDict()
        self._events = 0

    @classmethod
    def from_settings(cls, settings: SessionSettings) -> SessionCache | None:
        if not settings.enabled:
            return None
        return cls(idle_timeout=settings.idle_timeout, max_events=settings.max_events)

    def __len__(self) -> int:
        return len(self._items)

    @property
    def events(self) -> int:
        """History events held by the cached sessions (≤ ``max_events``)."""
        return self._events

    def take(self, instance_id: str) -> EpisodeSession | None:
        """Remove and return the instance's session (None if absent or idle too long)."""
        taken = self._take(instance_id)
        return None if taken is None else taken[0]

    def take_continuation(self, instance_id: str) -> tuple[EpisodeSession, Committed] | None:
        """Remove and return the instance's session with what its episode committed, if both are kept."""
        entry = self._items.get(instance_id)
        if entry is None or entry[2] is None:
            return None
        taken = self._take(instance_id)
        return None if taken is None or taken[1] is None else (taken[0], taken[1])

    def _take(self, instance_id: str) -> tuple[EpisodeSession, Committed | None] | None:
        entry = self._items.pop(instance_id, None)
        if entry is None:
            return None
        session, since, committed = entry
        self._events -= session.consumed
        if self.clock() - since > self.idle_timeout:
            return None
        return session, committed

    def put(self, instance_id: str, session: EpisodeSession, committed: Committed | None = None) -> None:
        """Keep ``session`` (its episode committed ``committed``); evicts idle, then least recently used ones."""
        old = self._items.pop(instance_id, None)
        if old is not None:
            self._events -= old[0].consumed
        now = self.clock()
        self._evict_idle(now)
        if session.consumed > self.max_events:
            return
        self._items[instance_id] = (session, now, committed)
        self._events += session.consumed
        while self._events > self.max_events:
            _, (dropped, _, _) = self._items.popitem(last=False)
            self._events -= dropped.consumed

    def discard(self, instance_id: str) -> None:
        old = self._items.pop(instance_id, None)
        if old is not None:
            self._events -= old[0].consumed

    def _evict_idle(self, now: float) -> None:
        # Entries are in put order, so the idle ones are at the front.
        while self._items:
            instance_id, (session, since, _) = next(iter(self._items.items()))
            if now - since <= self.idle_timeout:
                return
            del self._items[instance_id]
            self._events -= session.consumed
