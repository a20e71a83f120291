"""The JSON of an instance's played history, kept from one episode to the next.

Every episode hands the SDK the whole history as JSON, so an orchestration of N steps serialises
~N²/2 events over its life — a third of an episode's CPU on long histories. History only grows
(or is replaced, on continue-as-new and rewind), and its events are immutable, so the JSON of a
prefix we already wrote is reused when the same event *objects* come back (providers keep their
parsed history between episodes); any other list — re-read, rewritten, another instance's — is
simply serialised again. Identity, not equality, is the test: cheap, and exact.

The core keeps no cache of its own: the orchestration dispatcher owns one :class:`PlayedHistory`
(its bound chosen there) and passes it to every episode it runs.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from durable_ext.core import events as e
from durable_ext.core.wire.orchestration import event_json

#: Fragments kept across all instances (least recently used instances are dropped first).
MAX_CACHED_EVENTS = 200_000


class PlayedHistory:
    """Per instance: the played events last serialised and their JSON fragments. Thread-safe
    (episodes of different instances run on a pool); one instance runs one episode at a time."""

    def __init__(self, max_events: int = MAX_CACHED_EVENTS) -> None:
        self.max_events = max_events
        self._lock = threading.Lock()
        self._items: OrderedDict[str, tuple[list[e.HistoryEvent], list[str]]] = OrderedDict()
        self._size = 0

    def forget(self, instance_id: str) -> None:
        """Drop the instance's fragments (it finished: nothing will replay it from them)."""
        with self._lock:
            entry = self._items.pop(instance_id, None)
            if entry is not None:
                self._size -= len(entry[1])

    def fragments(self, instance_id: str, past: list[e.HistoryEvent]) -> list[str]:
        """The JSON fragments of ``past`` (all played), reusing the longest identical prefix."""
        with self._lock:
            events, parts = self._items.pop(instance_id, ((), ()))
            self._size -= len(parts)
        same = 0
        for old, new in zip(events, past, strict=False):
            if old is not new:
                break
            same += 1
        parts = [*parts[:same], *(event_json(event, played=True) for event in past[same:])]
        if len(parts) > self.max_events:
            return parts  # too big to keep at all
        with self._lock:
            self._items[instance_id] = (list(past), parts)
            self._size += len(parts)
            while self._size > self.max_events:
                _, (_, dropped) = self._items.popitem(last=False)
                self._size -= len(dropped)
        return parts
