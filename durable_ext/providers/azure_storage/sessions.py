"""Orchestration work items: dequeue owned control queues, pick an instance, open its session.

``lock_next`` polls the control queues of the partitions this worker leases (≤ 32 messages per
call, hidden for the lock timeout), buffers them per instance (:mod:`inbox`) and returns a work
item for one free instance with its messages, Instances row and current history (whose sentinel
ETag goes into its :class:`ItemState` for the commit). Messages this process sends go into the buffer
at once too, so its own timers and starts are delivered by the caller's clock.

Before a session is handed out its messages are screened as DTFx does
(``AzureStorageOrchestrationService.LockNextTaskOrchestrationWorkItemAsync`` and
``OrchestrationSession``/``DedupeExecutionStartedMessagesAsync``):

* an ``ExecutionStarted`` already in history is a duplicate → deleted; a top-level start whose
  execution is not the Instances row's is stale if older than the row (a re-create replaced it) →
  deleted, else the client has not written the row yet → retried shortly;
* a task, sub-orchestration or timer response sent by a worker whose scheduling event is not in
  history yet is *out of order* (the scheduler's checkpoint has not landed) → retried with
  back-off; one whose completion is already in history is a duplicate → deleted;
* a Suspended instance is only handed out when a resume or terminate is among its messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from durable_ext.core import events as e
from durable_ext.core.clock import Clock
from durable_ext.core.messages import OrchestrationWorkItem
from durable_ext.core.reconcile import ended_state
from durable_ext.core.status import RuntimeStatus
from durable_ext.errors import LockLostError
from durable_ext.providers.azure_storage.cache import StateCache
from durable_ext.providers.azure_storage.history import StoredHistory
from durable_ext.providers.azure_storage.hub import AzureHub, RowGuard
from durable_ext.providers.azure_storage.inbox import Inbox, Lock, Session
from durable_ext.providers.azure_storage.instances import StoredInstance
from durable_ext.providers.azure_storage.leases import PartitionManager
from durable_ext.providers.azure_storage.polling import MAX_FUTURE_IN_MEMORY, ControlPoller
from durable_ext.providers.azure_storage.queues import Received
from durable_ext.providers.azure_storage.settings import AzureSettings, message_visibility

logger = logging.getLogger("durable_ext.azure_storage")

#: With ready work buffered, still look at the queues this often (fairness to newer messages).
BUSY_POLL_SECONDS = 0.25
#: A start whose Instances row has not been written is retried this many times, then processed.
MAX_START_DEFERS = 10
_RESPONSES = (e.TaskCompleted, e.TaskFailed, e.SubOrchestrationInstanceCompleted, e.SubOrchestrationInstanceFailed)
#: Response type → (the event that scheduled it, every response type of that scheduler).
_FAMILIES: dict[type, tuple[type, tuple[type, ...]]] = {
    e.TaskCompleted: (e.TaskScheduled, (e.TaskCompleted, e.TaskFailed)),
    e.TaskFailed: (e.TaskScheduled, (e.TaskCompleted, e.TaskFailed)),
    e.SubOrchestrationInstanceCompleted: (
        e.SubOrchestrationInstanceCreated,
        (e.SubOrchestrationInstanceCompleted, e.SubOrchestrationInstanceFailed),
    ),
    e.SubOrchestrationInstanceFailed: (
        e.SubOrchestrationInstanceCreated,
        (e.SubOrchestrationInstanceCompleted, e.SubOrchestrationInstanceFailed),
    ),
    e.TimerFired: (e.TimerCreated, (e.TimerFired,)),
}
_WAKERS = (e.ExecutionResumed, e.ExecutionTerminated)


class Verdict(Enum):
    """What screening does with a dequeued control message."""

    DELIVER = "deliver"  # into the work item
    DROP = "drop"  # a duplicate or a stale message: deleted
    DEFER = "defer"  # arrived before what it depends on: retried after a back-off


@dataclass(frozen=True, slots=True)
class ItemState:
    """What a work item's commit needs from the reads that made it (its ``provider_state``)."""

    history_etag: str | None  # the sentinel's ETag: guards the history append (None: no sentinel yet)
    execution_id: str | None  # the execution the history rows belong to
    history_rows: int  # rows of that execution: the next event's row key
    row: dict[str, Any] | None  # the Instances row as read: columns the state does not know
    row_guard: RowGuard  # how to write the row when the episode appends no history


def item_state(item: OrchestrationWorkItem) -> ItemState:
    """The :class:`ItemState` of a work item this provider made."""
    state = item.provider_state
    if not isinstance(state, ItemState):
        raise TypeError(f"work item for '{item.instance_id}' was not made by the Azure Storage provider")
    return state


def failure_backoff(deliveries: int) -> float:
    """Seconds before retrying a message whose last delivery failed: none after the first
    failure, then DTFx's abandon back-off ``min(2^n, 600)``."""
    return 0.0 if deliveries < 2 else float(min(2 ** (deliveries - 1), 600))


def defer_backoff(defers: int) -> float:
    """Out-of-order and not-yet-created retries: short, since the missing write is in flight."""
    return min(0.1 * 2**defers, 10.0)


class Sessions:
    """The orchestration side of one provider: buffer, leases, locks."""

    def __init__(self, hub: AzureHub, settings: AzureSettings, clock: Clock, on_work) -> None:
        self.hub = hub
        self.settings = settings
        self.clock = clock
        self.on_work = on_work
        self.inbox = Inbox()
        self.leases = PartitionManager(hub.leases_container, hub.names, settings, clock, on_change=self._leases_changed)
        self.poller = ControlPoller(hub, settings, clock, self.inbox, self.leases, self.hand_back)
        self.cache = StateCache()
        self._background: asyncio.Task | None = None
        self._handbacks: set[asyncio.Task] = set()
        self._lease_check: asyncio.Task | None = None

    @property
    def hops(self) -> int:
        return self.poller.hops

    # -- buffer ------------------------------------------------------------------------------

    async def stop(self, *, release: bool) -> None:
        """Stop dequeuing and give up (``release``: hand back at once) the partitions."""
        if self._background is not None:
            self._background.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._background
            self._background = None
        if self._lease_check is not None:
            self._lease_check.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._lease_check
        await self.leases.stop(release=release)
        if self._handbacks:
            await asyncio.wait(set(self._handbacks), timeout=5)

    def reset(self) -> None:
        """Forget everything buffered (the hub was deleted)."""
        self.inbox = self.poller.inbox = Inbox()
        self.cache.clear()

    def forget(self, instance_id: str) -> list[Received]:
        """Drop what this worker holds for an instance (purge, re-create); returns its messages."""
        self.cache.drop(instance_id)
        return self.inbox.discard(instance_id)

    def remember(self, item: Received) -> None:
        """Buffer a message this process sent (or received) for its instance's partition."""
        if item.instance_id is not None:
            self.inbox.add(item, self.hub.names.partition_of(item.instance_id))
            if len(self.inbox) > MAX_FUTURE_IN_MEMORY:  # a sender that never polls still stays bounded
                self.hand_back(self.inbox.evict(set(self.leases.owned), MAX_FUTURE_IN_MEMORY, self.clock.now()))

    def _leases_changed(self, acquired: set[int], lost: set[int]) -> None:
        if lost:
            self.hand_back(self.inbox.drop_unowned(set(self.leases.owned)))
        for partition in lost:
            self.cache.drop_partition(self.hub.names.partition_of, partition)
        for partition in acquired:
            self.poller.schedule.reset(partition)
        if acquired:
            self.on_work()

    def hand_back(self, messages: list[Received]) -> None:
        """Make dequeued messages we will not process visible again now, not when their visibility
        lapses (up to the lock timeout), so their partition's new owner is not kept waiting."""
        now = self.clock.now()
        waiting = [m for m in messages if m.next_visible_on > now and (m.due is None or m.due <= now)]
        if waiting:
            task = asyncio.get_running_loop().create_task(self._show(waiting))
            self._handbacks.add(task)
            task.add_done_callback(self._handbacks.discard)

    def check_leases_soon(self) -> None:
        """Renew now rather than at the next renewal tick: another worker committed an instance
        we were running, so one of our partitions has probably been taken. Until we notice, we
        would keep dequeuing it and running episodes whose commits are then rejected."""
        if self._lease_check is None or self._lease_check.done():
            self._lease_check = asyncio.get_running_loop().create_task(self._check_leases())

    async def _check_leases(self) -> None:
        if self.leases.worker_id is None:
            return
        try:
            await self.leases.renew()
        except Exception:
            logger.debug("Early lease check of hub '%s' failed", self.hub.names.hub, exc_info=True)

    async def _show(self, messages: list[Received]) -> None:
        for message in messages:
            try:
                await self.hub.queues.hide(message, timedelta(0))
            except LockLostError:
                pass  # already deleted, or dequeued by the partition's new owner: nothing to hand back
            except Exception as exc:
                # It becomes visible when its visibility timeout lapses instead.
                logger.warning("Handing back control message %s failed: %r", message.id, exc)

    def next_due(self, after: datetime) -> datetime | None:
        due = self.inbox.future_due_times(after)
        return min(due) if due else None

    # -- locking -----------------------------------------------------------------------------

    async def lock_next(self, *, now: datetime, lock_timeout: timedelta, entities: bool | None):
        await self.leases.start(self.settings.worker_id)
        visibility = message_visibility(self.settings.control_visibility, self.settings, lock_timeout)
        if self._background is None:
            self._background = asyncio.create_task(self.poller.run(visibility, self.on_work), name="control-poll")
        if time.monotonic() - self.poller.last_poll < BUSY_POLL_SECONDS:
            item = await self._lock_ready(now, lock_timeout, entities)
            if item is not None:
                return item
        await self.poller.poll(visibility)
        return await self._lock_ready(now, lock_timeout, entities)

    async def _lock_ready(
        self, now: datetime, lock_timeout: timedelta, entities: bool | None
    ) -> OrchestrationWorkItem | None:
        for session in self.inbox.ready(now, entities, set(self.leases.owned)):
            if session.lock is not None and self._back_off_failed(session.lock, now):
                continue
            messages = session.deliverable(now)
            if not messages:
                continue
            lock = self.inbox.lock(session, now + lock_timeout, messages)
            try:
                item = await self._open(session, lock, messages, now)
            except Exception:
                logger.warning(
                    "Instance '%s': could not load its state; retrying with back-off",
                    session.instance_id,
                    exc_info=True,
                )
                for message in messages:  # a failed delivery: counted, reported as poison, backed off
                    self._count_delivery(message)
                self.back_off(messages, failed=True, now=now)
                self.inbox.release(session.instance_id, lock.token, [])
                continue
            if item is not None:
                return item
            self.inbox.release(session.instance_id, lock.token, [])
        return None

    def _back_off_failed(self, expired: Lock, now: datetime) -> bool:
        """An expired lock means its work item failed: back off once before retrying (True = wait)."""
        if expired.failure_counted:
            return False
        expired.failure_counted = True
        messages = [m for m in (self.inbox.get(i) for i in expired.message_ids) if m is not None]
        return self.back_off(messages, failed=True, now=now)

    def back_off(self, messages: list[Received], *, failed: bool, now: datetime) -> bool:
        """Hold ``messages`` back in memory after a failed delivery (``failed``) or a deferral,
        from ``now`` in the callers' clock (as locks and due times are); True if any now waits."""
        waiting = False
        for message in messages:
            delay = failure_backoff(message.deliveries) if failed else defer_backoff(message.defers)
            if delay and (message.defer_until is None or message.defer_until < now):
                message.defer_until = now + timedelta(seconds=delay)
                waiting = True
        return waiting

    async def _open(
        self, session: Session, lock: Lock, messages: list[Received], now: datetime
    ) -> OrchestrationWorkItem | None:
        stored, history = await self._load(session.instance_id)
        if ended_state(session.instance_id, history.events, stored.state if stored else None) is not None:
            stored = await self._repair_ended(session.instance_id, history)
        deliver, drop, defer = self._screen(messages, stored, history)
        for message in defer:
            message.defers += 1
        if defer:
            self.cache.drop(session.instance_id)  # what we wait for may be a write we did not see
        self.back_off(defer, failed=False, now=now)
        if drop:
            await self._delete(drop)
        state = stored.state if stored else None
        suspended = state is not None and state.runtime_status is RuntimeStatus.Suspended
        if suspended and not any(isinstance(m.message.event, _WAKERS) for m in deliver):
            session.parked = True  # until a new message (a resume, a terminate) arrives
            return None
        if not deliver:
            return None
        lock.message_ids = [m.id for m in deliver]
        for message in deliver:
            self._count_delivery(message)
        return OrchestrationWorkItem(
            instance_id=session.instance_id,
            lock_token=lock.token,
            state=state,
            history=list(history.events),
            messages=[(m.id, m.message) for m in deliver],
            locked_until=lock.until,
            provider_state=ItemState(
                history_etag=history.etag,
                execution_id=history.execution_id,
                history_rows=len(history.events),
                row=stored.row if stored else None,
                row_guard=RowGuard.for_row(stored),
            ),
        )

    async def _load(self, instance_id: str) -> tuple[StoredInstance | None, StoredHistory]:
        """Row and history: from the cache when the sentinel ETag shows nobody else checkpointed
        since our last commit (one point read instead of two queries), else from the tables."""
        snapshot = self.cache.get(instance_id)
        # Without a sentinel (entities, instances that never checkpointed history) there is
        # nothing to validate the row against, so those are always read.
        if (
            snapshot is not None
            and snapshot.history.etag is not None
            and await self.hub.sentinel_etag(instance_id) == snapshot.history.etag
        ):
            return snapshot.stored, snapshot.history
        self.cache.drop(instance_id)
        stored, history = await asyncio.gather(self.hub.read_instance(instance_id), self.hub.read_history(instance_id))
        return stored, history

    async def _repair_ended(self, instance_id: str, history: StoredHistory) -> StoredInstance | None:
        """Write the Instances row of an execution whose history ended but whose row missed that
        final checkpoint (the worker died between the two writes; see :mod:`core.reconcile`).

        The row is read fresh and written ``If-Match`` its ETag: if the worker that ran the last
        episode is alive and writes it meanwhile, its row (custom status included) wins.
        """
        self.cache.drop(instance_id)
        stored = await self.hub.read_instance(instance_id)
        state = ended_state(instance_id, history.events, stored.state if stored else None)
        if state is None:
            return stored
        try:
            await self.hub.write_instance(state, preserved=stored.row if stored else None, guard=RowGuard.for_row(stored))
        except LockLostError:
            return await self.hub.read_instance(instance_id)
        logger.warning(
            "Instance '%s': its history shows it %s but its Instances row said %s (a worker stopped between "
            "the two writes); the row was repaired",
            instance_id,
            state.runtime_status.value,
            stored.state.runtime_status.value if stored else "nothing",
        )
        return await self.hub.read_instance(instance_id)

    def _count_delivery(self, message: Received) -> None:
        message.deliveries += 1
        attempts = message.deliveries + message.prior_attempts
        if attempts >= self.settings.poison_threshold:
            logger.warning(
                "Poison message detected: instance '%s', %s message %s has been delivered %d times without "
                "completing; it keeps being retried with back-off",
                message.instance_id,
                message.message.event.TYPE.name,
                message.id,
                attempts,
            )

    def _screen(
        self, messages: list[Received], stored: StoredInstance | None, history: StoredHistory
    ) -> tuple[list[Received], list[Received], list[Received]]:
        """Split into (deliver, drop as duplicate or stale, defer and retry)."""
        current = history.execution_id or (stored.state.execution_id if stored else None)
        by_id: dict[tuple[type, int], e.HistoryEvent] = {}
        started = set()
        for event in history.events:
            if isinstance(event, e.ExecutionStarted):
                started.add(event.execution_id)
            by_id[(type(event), _event_key(event))] = event
        split: dict[Verdict, list[Received]] = {verdict: [] for verdict in Verdict}
        for message in messages:
            event = message.message.event
            verdict = Verdict.DELIVER
            if isinstance(event, e.ExecutionStarted):
                verdict = self._screen_start(message, event, stored, started)
            elif isinstance(event, (*_RESPONSES, e.TimerFired)) and message.message.execution_id in (None, current):
                verdict = _screen_response(message, event, by_id, history)
                if verdict is Verdict.DELIVER:
                    by_id[(type(event), _event_key(event))] = event  # a twin later in this batch is a duplicate
            split[verdict].append(message)
        return split[Verdict.DELIVER], split[Verdict.DROP], split[Verdict.DEFER]

    def _screen_start(
        self, message: Received, event: e.ExecutionStarted, stored: StoredInstance | None, started: set[str]
    ) -> Verdict:
        if event.execution_id in started:
            return Verdict.DROP  # redelivered after its checkpoint landed
        if event.parent is not None or stored is None or stored.state.execution_id in (None, event.execution_id):
            return Verdict.DELIVER
        # DTFx DedupeExecutionStartedMessagesAsync: the client enqueues, then writes the row.
        if event.timestamp < stored.state.created_time:
            return Verdict.DROP  # the instance was re-created after this start was sent
        return Verdict.DEFER if message.defers < MAX_START_DEFERS else Verdict.DELIVER

    async def renew(self, item: OrchestrationWorkItem, *, now: datetime, lock_timeout: timedelta) -> None:
        """Extend the lock to ``now + lock_timeout`` and keep its messages hidden as long."""
        if not self.inbox.holds(item.instance_id, item.lock_token):
            raise LockLostError(f"Instance '{item.instance_id}': the lock was taken over or the work was completed")
        lock = self.inbox.sessions[item.instance_id].lock
        assert lock is not None
        visibility = message_visibility(self.settings.control_visibility, self.settings, lock_timeout)
        for message in [m for m in map(self.inbox.get, lock.message_ids) if m is not None]:
            await self.hub.queues.hide(message, visibility)
        lock.until = now + lock_timeout
        item.locked_until = lock.until

    async def _delete(self, messages: list[Received]) -> None:
        for message in messages:
            try:
                await self.hub.queues.delete(message)
            except LockLostError:
                self.inbox.mark_consumed(message.id)  # dequeued again meanwhile: delete it when seen
            self.inbox.forget(message.id)


def _event_key(event: e.HistoryEvent) -> int:
    if isinstance(event, _RESPONSES):
        return event.task_scheduled_id
    if isinstance(event, e.TimerFired):
        return event.timer_id
    return event.event_id


def _screen_response(
    message: Received, event: e.HistoryEvent, by_id: dict[tuple[type, int], e.HistoryEvent], history: StoredHistory
) -> Verdict:
    key = _event_key(event)
    scheduler, responses = _FAMILIES[type(event)]
    if any((kind, key) in by_id for kind in responses):
        return Verdict.DROP  # this response is already in history (a redelivery)
    if (scheduler, key) in by_id:
        return Verdict.DELIVER
    # Only worker-sent responses can overtake their scheduler's checkpoint (send → history → delete).
    if message.envelope is None or message.envelope.episode is None:
        return Verdict.DELIVER
    if not history.events and message.defers > 5:
        return Verdict.DELIVER  # no such instance: let the episode discard it (DTFx: DequeueCount > 5)
    return Verdict.DEFER
