"""The Provider Protocol on Azure Storage, laid out as DurableTask.AzureStorage lays a task hub out.

Tables ``{Hub}Instances`` and ``{Hub}History``; queues ``{hub}-control-NN`` (one per partition,
FNV-1a of the instance id) and ``{hub}-workitems``; containers ``{hub}-leases`` and
``{hub}-largemessages`` (names and shapes from DTFx ``src/DurableTask.AzureStorage``; see :mod:`names`).
How the Protocol maps:

* an instance's inbox = its messages in its partition's control queue; only the worker leasing
  that partition dequeues it (:mod:`leases`, :mod:`polling`), into a per-instance buffer
  (:mod:`inbox`) from which :mod:`sessions` hands out work items; the activity queue =
  ``{hub}-workitems``, shared by every worker (:mod:`activities`);
* ``complete_orchestration`` = send → history append guarded by the sentinel ETag → Instances row
  → delete the consumed messages (:mod:`commit`); exactly once per episode thanks to the ETag;
* delays are the queue's message invisibility, never more than ``max_queue_delay`` per hop;
* a worker buffers the messages it sends itself and keeps what it committed (:mod:`cache`,
  checked against the sentinel ETag), so a lone worker rarely waits for a poll or re-reads;
* work items, locks and retry times are also tracked in memory by the caller's clock, so one
  provider object honours the contract's timing even with an injected clock.

Limits of the medium, stated once: a purge deletes only the pending queue messages this process
knows of (queues cannot be searched); other stale messages are dropped when they are dequeued,
as the instance no longer exists. ``next_visible_time`` reports only timers this worker holds.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta
from typing import Any, ParamSpec, TypeVar

from azure.core import MatchConditions
from azure.core.exceptions import AzureError, ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import UpdateMode

from durable_ext.core.clock import Clock, SystemClock
from durable_ext.core.events import ExecutionStarted, HistoryEvent
from durable_ext.core.messages import (
    ActivityWorkItem,
    InstancePage,
    InstanceQuery,
    InstanceState,
    OrchestrationCommit,
    OrchestrationWorkItem,
    TaskMessage,
)
from durable_ext.errors import InstanceExistsError, InvalidContinuationTokenError, LockLostError, ProviderError
from durable_ext.providers.azure_storage.activities import Activities
from durable_ext.providers.azure_storage.commit import Committer
from durable_ext.providers.azure_storage.hub import AzureHub
from durable_ext.providers.azure_storage.names import HubNames
from durable_ext.providers.azure_storage.sessions import Sessions
from durable_ext.providers.azure_storage.settings import AzureSettings
from durable_ext.providers.base import WorkSignal

logger = logging.getLogger("durable_ext.azure_storage")
_PURGE_CONCURRENCY = 8

P = ParamSpec("P")
R = TypeVar("R")


def _storage_errors(method: Callable[P, Coroutine[Any, Any, R]]) -> Callable[P, Coroutine[Any, Any, R]]:
    """The Protocol's error contract: an Azure SDK error (a failed request, a connection that does
    not come up) leaves the provider as ``ProviderError`` with the SDK's exception as its cause.
    ``ProviderError`` subclasses (``LockLostError``, ``InstanceExistsError``) pass unchanged."""

    @functools.wraps(method)
    async def checked(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await method(*args, **kwargs)
        except AzureError as exc:
            raise ProviderError(f"Azure Storage: {type(exc).__name__}: {exc}") from exc

    return checked


class AzureStorageProvider:
    """Task hub ``hub`` in the storage account of ``settings.connection_string``."""

    #: Partitions are leased: a dead worker's control queues come back when its leases expire.
    ownership_is_leased = True

    def __init__(self, hub: str, settings: AzureSettings, *, clock: Clock | None = None) -> None:
        self.hub = hub
        self.settings = settings
        self.clock = clock or SystemClock()
        self.names = HubNames(hub, settings.partition_count)
        self.work_signal = WorkSignal()
        self.storage = AzureHub(self.names, settings, self.clock)
        self.sessions = Sessions(self.storage, settings, self.clock, self.work_signal.notify)
        self.activities = Activities(self.storage, self.sessions, self.clock, self.work_signal.notify)
        self._committer = Committer(
            self.storage, self.sessions, self.clock, self.activities.remember_sent, self.work_signal.notify
        )
        self._deleted = False
        self._closed = False

    def __repr__(self) -> str:
        return f"AzureStorageProvider({self.hub!r}, partitions={self.names.partition_count})"

    # -- hub lifecycle -----------------------------------------------------------------------

    @_storage_errors
    async def create_hub(self) -> None:
        """Tables, queues, containers, lease blobs and ``taskhub.json``; idempotent, deletes nothing."""
        await asyncio.gather(self.storage.create(), self.sessions.leases.create())
        self._deleted = False

    @_storage_errors
    async def delete_hub(self) -> None:
        """Delete all of this hub's tables, queues and containers (only on request: CLI ``delete-hub``)."""
        await self.sessions.stop(release=False)
        await self.activities.stop()
        self._deleted = True
        self.sessions.reset()
        self.activities.clear()
        await self.storage.delete()

    @_storage_errors
    async def close(self) -> None:
        """Hand partitions and buffered messages back to the other workers, then close the clients."""
        if self._closed:
            return
        self._closed = True
        if not self._deleted:
            try:
                await asyncio.wait_for(self._release(), timeout=10)
            except Exception as exc:
                # Other workers take the partitions and messages over when leases and visibility lapse.
                logger.warning("Hub '%s': handing work back at shutdown failed: %r", self.hub, exc)
        await self.sessions.stop(release=False)  # in case the release did not finish
        await self.activities.stop()
        await self.storage.close()

    async def _release(self) -> None:
        await self.sessions.stop(release=True)
        await self.activities.release_all()
        for session in list(self.sessions.inbox.sessions.values()):
            for message in session.messages.values():
                if message.dequeue_count and (message.due is None or message.due <= self.clock.now()):
                    try:
                        await self.storage.queues.hide(message, timedelta(0))
                    except LockLostError:
                        pass  # gone already, or dequeued by another worker: nothing to hand back
                    except Exception as exc:
                        logger.warning("Handing back control message %s at shutdown failed: %r", message.id, exc)

    # -- clients -----------------------------------------------------------------------------

    @_storage_errors
    async def create_instance(
        self, start: TaskMessage, *, now: datetime, dedupe: bool = True, visible_at: datetime | None = None
    ) -> None:
        """Dedupe against the Instances row, enqueue the ExecutionStarted, then write the Pending row
        (DTFx ``CreateTaskOrchestrationAsync`` order; the worker retries a start whose row is late)."""
        event = start.event
        if not isinstance(event, ExecutionStarted):
            raise TypeError(f"create_instance needs an ExecutionStarted message, got {type(event).__name__}")
        existing = await self.storage.read_instance(start.instance_id, with_input=False)
        generation = 0
        if existing is not None:
            status = existing.state.runtime_status
            if dedupe and status.is_running:
                raise InstanceExistsError(f"An instance with ID '{start.instance_id}' already exists ({status.value}).")
            generation = int(existing.row.get("Generation") or 0) + 1
            await self._purge_contents(start.instance_id)
        sent = await self.storage.queues.send(start, visible_at=visible_at)
        self.sessions.remember(sent)
        # An oversized input is already in the message blob: the row points at it, as in DTFx.
        blob_urls = {event.input: self.storage.store.url(sent.blob_name)} if sent.blob_name and event.input else None
        entity = await self.storage.pending_entity(event, now, generation=generation, blob_urls=blob_urls)
        await self._write_pending(entity, existing.etag if existing else None)
        self.work_signal.notify()

    async def _write_pending(self, entity: dict, etag: str | None) -> None:
        # Insert, or Replace If-Match the row we deduped against; a worker that already wrote the
        # row (it processed the start first) wins, as in DTFx (409/412 swallowed).
        try:
            if etag is None:
                await self.storage.instances.create_entity(entity)
            else:
                await self.storage.instances.update_entity(
                    entity, mode=UpdateMode.REPLACE, etag=etag, match_condition=MatchConditions.IfNotModified
                )
        except ResourceModifiedError:
            logger.info(
                "Instance '%s': its row changed while being created; keeping the newer row", entity["PartitionKey"]
            )
        except ResourceNotFoundError:
            await self.storage.instances.upsert_entity(entity, mode=UpdateMode.REPLACE)
        except ResourceExistsError:
            logger.info("Instance '%s': a worker wrote its row first; keeping that row", entity["PartitionKey"])

    @_storage_errors
    async def send_message(self, message: TaskMessage, *, visible_at: datetime | None = None) -> None:
        sent = await self.storage.queues.send(message, visible_at=visible_at)
        self.sessions.remember(sent)
        self.work_signal.notify()

    @_storage_errors
    async def get_instance(self, instance_id: str) -> InstanceState | None:
        stored = await self.storage.read_instance(instance_id)
        return stored.state if stored else None

    @_storage_errors
    async def get_history(self, instance_id: str) -> list[HistoryEvent]:
        return await self.storage.get_history(instance_id)

    @_storage_errors
    async def query_instances(self, query: InstanceQuery) -> InstancePage:
        try:
            return await self.storage.query(query)
        except InvalidContinuationTokenError:
            raise
        except ValueError as exc:
            raise ProviderError(str(exc)) from exc

    @_storage_errors
    async def purge_instance(self, instance_id: str) -> int:
        existed = await self.storage.delete_instance_row(instance_id)
        await self._purge_contents(instance_id)
        return 1 if existed else 0

    @_storage_errors
    async def purge_instances(self, query: InstanceQuery) -> int:
        """Every match, page by page (keyset paging is stable while rows are deleted)."""
        total, token = 0, None
        limit = asyncio.Semaphore(_PURGE_CONCURRENCY)

        async def purge(instance_id: str) -> int:
            async with limit:
                return await self.purge_instance(instance_id)

        while True:
            page = await self.query_instances(
                InstanceQuery(
                    created_from=query.created_from,
                    created_to=query.created_to,
                    statuses=query.statuses,
                    instance_id_prefix=query.instance_id_prefix,
                    name=query.name,
                    page_size=max(query.page_size, 100),
                    continuation_token=token,
                    include_entities=query.include_entities,
                    include_input=False,
                )
            )
            total += sum(await asyncio.gather(*(purge(s.instance_id) for s in page.instances)))
            token = page.continuation_token
            if token is None:
                return total

    async def _purge_contents(self, instance_id: str) -> None:
        """History rows, known pending messages and tasks, and large-value blobs of an instance."""
        for message in self.sessions.forget(instance_id):
            try:
                await self.storage.queues.delete(message)
            except Exception as exc:
                # A message left behind is dropped when dequeued: its instance no longer exists.
                logger.warning("Purging '%s': deleting queue message %s failed: %r", instance_id, message.id, exc)
        await asyncio.gather(
            self.storage.delete_history(instance_id),
            self.activities.forget_instance(instance_id),
            self.storage.delete_blobs(instance_id),
        )

    # -- orchestration work ------------------------------------------------------------------

    @_storage_errors
    async def lock_next_orchestration(
        self, *, now: datetime, lock_timeout: timedelta, worker_id: str, entities: bool | None = None
    ) -> OrchestrationWorkItem | None:
        if self._deleted:
            return None
        return await self.sessions.lock_next(now=now, lock_timeout=lock_timeout, entities=entities)

    @_storage_errors
    async def complete_orchestration(
        self, item: OrchestrationWorkItem, commit: OrchestrationCommit, *, now: datetime
    ) -> None:
        await self._committer.complete(item, commit)

    @_storage_errors
    async def abandon_orchestration(self, item: OrchestrationWorkItem) -> None:
        inbox = self.sessions.inbox
        if inbox.holds(item.instance_id, item.lock_token):
            session = inbox.sessions[item.instance_id]
            assert session.lock is not None
            messages = [m for m in map(inbox.get, session.lock.message_ids) if m]
            self.sessions.back_off(messages, failed=True, now=self.clock.now())
            inbox.release(item.instance_id, item.lock_token, [])
        self.work_signal.notify()

    @_storage_errors
    async def renew_orchestration_lock(
        self, item: OrchestrationWorkItem, *, now: datetime, lock_timeout: timedelta
    ) -> None:
        await self.sessions.renew(item, now=now, lock_timeout=lock_timeout)

    # -- activity work -----------------------------------------------------------------------

    @_storage_errors
    async def lock_next_activity(
        self, *, now: datetime, lock_timeout: timedelta, worker_id: str
    ) -> ActivityWorkItem | None:
        if self._deleted:
            return None
        return await self.activities.lock_next(now=now, lock_timeout=lock_timeout)

    @_storage_errors
    async def complete_activity(self, item: ActivityWorkItem, response: TaskMessage) -> None:
        await self.activities.complete(item, response)

    @_storage_errors
    async def abandon_activity(self, item: ActivityWorkItem, *, retry_at: datetime | None = None) -> None:
        await self.activities.abandon(item, retry_at=retry_at)

    @_storage_errors
    async def renew_activity_lock(self, item: ActivityWorkItem, *, now: datetime, lock_timeout: timedelta) -> None:
        await self.activities.renew(item, now=now, lock_timeout=lock_timeout)

    # -- scheduling hints --------------------------------------------------------------------

    @_storage_errors
    async def next_visible_time(self, now: datetime | None = None) -> datetime | None:
        """The earliest timer or retry after ``now`` this worker holds in memory (others are polled for)."""
        after = now or self.clock.now()
        due = [d for d in (self.sessions.next_due(after), self.activities.next_due(after)) if d is not None]
        return min(due) if due else None

    @_storage_errors
    async def release_abandoned_locks(self, is_abandoned: Callable[[str], bool]) -> int:
        """Nothing to do: a dead worker's partitions and queue messages come back when its lease and
        their visibility expire (locks are leases here, not rows)."""
        return 0
