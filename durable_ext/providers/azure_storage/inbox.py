"""In-memory buffer of dequeued control-queue messages, grouped by instance
(DTFx ``AzureStorage/OrchestrationSessionManager.cs``).

DTFx's ``OrchestrationSessionManager`` in miniature: messages dequeued from owned control queues
wait here (invisible in the queue) until their instance is free; one work item per instance at a
time; a message seen twice (its visibility lapsed while buffered) replaces the older copy by
queue message id, keeping the newer pop receipt. The lock of a work item expires at
``now + lock_timeout`` in the caller's clock, after which the instance can be locked again and
the old lock's commit is rejected.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from durable_ext.providers.azure_storage.queues import Received


@dataclass(slots=True)
class Lock:
    token: str
    until: datetime
    message_ids: list[str]
    #: Set once the expiry of this lock has been treated as a failed delivery.
    failure_counted: bool = False


@dataclass(slots=True)
class Session:
    """Buffered messages of one instance, in arrival order."""

    instance_id: str
    partition: int
    messages: dict[str, Received] = field(default_factory=dict)
    lock: Lock | None = None
    #: Suspended with nothing that can wake it: wait for a new message.
    parked: bool = False

    def locked(self, now: datetime) -> bool:
        return self.lock is not None and self.lock.until > now

    def deliverable(self, now: datetime) -> list[Received]:
        """Messages due and not backed off at ``now`` (the caller's clock)."""
        return [m for m in self.messages.values() if _due(m, now) and (m.defer_until is None or m.defer_until <= now)]


def _due(message: Received, now: datetime) -> bool:
    return message.due is None or message.due <= now


class Inbox:
    def __init__(self) -> None:
        self.sessions: dict[str, Session] = {}
        self._where: dict[str, str] = {}  # message id -> instance id
        #: Consumed messages whose delete lost a race with our own poller (stale pop receipt):
        #: deleted when they are dequeued again instead of being delivered twice.
        self.consumed: OrderedDict[str, None] = OrderedDict()

    def __len__(self) -> int:
        return len(self._where)

    def count(self, partition: int) -> int:
        return sum(len(s.messages) for s in self.sessions.values() if s.partition == partition)

    def add(self, item: Received, partition: int) -> bool:
        """Buffer ``item``; False if it was buffered already (its receipt is refreshed instead)."""
        instance_id = item.instance_id or ""
        known = self._where.get(item.id)
        if known is not None:
            old = self.sessions[known].messages.get(item.id)
            if old is not None:
                old.pop_receipt, old.next_visible_on = item.pop_receipt, item.next_visible_on
                old.dequeue_count = item.dequeue_count
            return False
        session = self.sessions.get(instance_id)
        if session is None:
            session = self.sessions[instance_id] = Session(instance_id, partition)
        # Later re-dequeues by this worker (a lapsed visibility) are not failed attempts.
        item.prior_attempts = max(0, item.dequeue_count - 1)
        session.messages[item.id] = item
        session.parked = False
        self._where[item.id] = instance_id
        return True

    def mark_consumed(self, message_id: str) -> None:
        self.consumed[message_id] = None
        while len(self.consumed) > 10_000:
            self.consumed.popitem(last=False)

    def get(self, message_id: str) -> Received | None:
        instance = self._where.get(message_id)
        return self.sessions[instance].messages.get(message_id) if instance is not None else None

    def ready(self, now: datetime, entities: bool | None, partitions: set[int]) -> Iterator[Session]:
        """Unlocked (or lock-expired), unparked sessions of ``partitions`` with a deliverable message,
        in the order their instances first had messages buffered."""
        for session in list(self.sessions.values()):
            if session.partition not in partitions or session.locked(now) or session.parked:
                continue
            if entities is not None and session.instance_id.startswith("@") != entities:
                continue
            if session.deliverable(now):
                yield session

    def future_due_times(self, after: datetime) -> list[datetime]:
        """Due times later than ``after`` of buffered messages (timers this worker will deliver)."""
        return [m.due for s in self.sessions.values() for m in s.messages.values() if m.due and m.due > after]

    def lock(self, session: Session, until: datetime, messages: list[Received]) -> Lock:
        session.lock = Lock(uuid.uuid4().hex, until, [m.id for m in messages])
        return session.lock

    def holds(self, instance_id: str, token: str) -> bool:
        session = self.sessions.get(instance_id)
        return session is not None and session.lock is not None and session.lock.token == token

    def release(self, instance_id: str, token: str, consumed: list[str]) -> bool:
        """Unlock (if ``token`` still holds the lock) and forget ``consumed``; True if messages remain."""
        for message_id in consumed:
            self.forget(message_id)
        session = self.sessions.get(instance_id)
        if session is None:
            return False
        if session.lock is not None and session.lock.token == token:
            session.lock = None
        if not session.messages and session.lock is None:
            del self.sessions[instance_id]
            return False
        return bool(session.messages)

    def forget(self, message_id: str) -> None:
        instance = self._where.pop(message_id, None)
        if instance is None:
            return
        session = self.sessions.get(instance)
        if session is not None:
            session.messages.pop(message_id, None)

    def discard(self, instance_id: str) -> list[Received]:
        """Forget an instance's session (purge, or another worker committed it); returns its messages."""
        session = self.sessions.pop(instance_id, None)
        if session is None:
            return []
        for message_id in session.messages:
            self._where.pop(message_id, None)
        return list(session.messages.values())

    def evict(self, keep: set[int], max_future: int, now: datetime) -> list[Received]:
        """Bound memory: drop unlocked sessions outside ``keep`` (partitions this worker owns), and
        the farthest future messages beyond ``max_future`` (they stay hidden in the queue until due).
        Returns the messages of the dropped sessions (see :meth:`drop_unowned`).
        """
        dropped = self.drop_unowned(keep)
        future = sorted(
            (m.due, m.id)
            for s in self.sessions.values()
            if s.lock is None
            for m in s.messages.values()
            if m.due and m.due > now
        )
        for _, message_id in future[max_future:]:
            self.forget(message_id)
        for instance_id, session in list(self.sessions.items()):
            if not session.messages and session.lock is None:
                del self.sessions[instance_id]
        return dropped

    def drop_unowned(self, keep: set[int]) -> list[Received]:
        """Forget the unlocked sessions of partitions outside ``keep`` (those this worker owns);
        returns their messages, which it may hold hidden in a queue that is no longer its own.

        A locked session finishes its work item; the history ETag decides whether it commits.
        """
        dropped: list[Received] = []
        for instance_id, session in list(self.sessions.items()):
            if session.partition not in keep and session.lock is None:
                dropped += self.discard(instance_id)
        return dropped
