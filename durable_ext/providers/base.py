"""The one Provider Protocol every task hub storage implements.

Shaped after DurableTask's orchestration service (and the MSSQL provider's model): instances,
a per-instance inbox of messages (with a visible time, for timers), a shared activity queue with
leases, and an atomic checkpoint per episode. The contract suite in ``tests/providers`` runs
against every provider; a provider passes it or it is not a provider.

Guarantees a provider gives:

* **Atomic checkpoint.** ``complete_orchestration`` appends history, updates the instance,
  sends the outbound messages and activities and deletes the consumed messages as one unit.
  A commit whose lock was lost (expired and taken by another worker) raises ``LockLostError``
  and changes nothing visible (split-brain fence: a second commit of the same episode fails).
* **Locks expire.** A work item not completed before ``lock_timeout`` becomes available again,
  so the work of a killed process is retried. Activities are therefore at least once.
* **Inbox order.** Messages of one instance are delivered in the order they were sent (FIFO),
  except that a message is not delivered before its ``visible_at``.
* **Hubs are isolated.** Two hubs in one store never see each other's instances or messages.

Every method is a coroutine; providers that do blocking I/O run it off the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from durable_ext.core.events import HistoryEvent
from durable_ext.core.messages import (
    ActivityWorkItem,
    InstancePage,
    InstanceQuery,
    InstanceState,
    OrchestrationCommit,
    OrchestrationWorkItem,
    TaskMessage,
)


@runtime_checkable
class Provider(Protocol):
    """Task hub storage. ``hub`` names the task hub this object reads and writes."""

    hub: str
    #: Set (from the event loop) whenever this process enqueues work, so dispatchers wake at once.
    work_signal: WorkSignal

    async def create_hub(self) -> None:
        """Create the hub's storage if missing; idempotent. Never deletes anything."""

    async def delete_hub(self) -> None:
        """Delete every instance, message and task of this hub (and its storage where it owns it)."""

    async def close(self) -> None:
        """Release connections; the object is unusable afterwards."""

    # -- clients -------------------------------------------------------------------------------

    async def create_instance(
        self, start: TaskMessage, *, now: datetime, dedupe: bool = True, visible_at: datetime | None = None
    ) -> None:
        """Create (or re-create) an instance as Pending and enqueue its ExecutionStarted.

        ``start.event`` is an ``ExecutionStarted``. If an instance with that id exists in a
        running status (Pending, Running, Suspended, ContinuedAsNew) and ``dedupe`` is true, raise
        ``InstanceExistsError``; a finished one is replaced (its history and messages are purged).
        """

    async def send_message(self, message: TaskMessage, *, visible_at: datetime | None = None) -> None:
        """Append one message to an instance's inbox (raise event, terminate, suspend, …)."""

    async def get_instance(self, instance_id: str) -> InstanceState | None: ...

    async def get_history(self, instance_id: str) -> list[HistoryEvent]:
        """The current execution's history in order; empty if none."""

    async def query_instances(self, query: InstanceQuery) -> InstancePage:
        """Instances matching ``query``, ordered by creation time then id, one page at a time."""

    async def purge_instance(self, instance_id: str) -> int:
        """Delete an instance, its history and its pending messages; returns 1 or 0."""

    async def purge_instances(self, query: InstanceQuery) -> int:
        """Delete every instance matching ``query`` (all pages); returns how many."""

    # -- orchestration work --------------------------------------------------------------------

    async def lock_next_orchestration(
        self, *, now: datetime, lock_timeout: timedelta, worker_id: str, entities: bool | None = None
    ) -> OrchestrationWorkItem | None:
        """Lock one instance that has visible messages and return it, or None.

        Instances locked by another live work item are skipped. A Suspended instance is only
        returned for its ExecutionResumed / ExecutionTerminated messages; its other messages wait.
        ``entities``: None = any instance, True = only entity ids (``@name@key``), False = none.
        A provider may keep an instance for the worker that committed it last (which holds its
        session) for a few seconds before another ``worker_id`` gets its messages (SQLite does).
        """

    async def complete_orchestration(
        self, item: OrchestrationWorkItem, commit: OrchestrationCommit, *, now: datetime
    ) -> None:
        """Commit an episode atomically and unlock the instance (see the module contract)."""

    async def abandon_orchestration(self, item: OrchestrationWorkItem) -> None:
        """Unlock without committing; the messages become available again."""

    async def renew_orchestration_lock(
        self, item: OrchestrationWorkItem, *, now: datetime, lock_timeout: timedelta
    ) -> None: ...

    # -- activity work -------------------------------------------------------------------------

    async def lock_next_activity(
        self, *, now: datetime, lock_timeout: timedelta, worker_id: str
    ) -> ActivityWorkItem | None: ...

    async def complete_activity(self, item: ActivityWorkItem, response: TaskMessage) -> None:
        """Send the result to the orchestration's inbox and delete the task, atomically.

        Raises ``LockLostError`` if the task's lock was lost (another worker may run it again).
        """

    async def abandon_activity(self, item: ActivityWorkItem, *, retry_at: datetime | None = None) -> None: ...

    async def renew_activity_lock(self, item: ActivityWorkItem, *, now: datetime, lock_timeout: timedelta) -> None: ...

    # -- scheduling hints ----------------------------------------------------------------------

    async def next_visible_time(self, now: datetime | None = None) -> datetime | None:
        """Earliest ``visible_at`` after ``now`` of a pending message (the next timer), if any.

        May return None when the provider cannot tell cheaply (callers then poll).
        """

    async def release_abandoned_locks(self, is_abandoned: Callable[[str], bool]) -> int:
        """Unlock work whose ``worker_id`` ``is_abandoned`` says is dead; returns how many.

        Lets a restarted host on the same machine take back a killed process's work at once
        instead of waiting for its locks to expire. Providers whose ownership is leased
        (Azure Storage) may do nothing and return 0.
        """


@dataclass(frozen=True, slots=True)
class Lease:
    """Work the committing process takes on the spot: locked for ``worker_id`` until ``lock_timeout``
    from the commit, at most ``limit`` items (the receiving dispatcher's free slots)."""

    worker_id: str
    lock_timeout: timedelta
    limit: int


@runtime_checkable
class HandsOffWork(Protocol):
    """A provider that hands the work a commit creates straight to the process that commits it.

    Optional (the SQLite hub has it): each method is its namesake plus, in the same transaction,
    the lock of the follow-up work, so a chain of activities runs without a round of queue polling
    per step. What is handed over is locked as a fetch would lock it — the same tokens, expiry and
    recovery when the process dies — so the guarantees of :class:`Provider` are unchanged.
    """

    async def complete_orchestration_leasing(
        self, item: OrchestrationWorkItem, commit: OrchestrationCommit, *, now: datetime, lease: Lease
    ) -> list[ActivityWorkItem]:
        """``complete_orchestration``, with up to ``lease.limit`` of the activity tasks it creates
        leased to ``lease.worker_id`` (in the commit's order); the others are queued as usual."""

    async def complete_activity_locking(
        self, item: ActivityWorkItem, response: TaskMessage, *, now: datetime, lease: Lease
    ) -> OrchestrationWorkItem | None:
        """``complete_activity``, and the lock of the response's instance when a fetch could take it
        now (not locked, not suspended, not an entity): that work item, else None. A provider may
        decline (None) for any reason — the result is then only queued, as ``complete_activity``
        queues it (SQLite declines while the instance still waits for other activities)."""

    async def complete_activity_with_episode(
        self,
        task: ActivityWorkItem,
        response: TaskMessage,
        item: OrchestrationWorkItem,
        commit: OrchestrationCommit,
        *,
        now: datetime,
        lease: Lease | None,
    ) -> list[ActivityWorkItem]:
        """Complete ``task`` and commit the episode that already consumed its ``response``, at once.

        ``item`` is the instance as this process last committed it (state and history, no lock),
        with ``response`` as its only message; the result is never queued. ``HandOffDeclined``
        (nothing written) unless the instance is still exactly that and nothing else waits for it;
        ``LockLostError`` if the task's lock was lost. Activities leased as in
        :meth:`complete_orchestration_leasing`.
        """

    async def create_instance_locking(
        self, start: TaskMessage, *, now: datetime, lease: Lease
    ) -> OrchestrationWorkItem:
        """``create_instance`` (no ``visible_at``), and the new instance locked for
        ``lease.worker_id`` in the same transaction: its work item (``start`` its message).
        ``InstanceExistsError`` as ``create_instance``, with nothing written."""

    def first_episode_item(self, start: TaskMessage, *, now: datetime) -> OrchestrationWorkItem:
        """The work item :meth:`create_instance_locking` would return for ``start`` (the same
        state, history and message), made without touching the hub and holding no lock: the
        first episode can be decided before the instance is written."""

    async def create_instance_with_episode(
        self,
        start: TaskMessage,
        item: OrchestrationWorkItem,
        commit: OrchestrationCommit,
        *,
        now: datetime,
        worker_id: str,
        lease: Lease | None,
    ) -> list[ActivityWorkItem]:
        """``create_instance`` (no ``visible_at``) and the commit of the first episode, decided on
        :meth:`first_episode_item`'s ``item``, at once: the instance is never seen Pending and its
        start message never queued. Afterwards it is as any commit by ``worker_id`` leaves it.
        ``InstanceExistsError`` as ``create_instance``, with nothing written. Activities leased
        as in :meth:`complete_orchestration_leasing`."""


class WorkSignal:
    """Wakes the dispatcher loops when this process has enqueued new work.

    A plain ``asyncio.Event`` per consumer loop (named after the work it takes: ``orchestrations``,
    ``entities``, ``activities``): ``notify`` sets the named ones (all when none are named); each
    loop waits on its own and clears it before it looks for work, so no wake-up is lost between
    look and wait, and a loop is not woken for work it does not take.
    """

    ORCHESTRATIONS = "orchestrations"
    ENTITIES = "entities"
    ACTIVITIES = "activities"

    def __init__(self) -> None:
        self._events: dict[str, asyncio.Event] = {}
        self._watchers: dict[str, set[asyncio.Event]] = {}
        #: Passes this process's ``notify``/``changed`` on to other processes sharing the hub (set
        #: by a provider that can: the SQLite hub's doorbell); they apply them with ``wake``.
        self.relay: Callable[[tuple[str, ...], str | None], None] | None = None

    def event(self, name: str) -> asyncio.Event:
        return self._events.setdefault(name, asyncio.Event())

    def notify(self, *names: str) -> None:
        self.wake(names, None)
        if self.relay is not None:
            self.relay(names, None)

    def wake(self, names: tuple[str, ...], instance_id: str | None) -> None:
        """Apply a notification here only: set the named loops' events (all when ``names`` is
        empty) or, with ``instance_id``, that instance's watchers."""
        if instance_id is not None:
            for watcher in self._watchers.get(instance_id, ()):
                watcher.set()
            return
        for name in names or tuple(self._events):
            event = self._events.get(name)
            if event is not None:
                event.set()

    @contextlib.contextmanager
    def watching(self, instance_id: str) -> Iterator[asyncio.Event]:
        """An event set whenever this process ends ``instance_id`` (see :meth:`changed`), for as
        long as the ``with`` block lasts: a waiter for completion wakes at once instead of at its
        next poll. Other processes' commits set it only through a ``relay``
        (the SQLite hub's doorbell); otherwise waiters poll."""
        event = asyncio.Event()
        self._watchers.setdefault(instance_id, set()).add(event)
        try:
            yield event
        finally:
            watchers = self._watchers.get(instance_id)
            if watchers is not None:
                watchers.discard(event)
                if not watchers:
                    del self._watchers[instance_id]

    def changed(self, instance_id: str) -> None:
        """This process committed a terminal state for ``instance_id`` (only those: the one thing
        watchers wait for, and each is a datagram to every peer)."""
        self.wake((), instance_id)
        if self.relay is not None:
            self.relay((), instance_id)

    @classmethod
    def inbox_of(cls, instance_id: str) -> str:
        """Which loop takes messages for ``instance_id`` (entity ids look like ``@name@key``)."""
        return cls.ENTITIES if instance_id.startswith("@") else cls.ORCHESTRATIONS
