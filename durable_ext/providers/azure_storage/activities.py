"""Activity work items on the shared ``{hub}-workitems`` queue
(DTFx ``AzureStorage/Messaging/WorkItemQueue.cs``).

Every worker competes for it; a task is locked by hiding its queue message and kept hidden by
Update Message while it runs — renewed by the provider itself every third of the (short)
visibility timeout, so a killed worker's tasks come back within that timeout rather than after
the dispatcher's lock timeout. Completion follows DTFx: send the TaskCompleted / TaskFailed to
the orchestration's control queue, *then* delete the work item — at least once.

The lock is also tracked in memory by the caller's clock, so the lock expiry, retry times and
dequeue counts of the contract hold for a caller with an injected clock; the queue's own
visibility (wall clock) is what other processes see. A stale pop receipt — someone else
dequeued the message after our visibility lapsed — is ``LockLostError``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

from azure.core.exceptions import ResourceNotFoundError

from durable_ext.core.clock import Clock
from durable_ext.core.messages import ActivityWorkItem, TaskMessage
from durable_ext.errors import LockLostError
from durable_ext.providers.azure_storage.hub import AzureHub
from durable_ext.providers.azure_storage.polling import PollSchedule, reject_unreadable
from durable_ext.providers.azure_storage.queues import Received
from durable_ext.providers.azure_storage.sessions import Sessions
from durable_ext.providers.azure_storage.settings import message_visibility

logger = logging.getLogger("durable_ext.azure_storage")
#: Re-hide a buffered task before handing it out if its visibility ends within this margin.
_MARGIN = timedelta(seconds=2)
#: Tasks this process sent and still remembers (to purge them with their instance).
MAX_SENT_REMEMBERED = 10_000


@dataclass(slots=True)
class Task:
    received: Received
    token: str | None = None
    until: datetime | None = None

    def available(self, now: datetime) -> bool:
        if self.token is not None:
            return self.until is not None and self.until <= now  # lock expired
        return self.received.due is None or self.received.due <= now


class Activities:
    def __init__(self, hub: AzureHub, sessions: Sessions, clock: Clock, on_work) -> None:
        self.hub = hub
        self.sessions = sessions
        self.clock = clock
        self.on_work = on_work
        self.tasks: dict[str, Task] = {}
        self.sent: OrderedDict[str, Received] = OrderedDict()
        self.schedule = PollSchedule(hub.settings.max_polling_interval.total_seconds())
        self.visibility = timedelta(minutes=5)
        self._keeper: asyncio.Task | None = None

    @property
    def queue(self) -> str:
        return self.hub.names.workitem_queue

    def remember_sent(self, item: Received) -> None:
        """A task this process just sent: poll for it now, and remember it for a purge."""
        self.schedule.reset(self.queue)
        self.sent[item.id] = item
        while len(self.sent) > MAX_SENT_REMEMBERED:
            self.sent.popitem(last=False)

    def next_due(self, after: datetime) -> datetime | None:
        due = [
            t.received.due for t in self.tasks.values() if t.token is None and t.received.due and t.received.due > after
        ]
        return min(due) if due else None

    # -- locking -----------------------------------------------------------------------------

    async def lock_next(self, *, now: datetime, lock_timeout: timedelta) -> ActivityWorkItem | None:
        visibility = self.visibility = message_visibility(
            self.hub.settings.workitem_visibility, self.hub.settings, lock_timeout
        )
        if self._keeper is None:
            self._keeper = asyncio.create_task(self._keep_hidden(), name="activity-renew")
        task = self._pick(now)
        if task is None and self.schedule.due(self.queue):
            await self._receive(visibility)
            task = self._pick(now)
        while task is not None:
            try:
                return await self._hand_out(task, now, lock_timeout, visibility)
            except LockLostError:
                self.tasks.pop(task.received.id, None)
            task = self._pick(now)
        return None

    def _pick(self, now: datetime) -> Task | None:
        return next((t for t in self.tasks.values() if t.available(now)), None)

    async def _receive(self, visibility: timedelta) -> None:
        try:
            items = await self.hub.queues.receive(self.queue, self.hub.settings.workitem_batch_size, visibility)
        except ResourceNotFoundError:
            return  # the hub was deleted
        self.schedule.record(self.queue, bool(items))
        for item in items:
            self.sent.pop(item.id, None)
            if item.error is not None:
                await reject_unreadable(self.hub.queues, item, self.hub.settings.poison_threshold)
            elif item.id in self.tasks:
                known = self.tasks[item.id].received
                known.pop_receipt, known.next_visible_on = item.pop_receipt, item.next_visible_on
                known.dequeue_count = item.dequeue_count
            else:
                item.due = None
                self.tasks[item.id] = Task(item)

    async def _hand_out(self, task: Task, now: datetime, lock_timeout: timedelta, visibility: timedelta):
        received = task.received
        if self.clock.now() >= received.next_visible_on - _MARGIN:
            # Visible again in the queue (abandoned, or our visibility lapsed): take it back first.
            await self.hub.queues.hide(received, visibility)
        received.deliveries += 1
        count = max(received.dequeue_count, received.deliveries)
        if count >= self.hub.settings.poison_threshold:
            logger.warning(
                "Poison message detected: activity '%s' of instance '%s' (message %s) delivered %d times",
                getattr(received.message.event, "name", "?"),
                received.message.instance_id,
                received.id,
                count,
            )
        task.token, task.until = uuid.uuid4().hex, now + lock_timeout
        return ActivityWorkItem(
            id=received.id,
            lock_token=task.token,
            message=received.message,
            dequeue_count=count,
            locked_until=task.until,
        )

    async def _keep_hidden(self) -> None:
        """Renew the queue visibility of running tasks until their lock expires (in wall time)."""
        while True:
            await asyncio.sleep(max(0.5, self.visibility.total_seconds() / 3))
            now = self.clock.now()
            for task in list(self.tasks.values()):
                received = task.received
                running = task.token is not None and task.until is not None and task.until > now
                if not running or received.next_visible_on - now > self.visibility * 2 / 3:
                    continue
                try:
                    await self.hub.queues.hide(received, self.visibility)
                except LockLostError:
                    self.tasks.pop(received.id, None)  # taken by another worker: complete will say so
                except Exception:
                    logger.debug("renewing activity message %s failed; retrying", received.id, exc_info=True)

    async def stop(self) -> None:
        if self._keeper is not None:
            self._keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keeper
            self._keeper = None

    def _held(self, item: ActivityWorkItem) -> Task:
        task = self.tasks.get(item.id)
        if task is None or task.token != item.lock_token:
            raise LockLostError(f"Activity task {item.id}: the lock expired and was taken, or the task completed")
        return task

    # -- completing --------------------------------------------------------------------------

    async def complete(self, item: ActivityWorkItem, response: TaskMessage) -> None:
        task = self._held(item)
        received = task.received
        if self.clock.now() >= received.next_visible_on - _MARGIN:
            await self.hub.queues.hide(received, self.visibility)  # proves we still hold it
        scheduled = received.message
        sender = (scheduled.instance_id, scheduled.execution_id or "")
        episode = received.envelope.episode if received.envelope else None
        sent = await self.hub.queues.send(response, episode=episode, sender=sender)
        self.sessions.remember(sent)
        self.tasks.pop(item.id, None)
        await self.hub.queues.delete(received)
        self.on_work()

    async def abandon(self, item: ActivityWorkItem, *, retry_at: datetime | None) -> None:
        task = self.tasks.get(item.id)
        if task is None or task.token != item.lock_token:
            return
        task.token = task.until = None
        task.received.due = retry_at
        delay = (retry_at - self.clock.now()) if retry_at else timedelta(0)
        try:
            await self.hub.queues.hide(task.received, delay)
        except LockLostError:
            self.tasks.pop(item.id, None)
        self.on_work()

    async def renew(self, item: ActivityWorkItem, *, now: datetime, lock_timeout: timedelta) -> None:
        task = self._held(item)
        try:
            await self.hub.queues.hide(task.received, self.visibility)
        except LockLostError:
            self.tasks.pop(item.id, None)
            raise
        task.until = now + lock_timeout
        item.locked_until = task.until

    # -- purge and shutdown ------------------------------------------------------------------

    async def forget_instance(self, instance_id: str) -> None:
        """Delete the tasks of an instance this process knows of (best effort: others' are not seen)."""
        doomed = [t.received for t in self.tasks.values() if t.received.message.instance_id == instance_id]
        doomed += [r for r in self.sent.values() if r.instance_id == instance_id]
        for received in doomed:
            self.tasks.pop(received.id, None)
            self.sent.pop(received.id, None)
            with contextlib.suppress(LockLostError, ResourceNotFoundError):
                await self.hub.queues.delete(received)

    def clear(self) -> None:
        self.tasks.clear()
        self.sent.clear()

    async def release_all(self) -> None:
        """On shutdown, make unlocked buffered tasks visible at once for the other workers."""
        for task in list(self.tasks.values()):
            if task.token is None and task.received.due is None:
                try:
                    await self.hub.queues.hide(task.received, timedelta(0))
                except Exception as exc:
                    # It becomes visible when its visibility timeout lapses instead.
                    logger.warning("Handing back activity message %s at shutdown failed: %r", task.received.id, exc)
        self.tasks.clear()
