"""What a worker knows about the instances it just committed, so the next episode need not re-read.

After a successful commit the worker knows the instance's row and history exactly, and the sentinel
ETag that guards the next append. Before reusing them the worker reads just the sentinel: the same
ETag means nobody else checkpointed the instance (another worker after a partition moved, a purge
or re-create from another process all change or delete it), so one point read replaces a history
query and a row read. Even a stale entry could not corrupt anything — the commit is ETag-guarded —
but the episode must replay the real history. Entries are also dropped on every event that makes
them doubtful (partition lost, purge, re-create, a deferred start, a commit that failed). An
instance without a sentinel (an entity keeps no history) has nothing to check, so it is always
read — its row is its state, and a stale row would apply operations twice.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from durable_ext.providers.azure_storage.history import StoredHistory
from durable_ext.providers.azure_storage.instances import StoredInstance

MAX_CACHED_INSTANCES = 2_000


@dataclass(slots=True)
class Snapshot:
    stored: StoredInstance | None
    history: StoredHistory


class StateCache:
    """A bounded LRU of instance snapshots."""

    def __init__(self, capacity: int = MAX_CACHED_INSTANCES) -> None:
        self.capacity = capacity
        self._items: OrderedDict[str, Snapshot] = OrderedDict()

    def get(self, instance_id: str) -> Snapshot | None:
        snapshot = self._items.get(instance_id)
        if snapshot is not None:
            self._items.move_to_end(instance_id)
        return snapshot

    def put(self, instance_id: str, snapshot: Snapshot) -> None:
        self._items[instance_id] = snapshot
        self._items.move_to_end(instance_id)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)

    def drop(self, instance_id: str) -> None:
        self._items.pop(instance_id, None)

    def drop_partition(self, partition_of, partition: int) -> None:
        for instance_id in [i for i in self._items if partition_of(i) == partition]:
            del self._items[instance_id]

    def clear(self) -> None:
        self._items.clear()
