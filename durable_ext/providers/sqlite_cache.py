"""Parsed histories kept between episodes, so an episode reads only the rows it has not seen.

Replaying needs an instance's whole history every episode; parsing thousands of JSON rows each
time is most of a big instance's provider cost. The cache keeps the parsed events of recently
used instances and, on the next lock, reads from the last cached row on. That row must still be
there, byte for byte, at the same position: histories only grow, and a rewrite (continue-as-new
takes a new execution id; rewind rewrites in place; another process may have done either) changes
it, in which case the whole history is read again. Used only from the provider's one thread.
"""

from __future__ import annotations

import sqlite3
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from durable_ext.core.events import HistoryEvent

SELECT_TAIL = (
    "SELECT sequence_number, event_json FROM history WHERE hub = ? AND instance_id = ? AND execution_id = ? "
    "AND sequence_number >= ? ORDER BY sequence_number"
)
SELECT_ALL = (
    "SELECT sequence_number, event_json FROM history WHERE hub = ? AND instance_id = ? AND execution_id = ? "
    "ORDER BY sequence_number"
)


@dataclass(slots=True)
class _Entry:
    execution_id: str
    events: list[HistoryEvent]
    last_json: str


class HistoryCache:
    """Bounded by ``max_instances`` running instances and ``max_events`` events in all (least
    recently used first); a finished instance is not kept (the provider forgets it). The instance
    bound is generous on purpose: 1,000 orchestrations in flight thrashed a 256-instance cache, and
    every miss parses the whole history again; memory is bounded by the events."""

    def __init__(
        self, hub: str, parse: Callable[[str], HistoryEvent], max_instances: int = 10_000, max_events: int = 200_000
    ) -> None:
        self.hub = hub
        self.parse = parse
        self.max_instances = max_instances
        self.max_events = max_events
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._events = 0

    def load(self, conn: sqlite3.Connection, instance_id: str, execution_id: str) -> list[HistoryEvent]:
        """The execution's history (a new list), reading only unseen rows when the cache allows."""
        entry = self._entries.get(instance_id)
        if entry is not None and entry.execution_id == execution_id and entry.events:
            known = len(entry.events)
            rows = conn.execute(SELECT_TAIL, (self.hub, instance_id, execution_id, known - 1)).fetchall()
            if rows and rows[0][0] == known - 1 and rows[0][1] == entry.last_json:
                self._entries.move_to_end(instance_id)
                return entry.events + [self.parse(text) for _, text in rows[1:]]
        rows = conn.execute(SELECT_ALL, (self.hub, instance_id, execution_id)).fetchall()
        return [self.parse(text) for _, text in rows]

    def remember(self, instance_id: str, execution_id: str, events: list[HistoryEvent], last_json: str | None) -> None:
        """Record the history as committed (``last_json``: the stored text of its last event)."""
        self.forget(instance_id)
        if not events or last_json is None or len(events) > self.max_events:
            return
        self._entries[instance_id] = _Entry(execution_id, events, last_json)
        self._events += len(events)
        while len(self._entries) > self.max_instances or self._events > self.max_events:
            _, dropped = self._entries.popitem(last=False)
            self._events -= len(dropped.events)

    def forget(self, instance_id: str) -> None:
        entry = self._entries.pop(instance_id, None)
        if entry is not None:
            self._events -= len(entry.events)

    def clear(self) -> None:
        self._entries.clear()
        self._events = 0
