"""Dequeuing: when to poll a queue, what to do with what arrives
(DTFx ``AzureStorage/Messaging/ControlQueue.cs``, ``BackoffPollingHelper.cs``).

* Idle back-off as DTFx's ``BackoffPollingHelper``: after an empty dequeue a queue is polled again
  after 50 ms, doubling up to the maximum polling interval; any message resets it. A worker's own
  messages need no poll (they are buffered as they are sent), so the interval is only the
  latency of messages from other processes.
* An unreadable message is hidden for ``min(2^DequeueCount, 600)`` s, reported (as poison from
  the threshold on) with its queue and instance id, and never deleted — DTFx's behaviour.
* A message that arrives before its due time (its delay was capped at the queue maximum) is
  hidden again for the rest, up to the maximum: a timer "hops" until it is due.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import timedelta

from azure.core.exceptions import ResourceNotFoundError

from durable_ext.core.clock import Clock
from durable_ext.errors import LockLostError
from durable_ext.providers.azure_storage.hub import AzureHub
from durable_ext.providers.azure_storage.inbox import Inbox
from durable_ext.providers.azure_storage.leases import PartitionManager
from durable_ext.providers.azure_storage.queues import HubQueues, Received
from durable_ext.providers.azure_storage.settings import AzureSettings

logger = logging.getLogger("durable_ext.azure_storage")
FIRST_BACKOFF = 0.05
#: Future messages (timers) kept in memory; farther ones wait hidden in their queue.
MAX_FUTURE_IN_MEMORY = 10_000


class PollSchedule:
    """Per-queue idle back-off; keys are partitions or queue names."""

    def __init__(self, max_interval: float) -> None:
        self.max_interval = max_interval
        self._next: dict[object, float] = {}
        self._delay: dict[object, float] = {}

    def due(self, key: object) -> bool:
        return time.monotonic() >= self._next.get(key, 0.0)

    def record(self, key: object, got_messages: bool) -> None:
        delay = 0.0 if got_messages else min(max(self._delay.get(key, 0.0) * 2, FIRST_BACKOFF), self.max_interval)
        self._delay[key] = delay
        self._next[key] = time.monotonic() + delay

    def reset(self, key: object) -> None:
        self._delay.pop(key, None)
        self._next.pop(key, None)

    def seconds_until_due(self, keys) -> float:
        """Seconds until the first of ``keys`` is due (0 if one is; the maximum interval if none)."""
        now = time.monotonic()
        waits = [self._next.get(key, 0.0) - now for key in keys]
        return max(0.0, min(waits)) if waits else self.max_interval


async def reject_unreadable(queues: HubQueues, item: Received, poison_threshold: int) -> None:
    """Back off an unreadable message and report it; it stays in its queue."""
    delay = min(2**item.dequeue_count, 600)
    poison = item.dequeue_count >= poison_threshold
    logger.log(
        logging.WARNING if poison else logging.INFO,
        "%s message %s in %s (instance '%s') cannot be read (dequeued %d times): %s; retrying in %d s",
        "Poison" if poison else "Unreadable",
        item.id,
        item.queue,
        item.instance_hint or "?",
        item.dequeue_count,
        item.error,
        delay,
    )
    with contextlib.suppress(LockLostError, ResourceNotFoundError):
        await queues.hide(item, timedelta(seconds=delay))


class ControlPoller:
    """Dequeues the control queues of the partitions this worker owns into the inbox."""

    def __init__(
        self,
        hub: AzureHub,
        settings: AzureSettings,
        clock: Clock,
        inbox: Inbox,
        leases: PartitionManager,
        hand_back: Callable[[list[Received]], None],
    ) -> None:
        self.hub = hub
        #: Makes messages of a partition this worker no longer owns visible to its new owner now.
        self.hand_back = hand_back
        self.settings = settings
        self.clock = clock
        self.inbox = inbox
        self.leases = leases
        self.schedule = PollSchedule(settings.max_polling_interval.total_seconds())
        self._lock = asyncio.Lock()
        self.last_poll = 0.0
        #: Early arrivals hidden again until due (timers longer than the maximum queue delay).
        self.hops = 0

    async def poll(self, visibility: timedelta) -> int:
        """One dequeue (≤ 32 messages, hidden for ``visibility``) per owned partition that is due;
        returns how many new messages were buffered."""
        added = 0
        async with self._lock:
            self.last_poll = time.monotonic()
            partitions = [
                p
                for p in self.leases.partitions
                if self.schedule.due(p) and self.inbox.count(p) < self.settings.control_buffer_threshold
            ]
            results = await asyncio.gather(
                *(
                    self.hub.queues.receive(
                        self.hub.names.control_queue(p), self.settings.control_batch_size, visibility
                    )
                    for p in partitions
                ),
                return_exceptions=True,
            )
            for partition, result in zip(partitions, results, strict=True):
                if isinstance(result, ResourceNotFoundError):
                    continue  # the hub was deleted under us
                if isinstance(result, BaseException):
                    logger.warning("Dequeue from %s failed: %s", self.hub.names.control_queue(partition), result)
                    continue
                self.schedule.record(partition, bool(result))
                if not self.leases.owns(partition):
                    # Lost while the dequeue was in flight: buffered here, these would stay hidden
                    # from the new owner until their visibility lapsed.
                    self.hand_back([item for item in result if item.error is None])
                    continue
                for item in result:
                    added += await self._accept(item, partition)
            self.hand_back(self.inbox.evict(set(self.leases.owned), MAX_FUTURE_IN_MEMORY, self.clock.now()))
        return added

    async def run(self, visibility: timedelta, on_work) -> None:
        """Background dequeue loop (DTFx's per-queue ``DequeueLoop``): poll each owned partition on
        its back-off schedule and wake the dispatchers when messages arrive from other processes."""
        while True:
            await asyncio.sleep(max(0.01, self.schedule.seconds_until_due(self.leases.partitions)))
            try:
                if await self.poll(visibility):
                    on_work()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("Polling the control queues of hub '%s' failed", self.hub.names.hub, exc_info=True)
                await asyncio.sleep(self.schedule.max_interval)

    async def _accept(self, item: Received, partition: int) -> int:
        if item.id in self.inbox.consumed:
            self.inbox.consumed.pop(item.id, None)
            with contextlib.suppress(LockLostError, ResourceNotFoundError):
                await self.hub.queues.delete(item)
            return 0
        if item.error is not None:
            await reject_unreadable(self.hub.queues, item, self.settings.poison_threshold)
            return 0
        now = self.clock.now()
        if item.due is not None and item.due - now > timedelta(seconds=1):
            with contextlib.suppress(LockLostError):
                await self.hub.queues.hide(item, item.due - now)
                self.hops += 1
        return int(self.inbox.add(item, partition))
